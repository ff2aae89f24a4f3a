"""The evaluation corpus from this instance's database, joined with the CSV catalogue.

Stored tracks with features are the catalogue the users met; the CSV adds the wider pool and
each track's style (`track_genre`). Stored tracks the CSV lacks have no style.

A stored track Spotify gave no popularity (every development-mode app since 2026) takes the
CSV's: at 0 it would rank below every track the users never met, and the popular-in-styles
baseline could never pick a track anyone played.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence

from db.evaluation_data import StoredTrack
from jobs.recommend.csv_pool import CsvCatalogue, Row, build_csv_catalogue
from jobs.recommend.offline import Corpus, History


def database_corpus(
    stored: Sequence[StoredTrack],
    events: Mapping[str, Sequence[tuple[str, dt.datetime]]],
    csv: CsvCatalogue | None,
) -> Corpus:
    """Users in name order; stored tracks first, then the CSV's others."""
    histories = [History(user, events[user]) for user in sorted(events)]
    return Corpus(build_csv_catalogue(_rows(stored, csv)), histories)


def _rows(stored: Sequence[StoredTrack], csv: CsvCatalogue | None) -> Iterator[Row]:
    for track_id, artists, popularity, values in stored:
        genre = (csv.genre_of(track_id) if csv else None) or ""
        yield track_id, artists, genre, popularity or _csv_popularity(csv, track_id), values
    if csv is None:
        return
    for row, track_id in enumerate(csv.track_ids):
        genre = csv.genres[int(csv.genre_codes[row])]
        values = csv.features[row].tolist()
        yield track_id, csv.artists[row], genre, int(csv.popularity[row]), values


def _csv_popularity(csv: CsvCatalogue | None, track_id: str) -> int:
    row = csv.row_of.get(track_id) if csv else None
    return 0 if csv is None or row is None else int(csv.popularity[row])
