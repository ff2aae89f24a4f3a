"""K-means on a user's tracks: groups of similar sound, each named by what stands out."""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spotify_models import AUDIO_FEATURE_NAMES

# numpy (17 of a fresh `serve`'s 87 MB) is imported inside the functions that compute, as
# scikit-learn is: the composition root imports this module, and a serving process that
# never snapshots should not carry it (issue #10).
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


logger = logging.getLogger(__name__)

# key, mode and time_signature are categorical: their means say nothing about a sound.
CATEGORICAL_FEATURES = frozenset({"key", "mode", "time_signature"})
CLUSTER_FEATURES: tuple[str, ...] = tuple(
    name for name in AUDIO_FEATURE_NAMES if name not in CATEGORICAL_FEATURES
)
# Words for a cluster mean above / below the user's average on each feature.
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "danceability": ("danceable", "unhurried"),
    "energy": ("high energy", "mellow"),
    "loudness": ("loud", "quiet"),
    "speechiness": ("wordy", "melodic"),
    "acousticness": ("acoustic", "electronic"),
    "instrumentalness": ("instrumental", "vocal"),
    "liveness": ("live", "studio"),
    "valence": ("upbeat", "melancholic"),
    "tempo": ("fast", "slow"),
}
LABEL_THRESHOLD = 0.5  # in standard deviations of the user's own tracks
BALANCED = "balanced"
# k-means++ restarts per k. Against 10 (scikit-learn's old default) on the emulator's users
# and on the same users' features with noise added, 3 found the same clusterings and a mean
# inertia within 0.5% (worst case 12%, once), for 45% less clustering CPU (BENCHMARKS.md).
_N_INIT = 3
_SILHOUETTE_SAMPLE = 2000  # silhouette is quadratic; a sample keeps huge libraries cheap


@dataclass(frozen=True)
class ClusterSummary:
    label: str
    size: int
    centroid: dict[str, float]
    track_ids: tuple[str, ...]


@dataclass(frozen=True)
class Clustering:
    clusters: tuple[ClusterSummary, ...]
    note: str | None


def cluster_tracks(
    features: Mapping[str, Mapping[str, float]],
    *,
    min_tracks: int = 10,
    max_k: int = 6,
    seed: int = 0,
) -> Clustering:
    """Cluster the tracks with usable features; k is chosen by silhouette score."""
    import numpy as np

    track_ids = usable_track_ids(features)
    too_few = _too_few_note(len(track_ids), max(min_tracks, 3))
    if too_few:
        return Clustering((), too_few)
    raw = feature_matrix(features, track_ids)
    distinct = len(np.unique(raw, axis=0))
    if distinct < 2:
        return Clustering((), f"all {len(track_ids)} tracks sound the same; nothing to cluster")
    # scikit-learn takes a second to import: only a snapshot that clusters pays for it.
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(raw)
    labels = _best_labels(scaled, min(max_k, distinct, len(track_ids) - 1), seed)
    if labels is None:
        return Clustering((), "the tracks do not fall into distinct groups")
    return Clustering(_summaries(track_ids, raw, labels), None)


