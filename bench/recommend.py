"""recommend: the offline evaluation over the emulator's world (development mode), with
Spotify's own list (what an extended-quota app gets) reported beside ours, and the ranking's
time at 2,000 candidates.

Targets (issue 14): >= 40% of picks by artists new to the user, >= 80% within the user's
true styles, hit rate at 50 >= 2x the best baseline, ranking <= 50 ms per user.
"""

from __future__ import annotations

import dataclasses
import time

from threadpoolctl import threadpool_limits

from bench.measure import Report, Target, percentile
from bench.recommend_world import spotify_method, world_corpus
from jobs.recommend.evaluation import OURS, Row, baselines, evaluate, ours, user_cases
from jobs.recommend.offline import Corpus, offline_candidates, row_candidate
from jobs.recommend.protocol import CSV
from jobs.recommend.ranking import RankingOptions, rank_candidates
from jobs.recommend.taste import TasteSpace
from spotify_emulator import World

NAME = "recommend"
SPOTIFY_EXTENDED = "spotify (extended)"
NOVELTY, IN_STYLE, HIT_RATIO, RANKING_MS = 0.4, 0.8, 2.0, 50.0


@dataclasses.dataclass(frozen=True)
class Params:
    sizes: tuple[int, ...] = (100, 1000)
    k: int = 50
    candidates: int = 2000
    ranking_rounds: int = 20
    seed: int = 7


TINY = Params(sizes=(4,), candidates=200, ranking_rounds=2)


def run(params: Params = Params()) -> Report:
    """Evaluate at each world size; targets are checked on the largest."""
    report = Report(
        NAME,
        f"offline evaluation at k={params.k} over the emulator's world; "
        "hidden: each user's latest fifth of plays, saves and playlist adds",
        (
            "users",
            "method",
            f"hit@{params.k}",
            f"recall@{params.k}",
            "novelty",
            "in style",
            "diversity",
            "coverage",
            "ms/user",
        ),
    )
    # Clustering is single-threaded per user; OpenMP threads only fight on a shared machine.
    with threadpool_limits(1):
        rows: list[Row] = []
        for size in params.sizes:
            rows = _evaluate(World.generate(seed=params.seed, users=size), params)
            report.rows += [(str(size), *_cells(row)) for row in rows]
        ranking = _ranking_ms(world_corpus(World.generate(seed=params.seed, users=2)), params)
    report.rows.append(
        ("-", f"ranking {params.candidates} candidates", *["-"] * 6, f"{ranking:.1f}")
    )
    report.targets += _targets(rows, ranking)
    return report


def _evaluate(world: World, params: Params) -> list[Row]:
    corpus = world_corpus(world)
    methods = {
        OURS: ours(corpus, params.k),
        **baselines(corpus, params.k),
        SPOTIFY_EXTENDED: spotify_method(world, params.k),
    }
    return evaluate(corpus, methods, k=params.k)


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.method,
        f"{row.hit_rate:.3f}",
        f"{row.recall:.3f}",
        f"{row.novelty:.2f}",
        f"{row.in_style:.2f}",
        f"{row.diversity:.2f}",
        f"{row.coverage:.3f}",
        f"{row.ms_per_user:.1f}",
    )


def _targets(rows: list[Row], ranking_ms: float) -> list[Target]:
    by_method = {row.method: row for row in rows}
    mine = by_method[OURS]
    best = max((r.hit_rate for r in rows if r.method not in (OURS, SPOTIFY_EXTENDED)), default=0.0)
    return [
        Target("novelty / 0.4", mine.novelty / NOVELTY, 1.0),
        Target("in style / 0.8", mine.in_style / IN_STYLE, 1.0),
        Target("hit rate / best baseline's", mine.hit_rate / best if best else 0.0, HIT_RATIO),
        Target("50 ms / ranking time", RANKING_MS / ranking_ms, 1.0),
    ]


def _ranking_ms(corpus: Corpus, params: Params) -> float:
    """Median wall time of one ranking over `candidates` candidates for the first user."""
    case = next(user_cases(corpus, None))
    taste = case.profile.taste
    candidates = offline_candidates(corpus, taste, case.co_listened)
    rows = iter(range(len(corpus.index.track_ids)))
    while len(candidates) < params.candidates:
        candidates.append(row_candidate(corpus, next(rows), CSV, "padding"))
    candidates = candidates[: params.candidates]
    space = TasteSpace(taste.clustering, taste.user_features)
    options = RankingOptions(limit=params.k)
    timings = []
    for _ in range(params.ranking_rounds):
        started = time.perf_counter()
        rank_candidates(
            candidates,
            exclude=taste.own_track_ids,
            space=space,
            affinity=taste.affinity,
            options=options,
        )
        timings.append(time.perf_counter() - started)
    return 1000 * percentile(timings, 0.5)
