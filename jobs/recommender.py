"""Ranking for the local recommender, the replacement of Spotify's closed /recommendations."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from jobs.clustering import (
    CLUSTER_FEATURES,
    Clustering,
    ClusterSummary,
    feature_matrix,
    mean_and_spread,
    usable_track_ids,
)

ARTIST = "artist"
CO_LISTENERS = "co-listeners"
# Recent taste says most about what to play next.
RANGE_WEIGHTS: dict[str, float] = {"short_term": 3.0, "medium_term": 2.0, "long_term": 1.0}
FREQUENCY_WEIGHT = 2.0  # an artist on every one of the user's tracks counts like a #1 this month
FIT_WEIGHT, AFFINITY_WEIGHT, SUPPORT_WEIGHT = 0.5, 0.3, 0.2
# An unknown sound is scored like an average match: neither rewarded nor buried.
NEUTRAL_FIT = 0.5
# Within one standard deviation (RMS over features) of a centroid: close enough to say "fits".
FITS_DISTANCE = 1.0


@dataclass(frozen=True)
class Candidate:
    track_id: str
    artist_ids: tuple[str, ...]
    artist_names: tuple[str, ...]
    origin: str
    seed_name: str
    support: float = 1.0
    features: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Pick:
    track_id: str
    reason: str
    score: float


@dataclass(frozen=True)
class _Fit:
    closeness: float
    cluster: ClusterSummary | None


@dataclass(frozen=True)
class _Scored:
    candidate: Candidate
    score: float
    reason: str


def artist_affinity(
    top_artist_ids_by_range: Mapping[str, Sequence[str]],
    track_artist_ids: Sequence[Sequence[str]],
) -> dict[str, float]:
    """Artist id -> affinity in [0, 1] from top-artist ranks and presence in the user's tracks."""
    weights: dict[str, float] = defaultdict(float)
    for time_range, artist_ids in top_artist_ids_by_range.items():
        range_weight = RANGE_WEIGHTS.get(time_range, 1.0)
        for rank, artist_id in enumerate(artist_ids):
            weights[artist_id] += range_weight * (len(artist_ids) - rank) / len(artist_ids)
    counts = Counter(a for artists in track_artist_ids for a in dict.fromkeys(artists))
    most = max(counts.values(), default=0)
    for artist_id, count in counts.items():
        weights[artist_id] += FREQUENCY_WEIGHT * count / most
    top = max(weights.values(), default=0.0)
    return {artist_id: round(w / top, 6) for artist_id, w in sorted(weights.items()) if top > 0}


class _TasteSpace:
    """The user's standardised feature space and the clusters in it."""

    def __init__(
        self, clustering: Clustering | None, user_features: Mapping[str, Mapping[str, float]]
    ) -> None:
        clusters = clustering.clusters if clustering else ()
        ids = usable_track_ids(user_features)
        self.active = bool(clusters) and len(ids) >= 2
        raw = feature_matrix(user_features, ids) if self.active else np.zeros((1, 1))
        self._mean, std = mean_and_spread(raw)
        self._std = np.where(std > 0, std, 1.0)
        self._clusters = clusters
        self._centres = [self._scale(c.centroid) for c in clusters]
        largest = max((c.size for c in clusters), default=1)
        self._weights = [0.5 + 0.5 * c.size / largest for c in clusters]

    def fit(self, features: Mapping[str, float] | None) -> _Fit:
        """Closeness to the nearest centroid, weighted by how big that cluster is."""
        if not self.active or features is None or not usable_track_ids({"": features}):
            return _Fit(NEUTRAL_FIT, None)
        point = self._scale(features)
        rms = [float(np.sqrt(np.mean((point - c) ** 2))) for c in self._centres]
        nearest = min(range(len(rms)), key=lambda i: (rms[i], i))
        closeness = self._weights[nearest] / (1.0 + rms[nearest])
        cluster = self._clusters[nearest] if rms[nearest] <= FITS_DISTANCE else None
        return _Fit(closeness, cluster)

    def _scale(self, values: Mapping[str, float]) -> NDArray[np.float64]:
        point = np.array([float(values[name]) for name in CLUSTER_FEATURES])
        return np.asarray((point - self._mean) / self._std, dtype=np.float64)


def rank_candidates(
    candidates: Iterable[Candidate],
    *,
    exclude: Set[str],
    clustering: Clustering | None,
    user_features: Mapping[str, Mapping[str, float]],
    affinity: Mapping[str, float],
    limit: int = 50,
    per_artist_cap: int = 2,
) -> list[Pick]:
    """The best `limit` new tracks, spread across artists, each with a human reason."""
    eligible = [c for c in candidates if c.track_id not in exclude]
    space = _TasteSpace(clustering, user_features)
    single = _max_support(eligible)
    merged = _merge_duplicates(eligible, lambda c: _score(c, space, affinity, single).score)
    top_support = _max_support(merged)
    scored = [_score(c, space, affinity, top_support) for c in merged]
    scored.sort(key=lambda s: (-s.score, s.candidate.track_id))
    return [
        Pick(s.candidate.track_id, s.reason, round(s.score, 4))
        for s in _diversify(scored, limit, per_artist_cap)
    ]


def _max_support(candidates: Sequence[Candidate]) -> float:
    return max((c.support for c in candidates), default=1.0)


def _merge_duplicates(
    candidates: Sequence[Candidate], score: Callable[[Candidate], float]
) -> list[Candidate]:
    """One candidate per track: the best-scoring reason, support summed, features kept."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.track_id, []).append(candidate)
    merged = []
    for group in groups.values():
        best = min(group, key=lambda c: (-score(c), c.origin, c.seed_name))
        features = next((c.features for c in group if c.features is not None), None)
        support = math.fsum(c.support for c in group)
        merged.append(dataclasses.replace(best, support=support, features=features))
    return merged


def _score(
    candidate: Candidate, space: _TasteSpace, affinity: Mapping[str, float], max_support: float
) -> _Scored:
    fit = space.fit(candidate.features)
    liked = max((affinity.get(a, 0.0) for a in candidate.artist_ids), default=0.0)
    # Log scale: the tenth co-listener adds less than the second.
    support = math.log1p(max(candidate.support, 0.0)) / math.log1p(max(max_support, 1e-9))
    total = FIT_WEIGHT * fit.closeness + AFFINITY_WEIGHT * liked + SUPPORT_WEIGHT * support
    return _Scored(candidate, total, _reason(candidate, fit.cluster))


def _reason(candidate: Candidate, cluster: ClusterSummary | None) -> str:
    if candidate.origin == CO_LISTENERS:
        reason = f"listeners of '{candidate.seed_name}' also play this"
    else:
        reason = f"because you listen to {candidate.seed_name}"
    return reason if cluster is None else f"{reason} · fits your '{cluster.label}' mix"


def _diversify(scored: Sequence[_Scored], limit: int, cap: int) -> list[_Scored]:
    """At most `cap` picks per artist first; then the cap is relaxed to fill up to `limit`."""
    per_artist: Counter[str] = Counter()
    first: list[_Scored] = []
    held_back: list[_Scored] = []
    for item in scored:
        artists = item.candidate.artist_ids or (item.candidate.track_id,)
        if len(first) < limit and all(per_artist[a] < cap for a in artists):
            first.append(item)
            per_artist.update(artists)
        else:
            held_back.append(item)
    return (first + held_back)[: max(limit, 0)]