def usable_track_ids(features: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Sorted ids with a finite value for every clustering feature (sorted: order-proof)."""
    return sorted(
        track_id
        for track_id, values in features.items()
        if all(_finite(values.get(name)) for name in CLUSTER_FEATURES)
    )


def feature_matrix(
    features: Mapping[str, Mapping[str, float]], track_ids: Sequence[str]
) -> NDArray[np.float64]:
    """Rows of CLUSTER_FEATURES values, one per track id."""
    import numpy as np

    return np.array(
        [[float(features[t][name]) for name in CLUSTER_FEATURES] for t in track_ids],
        dtype=np.float64,
    ).reshape(len(track_ids), len(CLUSTER_FEATURES))


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _too_few_note(count: int, needed: int) -> str | None:
    if count >= needed:
        return None
    has = "track has" if count == 1 else "tracks have"
    return f"only {count} {has} audio features; clustering needs at least {needed}"


def _best_labels(scaled: NDArray[np.float64], max_k: int, seed: int) -> NDArray[np.int_] | None:
    best: tuple[float, NDArray[np.int_]] | None = None
    for k in range(2, max_k + 1):
        labels = _kmeans_labels(scaled, k, seed)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(_silhouette(scaled, labels, seed))
        # Strictly better only: on a tie the smaller, simpler k wins.
        if best is None or score > best[0]:
            best = (score, labels)
    if best is not None:
        logger.debug("Chose k=%d (silhouette %.3f)", len(set(best[1].tolist())), best[0])
    return None if best is None else best[1]


@functools.cache
def _single_threaded() -> object:
    """Run OpenMP and BLAS loops (K-means, silhouette) on one thread, for the whole process.

    K-means on a user's few hundred tracks is too small to share: on a busy 2-core machine
    its worker threads spent ~2 s of CPU spinning per user at 500 tracks, against ~45 ms on
    one thread (`bench analysis`). Snapshot workers cluster several users at once instead.
    """
    # A dependency of scikit-learn itself: always there where sklearn is.
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _kmeans_labels(scaled: NDArray[np.float64], k: int, seed: int) -> NDArray[np.int_]:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    _single_threaded()
    model = KMeans(n_clusters=k, n_init=_N_INIT, random_state=seed)
    # k never exceeds the distinct points, so a convergence warning is only a near-tie.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return np.asarray(model.fit_predict(scaled))


def _silhouette(scaled: NDArray[np.float64], labels: NDArray[np.int_], seed: int) -> float:
    from sklearn.metrics import silhouette_score

    sample = _SILHOUETTE_SAMPLE if len(scaled) > _SILHOUETTE_SAMPLE else None
    return float(silhouette_score(scaled, labels, sample_size=sample, random_state=seed))


def _summaries(
    track_ids: Sequence[str], raw: NDArray[np.float64], labels: NDArray[np.int_]
) -> tuple[ClusterSummary, ...]:
    import numpy as np

    mean, std = mean_and_spread(raw)
    groups = [np.flatnonzero(labels == label) for label in sorted(set(labels.tolist()))]
    groups.sort(key=lambda rows: (-len(rows), track_ids[int(rows[0])]))
    names = unique_labels([_describe(raw[rows].mean(axis=0), mean, std) for rows in groups])
    return tuple(
        ClusterSummary(
            label=name,
            size=len(rows),
            centroid=_centroid(raw[rows].mean(axis=0)),
            track_ids=tuple(track_ids[int(row)] for row in rows),
        )
        for name, rows in zip(names, groups, strict=True)
    )


def mean_and_spread(raw: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-feature mean and standard deviation; 0 where a feature is constant."""
    import numpy as np

    mean, std = raw.mean(axis=0), raw.std(axis=0)
    # Rounding leaves a constant column with a std of ~1e-17, which would inflate z-scores.
    return mean, np.where(std > 1e-9 * (1.0 + np.abs(mean)), std, 0.0)


def _centroid(values: NDArray[np.float64]) -> dict[str, float]:
    return {name: round(float(v), 4) for name, v in zip(CLUSTER_FEATURES, values, strict=True)}


def _describe(
    cluster_mean: NDArray[np.float64], mean: NDArray[np.float64], std: NDArray[np.float64]
) -> str:
    """Up to two words for the features that stand out against the user's average."""
    import numpy as np

    safe_std = np.where(std > 0, std, 1.0)
    z = np.where(std > 0, (cluster_mean - mean) / safe_std, 0.0)
    standing_out = sorted(
        (i for i in range(len(CLUSTER_FEATURES)) if abs(z[i]) >= LABEL_THRESHOLD),
        key=lambda i: (-abs(z[i]), i),
    )[:2]
    words = [FEATURE_WORDS[CLUSTER_FEATURES[i]][0 if z[i] > 0 else 1] for i in standing_out]
    return " · ".join(words) or BALANCED


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Labels made unique by numbering repeats: "mellow", "mellow (2)"."""
    seen: Counter[str] = Counter()
    unique = []
    for label in labels:
        seen[label] += 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique
