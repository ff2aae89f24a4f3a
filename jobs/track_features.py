"""Audio features of any tracks, for profiles: stored ones first, then the feature sources."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from db import catalogue
from db.database import Database
from jobs.clustering import CLUSTER_FEATURES, feature_matrix, usable_track_ids
from jobs.features import FeatureSource, collect_features

# track id -> (the twelve features, the source that supplied them)
Features = dict[str, tuple[dict[str, float], str]]
FeatureSources = Callable[[], Sequence[FeatureSource]]


async def features_of(
    database: Database, sources: FeatureSources, track_ids: Sequence[str]
) -> Features:
    """Every track's features: from the catalogue, else asked of the sources and stored."""
    found: Features = await database.run(catalogue.stored_features, track_ids)
    missing = [track_id for track_id in dict.fromkeys(track_ids) if track_id not in found]
    if missing:
        fetched = await collect_features(sources(), missing)
        await database.run(catalogue.store_features, fetched)
        found.update(fetched)
    return found


def feature_profile(features: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, spread (population standard deviation), minimum and maximum of each feature."""
    track_ids = usable_track_ids(features)
    if not track_ids:
        return {}
    raw = feature_matrix(features, track_ids)
    return {
        name: {
            "mean": round(float(raw[:, i].mean()), 4),
            "std": round(float(raw[:, i].std()), 4),
            "min": round(float(raw[:, i].min()), 4),
            "max": round(float(raw[:, i].max()), 4),
        }
        for i, name in enumerate(CLUSTER_FEATURES)
    }


def features_summary(track_ids: Sequence[str], features: Features) -> dict[str, Any]:
    """How many tracks have features, from which sources, and their feature profile."""
    mine = {t: features[t] for t in dict.fromkeys(track_ids) if t in features}
    sources = Counter(source for _, source in mine.values())
    return {
        "tracks": len(set(track_ids)),
        "tracks_with_features": len(mine),
        "sources": dict(sorted(sources.items())),
        "profile": feature_profile({t: values for t, (values, _) in mine.items()}),
    }
