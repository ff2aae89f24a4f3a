"""What changed between two snapshots: movements within a ranked list, and how clusters moved.

Pure functions over what `db.changes` and `db.queries` read, so every rule is testable alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from jobs.clustering import CLUSTER_FEATURES
from spotify_models import FEATURE_RANGES


@dataclasses.dataclass(frozen=True)
class Movement:
    """One item of a list: its rank in each snapshot (None where it was absent)."""

    item_id: str
    rank: int | None
    previous_rank: int | None

    @property
    def change(self) -> int | None:
        """Places gained (positive) or lost (negative); None for new and dropped items."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


@dataclasses.dataclass(frozen=True)
class ListChanges:
    new: tuple[Movement, ...]
    risers: tuple[Movement, ...]
    fallers: tuple[Movement, ...]
    dropped: tuple[Movement, ...]
    unchanged: int


def compare_ranks(before: Mapping[str, int], after: Mapping[str, int]) -> ListChanges:
    """New entries by rank, risers and fallers by how far they moved, drop-outs by old rank."""
    moves = [Movement(i, after.get(i), before.get(i)) for i in sorted({*before, *after})]
    new = [m for m in moves if m.previous_rank is None]
    dropped = [m for m in moves if m.rank is None]
    kept = [m for m in moves if m.change is not None]
    risers = [m for m in kept if (m.change or 0) > 0]
    fallers = [m for m in kept if (m.change or 0) < 0]
    return ListChanges(
        new=tuple(sorted(new, key=lambda m: m.rank or 0)),
        risers=tuple(sorted(risers, key=lambda m: (-(m.change or 0), m.rank or 0))),
        fallers=tuple(sorted(fallers, key=lambda m: (m.change or 0, m.rank or 0))),
        dropped=tuple(sorted(dropped, key=lambda m: m.previous_rank or 0)),
        unchanged=sum(1 for m in kept if m.change == 0),
    )


def _scale(feature: str) -> float:
    # Features differ in units (tempo in BPM, loudness in dB): distances use each one's range.
    low, high = FEATURE_RANGES[feature]
    return float(high - low)


def _shared_features(clusters: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f for f in CLUSTER_FEATURES if all(f in c["centroid"] for c in clusters)]


def centroid_distance(
    a: Mapping[str, float], b: Mapping[str, float], features: Sequence[str]
) -> float:
    """Euclidean distance with each feature divided by the width of its range (0 to ~1 each)."""
    return math.sqrt(sum(((a[f] - b[f]) / _scale(f)) ** 2 for f in features))


def _pairs(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]], features: Sequence[str]
) -> list[tuple[int, int, float]]:
    """Closest pairs first, each cluster in at most one pair (deterministic on ties)."""
    candidates = sorted(
        (centroid_distance(b["centroid"], a["centroid"], features), i, j)
        for i, b in enumerate(before)
        for j, a in enumerate(after)
    )
    taken_before: set[int] = set()
    taken_after: set[int] = set()
    pairs = []
    for distance, i, j in candidates:
        if i not in taken_before and j not in taken_after:
            taken_before.add(i)
            taken_after.add(j)
            pairs.append((i, j, distance))
    return sorted(pairs, key=lambda pair: pair[1])


def _summary(cluster: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": cluster["id"], "label": cluster["label"], "size": cluster["size"]}


def _move(
    before: Mapping[str, Any], after: Mapping[str, Any], distance: float, features: Sequence[str]
) -> dict[str, Any]:
    shift = {f: round(after["centroid"][f] - before["centroid"][f], 4) for f in features}
    return {
        "from": _summary(before),
        "to": _summary(after),
        "distance": round(distance, 4),
        "shift": shift,
    }


def _mean(clusters: Sequence[Mapping[str, Any]], features: Sequence[str]) -> dict[str, float]:
    """The mean of every clustered track: the centroids weighted by cluster size."""
    total = sum(c["size"] for c in clusters)
    return {f: sum(c["centroid"][f] * c["size"] for c in clusters) / total for f in features}


def _taste_shift(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]], features: Sequence[str]
) -> dict[str, dict[str, float]]:
    old, new = _mean(before, features), _mean(after, features)
    return {
        f: {"from": round(old[f], 4), "to": round(new[f], 4), "change": round(new[f] - old[f], 4)}
        for f in features
    }


def cluster_moves(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """How the taste profile moved: matched clusters and their shift, the ones that appeared
    or faded, and the shift of the overall mean. Clusters are `db.queries.clusters` dicts."""
    if not before or not after:
        missing = "earlier" if not before else "later"
        return {
            "moves": [],
            "appeared": [_summary(c) | {"centroid": c["centroid"]} for c in after],
            "faded": [_summary(c) | {"centroid": c["centroid"]} for c in before],
            "mean": {},
            "note": f"the {missing} snapshot has no clusters; nothing to match",
        }
    features = _shared_features([*before, *after])
    pairs = _pairs(before, after, features)
    matched_before = {i for i, _, _ in pairs}
    matched_after = {j for _, j, _ in pairs}
    return {
        "moves": [_move(before[i], after[j], d, features) for i, j, d in pairs],
        "appeared": [
            _summary(c) | {"centroid": c["centroid"]}
            for j, c in enumerate(after)
            if j not in matched_after
        ],
        "faded": [
            _summary(c) | {"centroid": c["centroid"]}
            for i, c in enumerate(before)
            if i not in matched_before
        ],
        "mean": _taste_shift(before, after, features),
        "note": None,
    }
