"""Source `csv`: the Kaggle-layout CSV as a catalogue: tracks near the user's cluster centroids
by artists the user never played.

The file is indexed once per process in compact arrays (~90k tracks: a float32 feature
matrix, int16 genre codes, one string per row for ids and artists), not as dicts of floats.
"""

from __future__ import annotations

import csv
import logging
import math
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread

from jobs.clustering import CLUSTER_FEATURES
from jobs.features import FeatureSourceError
from jobs.recommend.protocol import CSV, Candidate, Taste
from jobs.recommend.taste import FITS_DISTANCE, TasteSpace

# numpy is imported where the catalogue is built and searched, not here: see jobs.clustering.
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

PER_ARTIST = 2  # rows per artist in one answer, so one prolific artist cannot crowd it out
# Offered per wanted pick: the ranking, not distance alone, chooses among them (popularity).
OFFER_FACTOR = 3
# Rows examined per row wanted. Within a mix's neighbourhood many tracks sound alike; among
# those that fit it, the popular ones are the likelier discoveries (the offline evaluation:
# the nearest rows alone found a third fewer of the tracks users went on to play).
SEARCH_FACTOR = 40


@dataclass(frozen=True)
class CsvCatalogue:
    """The dataset's rows in parallel arrays."""

    track_ids: list[str]
    artists: list[tuple[str, ...]]
    genre_codes: NDArray[np.int16]
    genres: list[str]
    popularity: NDArray[np.int16]
    features: NDArray[np.float32]
    row_of: dict[str, int]

    def genre_of(self, track_id: str) -> str | None:
        row = self.row_of.get(track_id)
        return None if row is None else self.genres[int(self.genre_codes[row])]

    def feature_dict(self, row: int) -> dict[str, float]:
        return dict(zip(CLUSTER_FEATURES, self.features[row].tolist(), strict=True))


def read_csv_catalogue(path: Path) -> CsvCatalogue:
    """Index the file; the first row of a track id wins, rows missing a feature are skipped."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [
                c
                for c in ("track_id", "artists", *CLUSTER_FEATURES)
                if c not in (reader.fieldnames or ())
            ]
            if missing:
                raise FeatureSourceError(f"CSV {path} lacks column(s) {', '.join(missing)}")
            index = _index(reader)
    except OSError as exc:
        raise FeatureSourceError(f"cannot read CSV {path}: {exc.strerror}") from exc
    logger.info("Indexed %d candidate tracks from %s", len(index.track_ids), path)
    return index


Row = tuple[str, tuple[str, ...], str, int, Sequence[float]]


def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _csv_rows(rows: Iterator[dict[str, str]]) -> Iterator[Row]:
    for row in rows:
        track_id = (row.get("track_id") or "").strip()
        values = [_number(row.get(name)) for name in CLUSTER_FEATURES]
        if not track_id or any(v is None for v in values):
            continue
        artists = tuple(a.strip() for a in (row.get("artists") or "").split(";") if a.strip())
        genre = (row.get("track_genre") or "").strip()
        popularity = int(_number(row.get("popularity")) or 0)
        yield track_id, artists, genre, popularity, [float(v) for v in values if v is not None]


def _index(rows: Iterator[dict[str, str]]) -> CsvCatalogue:
    return build_csv_catalogue(_csv_rows(rows))


def build_csv_catalogue(rows: Iterable[Row]) -> CsvCatalogue:
    """The catalogue from (track id, artist names, genre, popularity, features) rows."""
    import numpy as np

    ids: list[str] = []
    artists: list[tuple[str, ...]] = []
    genre_codes: list[int] = []
    popularity: list[int] = []
    features: list[Sequence[float]] = []
    genre_index: dict[str, int] = {}
    row_of: dict[str, int] = {}
    for track_id, names, genre, plays, values in rows:
        if track_id in row_of:
            continue
        row_of[track_id] = len(ids)
        ids.append(track_id)
        artists.append(names)
        genre_codes.append(genre_index.setdefault(genre, len(genre_index)))
        popularity.append(plays)
        features.append(values)
    return CsvCatalogue(
        track_ids=ids,
        artists=artists,
        genre_codes=np.array(genre_codes, dtype=np.int16),
        genres=list(genre_index),
        popularity=np.array(popularity, dtype=np.int16),
        features=np.array(features, dtype=np.float32).reshape(len(ids), len(CLUSTER_FEATURES)),
        row_of=row_of,
    )


def nearest_new_rows(
    index: CsvCatalogue,
    space: TasteSpace,
    exclude_names: frozenset[str],
    exclude_ids: frozenset[str],
    wanted: int,
) -> list[int]:
    """Rows near each centroid (shared out by cluster) by artists not in `exclude_names`: of
    the nearest, those that fit the mix by popularity, then the rest by closeness."""
    import numpy as np

    if not space.active or not index.track_ids:
        return []
    points = space.scale(index.features.astype(np.float64))
    per_cluster = max(wanted // len(space.centres), 1)
    chosen: dict[int, None] = {}
    for centre in space.centres:
        distance = ((points - centre) ** 2).mean(axis=1)
        examine = min(per_cluster * SEARCH_FACTOR, len(distance))
        nearest = np.argpartition(distance, examine - 1)[:examine]
        nearest = _popular_first(index, nearest, distance[nearest])
        chosen.update(
            dict.fromkeys(_new_rows(index, nearest, exclude_names, exclude_ids, per_cluster))
        )
    return list(chosen)


def _popular_first(
    index: CsvCatalogue, rows: NDArray[np.intp], distance: NDArray[np.float64]
) -> NDArray[np.intp]:
    """Rows that fit the mix, most popular first; then the others, nearest first."""
    import numpy as np

    fits = np.sqrt(distance) <= FITS_DISTANCE
    popularity = index.popularity[rows].astype(np.float64)
    # lexsort's last key is the primary one: fitting first, then popularity, then closeness.
    order = np.lexsort((distance, np.where(fits, -popularity, 0.0), ~fits))
    return rows[order]


def _new_rows(
    index: CsvCatalogue,
    rows: NDArray[np.intp],
    exclude_names: frozenset[str],
    exclude_ids: frozenset[str],
    count: int,
) -> list[int]:
    taken: list[int] = []
    per_artist: Counter[str] = Counter()
    for row in rows.tolist():
        names = [a.casefold() for a in index.artists[row]]
        if index.track_ids[row] in exclude_ids or any(n in exclude_names for n in names):
            continue
        if any(per_artist[n] >= PER_ARTIST for n in names):
            continue
        per_artist.update(names)
        taken.append(row)
        if len(taken) >= count:
            break
    return taken


class CsvCandidateSource:
    """Candidates from the CSV catalogue; the index is built on first use and kept."""

    name = CSV

    def __init__(self, path: Path) -> None:
        self._path = path
        self._index: CsvCatalogue | None = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        return True

    async def index(self) -> CsvCatalogue:
        """The indexed file (read off the event loop the first time)."""
        if self._index is None:
            return await anyio.to_thread.run_sync(self._ensure_index)
        return self._index

    def loaded(self) -> CsvCatalogue | None:
        return self._index

    async def candidates(self, taste: Taste) -> list[Candidate]:
        index = await self.index()
        return await anyio.to_thread.run_sync(csv_candidates, index, taste)

    def _ensure_index(self) -> CsvCatalogue:
        with self._lock:
            if self._index is None:
                self._index = read_csv_catalogue(self._path)
            return self._index


def csv_candidates(index: CsvCatalogue, taste: Taste) -> list[Candidate]:
    """The CSV's tracks nearest the user's centroids, by artists the user never played."""
    space = TasteSpace(taste.clustering, taste.user_features)
    wanted = taste.wanted * OFFER_FACTOR
    rows = nearest_new_rows(index, space, taste.known_names, taste.own_track_ids, wanted)
    return [
        Candidate(
            track_id=index.track_ids[row],
            artist_ids=(),
            artist_names=index.artists[row],
            origin=CSV,
            seed_name=index.genres[int(index.genre_codes[row])] or "similar",
            features=index.feature_dict(row),
            popularity=float(index.popularity[row]),
        )
        for row in rows
    ]


def main_genres(index: CsvCatalogue | None, track_ids: Sequence[str], count: int = 3) -> list[str]:
    """The user's most common styles among their tracks the CSV knows."""
    if index is None:
        return []
    genres = Counter(g for t in track_ids if (g := index.genre_of(t)))
    return [genre for genre, _ in genres.most_common(count)]
