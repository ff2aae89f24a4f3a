"""analysis: one user's clustering plus ranking, at 50 to 2,000 tracks per user.

What a snapshot computes for a user after the Spotify calls: K-means with k chosen by
silhouette over the user's tracks (`jobs.clustering.cluster_tracks`), the taste space, and
the ranking of the candidates (`jobs.recommend.ranking.rank_candidates`, 150 of them, as
the pipeline gathers). Tracks and their features come from the emulator's world, so the
clusters are as separable as real styles are there.

Times are CPU time (`time.process_time`): this machine is shared, and the wall time of a
computation mostly measures waiting for a core. The target: <= 50 ms at 500 tracks.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Mapping, Sequence

from bench.measure import Report, Target, percentile
from jobs.clustering import cluster_tracks
from jobs.recommend.protocol import Candidate
from jobs.recommend.ranking import RankingOptions, rank_candidates
from jobs.recommend.taste import TasteSpace
from spotify_emulator import World

NAME = "analysis"
TARGET_TRACKS = 500
TARGET_MS = 50.0
CANDIDATES = 150
RECOMMENDATIONS = 50


@dataclasses.dataclass(frozen=True)
class Params:
    sizes: tuple[int, ...] = (50, 100, 250, 500, 1000, 2000)
    rounds: int = 7
    seed: int = 7


TINY = Params(sizes=(50, 500), rounds=1)


@dataclasses.dataclass(frozen=True)
class Case:
    """One user's tracks with features, the artists they like, and candidates to rank."""

    features: dict[str, dict[str, float]]
    affinity: dict[str, float]
    candidates: list[Candidate]


def _case(world: World, size: int, rng: random.Random) -> Case:
    ids = sorted(world.features)
    rng.shuffle(ids)
    own, others = ids[:size], ids[size : size + CANDIDATES]
    features = {t: {k: float(v) for k, v in world.features[t].items()} for t in own}
    affinity: dict[str, float] = {}
    for track_id in own:
        for artist_id in world.tracks[track_id].artist_ids:
            affinity[artist_id] = affinity.get(artist_id, 0.0) + 1.0 / size
    candidates = [
        Candidate(
            track_id=t,
            artist_ids=tuple(world.tracks[t].artist_ids),
            artist_names=tuple(world.artists[a].name for a in world.tracks[t].artist_ids),
            origin="csv",
            seed_name="bench",
            features={k: float(v) for k, v in world.features[t].items()},
            popularity=float(world.tracks[t].popularity),
        )
        for t in others
    ]
    return Case(features, affinity, candidates)


def analyse(case: Case) -> int:
    """Cluster, build the taste space, rank: the pipeline's work after Spotify answered."""
    clustering = cluster_tracks(case.features)
    space = TasteSpace(clustering, case.features)
    picks = rank_candidates(
        case.candidates,
        exclude=frozenset(case.features),
        space=space,
        affinity=case.affinity,
        options=RankingOptions(limit=RECOMMENDATIONS),
    )
    return len(clustering.clusters) + len(picks)


def _cpu_ms(case: Case, rounds: int) -> tuple[float, float, int]:
    cpu, wall = [], []
    clusters = 0
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        clusters = analyse(case)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return 1000 * percentile(cpu, 0.5), 1000 * percentile(wall, 0.5), clusters


def run(params: Params = Params()) -> Report:
    """Each size's median CPU and wall ms; the target is read at 500 tracks."""
    report = Report(
        NAME,
        "clustering plus ranking per user (CPU time)",
        ("tracks", "cpu ms", "wall ms", "clusters + picks"),
    )
    world = World.generate(seed=params.seed)
    rng = random.Random(params.seed)
    analyse(_case(world, min(params.sizes), rng))  # imports and first-call costs, not measured
    measured: dict[int, float] = {}
    for size in params.sizes:
        cpu, wall, produced = _cpu_ms(_case(world, size, rng), params.rounds)
        measured[size] = cpu
        report.rows.append((str(size), f"{cpu:.1f}", f"{wall:.1f}", str(produced)))
    at = _nearest(measured, TARGET_TRACKS)
    report.targets.append(Target(f"50 ms / CPU ms at {at} tracks", TARGET_MS / measured[at], 1.0))
    report.notes.append(
        f"{CANDIDATES} candidates ranked into {RECOMMENDATIONS} picks; median of "
        f"{params.rounds} rounds; features from the emulator's world (seed {params.seed})"
    )
    return report


def _nearest(measured: Mapping[int, float], size: int) -> int:
    return min(measured, key=lambda s: abs(s - size))


def sizes_of(report: Report) -> Sequence[str]:
    """The sizes a report measured (for tests)."""
    return [row[0] for row in report.rows]
