"""The user's taste in numbers: artist affinity, and closeness to their cluster centroids."""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from jobs.clustering import (
    CLUSTER_FEATURES,
    Clustering,
    ClusterSummary,
    feature_matrix,
    mean_and_spread,
    usable_track_ids,
)

# numpy is imported where a taste computes, not here: see jobs.clustering.
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# Recent taste says most about what to play next.
RANGE_WEIGHTS: dict[str, float] = {"short_term": 3.0, "medium_term": 2.0, "long_term": 1.0}
FREQUENCY_WEIGHT = 2.0  # an artist on every one of the user's tracks counts like a #1 this month
# An unknown sound is scored like an average match: neither rewarded nor buried.
NEUTRAL_FIT = 0.5
# Within one standard deviation (RMS over features) of a centroid: close enough to say "fits".
FITS_DISTANCE = 1.0
NO_CLUSTER = -1


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


def listening_rate(plays: Sequence[Sequence[str]]) -> dict[str, float]:
    """Artist -> share of the user's plays since they first played the artist, 0..1 (the top 1).

    `plays` are each play's artists, oldest first. A count alone ranks an artist met last
    month below one met years ago that is played less often now; this is how often each is
    played while known, what Spotify's top lists rank by when a snapshot has them.
    """
    first: dict[str, int] = {}
    counts: Counter[str] = Counter()
    for index, artists in enumerate(plays):
        for artist in dict.fromkeys(artists):
            first.setdefault(artist, index)
            counts[artist] += 1
    rates = {a: counts[a] / (len(plays) - first[a]) for a in sorted(counts)}
    top = max(rates.values(), default=0.0)
    return {a: round(rate / top, 6) for a, rate in rates.items()}


def played_once(plays: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Artist -> how many of their records the user played exactly once (0 for every other
    artist played); `plays` are each play's (track, first-credited artist).

    Good-Turing: the chance that a user's next play is of a track they never played is about
    the share of their plays that were of tracks played once. Split by artist, it tells an
    artist whose tracks the user keeps meeting one by one from an artist whose plays all go to
    the few tracks of the user's library, whose unplayed tracks the user rarely reaches. A
    guest spot counts for the record's artist only: it says little of the guest.
    """
    counts = Counter(track for track, _ in plays)
    once: Counter[str] = Counter()
    for track, artist in dict(plays).items():
        once[artist] += counts[track] == 1
    return dict(sorted(once.items()))


_FEATURES_OF = operator.itemgetter(*CLUSTER_FEATURES)
_UNKNOWN = (float("nan"),) * len(CLUSTER_FEATURES)


def feature_rows(
    features: Sequence[Mapping[str, float] | None],
) -> NDArray[np.float64]:
    """One row of CLUSTER_FEATURES per entry; NaN rows where features are unknown."""
    import numpy as np

    rows = [_UNKNOWN if f is None else _row(f) for f in features]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(CLUSTER_FEATURES))


def _row(features: Mapping[str, float]) -> tuple[float, ...]:
    try:
        return tuple(_FEATURES_OF(features))
    except KeyError:
        return _UNKNOWN


class TasteSpace:
    """The user's standardised feature space and the clusters in it."""

    def __init__(
        self, clustering: Clustering | None, user_features: Mapping[str, Mapping[str, float]]
    ) -> None:
        import numpy as np

        self.clusters: tuple[ClusterSummary, ...] = clustering.clusters if clustering else ()
        ids = usable_track_ids(user_features)
        self.active = bool(self.clusters) and len(ids) >= 2
        raw = feature_matrix(user_features, ids) if self.active else np.zeros((1, 1))
        self.mean, std = mean_and_spread(raw)
        self.std = np.where(std > 0, std, 1.0)
        centroids = feature_rows([c.centroid for c in self.clusters])
        self.centres = self.scale(centroids) if self.active else centroids
        largest = max((c.size for c in self.clusters), default=1)
        self.weights = np.array([0.5 + 0.5 * c.size / largest for c in self.clusters])

    def scale(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Rows in units of the user's own spread, centred on the user's mean."""
        import numpy as np

        return np.asarray((rows - self.mean) / self.std, dtype=np.float64)

    def fit(self, rows: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
        """Closeness to the nearest centroid (weighted by its size) and the cluster it fits."""
        import numpy as np

        count = len(rows)
        closeness = np.full(count, NEUTRAL_FIT)
        fitted = np.full(count, NO_CLUSTER, dtype=np.int_)
        if not self.active or count == 0:
            return closeness, fitted
        known = ~np.isnan(rows).any(axis=1)
        points = self.scale(rows[known])
        rms = np.sqrt(((points[:, None, :] - self.centres[None, :, :]) ** 2).mean(axis=2))
        nearest = rms.argmin(axis=1)
        best = rms[np.arange(len(points)), nearest]
        closeness[known] = self.weights[nearest] / (1.0 + best)
        fitted[known] = np.where(best <= FITS_DISTANCE, nearest, NO_CLUSTER)
        return closeness, fitted

    def label(self, cluster: int) -> str | None:
        """The label of a cluster index, None for NO_CLUSTER."""
        return self.clusters[cluster].label if cluster != NO_CLUSTER else None
