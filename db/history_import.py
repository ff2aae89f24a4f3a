"""Writes of an imported streaming history: plays, and the catalogue rows their names make.

One call stores one file's plays in one transaction, so an interrupted import leaves whole
files behind it and a rerun finds them already present.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import peewee as pw
from psycopg2.extras import execute_values

from db.models import (
    AlbumName,
    ArtistName,
    Episode,
    EpisodePlay,
    Play,
    Show,
    Track,
    TrackCredit,
)
from db.transactions import write_transaction
from spotify_client import chunks
from streaming_history import ExportedPlay

BATCH = 500
# An exported row and a polled play are one play when their end times are this close.
SAME_PLAY = dt.timedelta(seconds=10)


@dataclasses.dataclass
class Stored:
    """What one call did: plays added, and plays that were already in the history."""

    imported: int = 0
    already_present: int = 0


def _imported_keys(user_id: int, start: dt.datetime, end: dt.datetime) -> set[tuple[Any, ...]]:
    window = (Play.played_at >= start) & (Play.played_at <= end)
    tracks = Play.select(Play.track, Play.played_at).where(
        (Play.user == user_id) & (Play.origin == Play.IMPORTED) & window
    )
    episodes = EpisodePlay.select(EpisodePlay.episode, EpisodePlay.played_at).where(
        (EpisodePlay.user == user_id)
        & (EpisodePlay.played_at >= start)
        & (EpisodePlay.played_at <= end)
    )
    keys = {("track", item, at) for item, at in cast(Iterable[Any], tracks.tuples())}
    keys |= {("episode", item, at) for item, at in cast(Iterable[Any], episodes.tuples())}
    return keys


def _polled_times(user_id: int, start: dt.datetime, end: dt.datetime) -> dict[str, list[Any]]:
    query = Play.select(Play.track, Play.played_at).where(
        (Play.user == user_id)
        & (Play.origin == Play.POLLED)
        & (Play.played_at >= start - SAME_PLAY)
        & (Play.played_at <= end + SAME_PLAY)
    )
    times: dict[str, list[Any]] = defaultdict(list)
    for track_id, played_at in cast(Iterable[tuple[str, dt.datetime]], query.tuples()):
        times[track_id].append(played_at)
    for moments in times.values():
        moments.sort()
    return times


def _was_polled(play: ExportedPlay, polled: dict[str, list[dt.datetime]]) -> bool:
    moments = polled.get(play.item_id) if play.kind == "track" else None
    if not moments:
        return False
    index = bisect.bisect_left(moments, play.ended_at - SAME_PLAY)
    return index < len(moments) and moments[index] <= play.ended_at + SAME_PLAY


def _new_plays(user_id: int, plays: Sequence[ExportedPlay]) -> list[ExportedPlay]:
    start = min(play.ended_at for play in plays)
    end = max(play.ended_at for play in plays)
    present = _imported_keys(user_id, start, end)
    polled = _polled_times(user_id, start, end)
    return [p for p in plays if p.key not in present and not _was_polled(p, polled)]


def _ids_by_name(model: type[ArtistName | Show], names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in chunks(sorted(set(names)), BATCH):
        query = model.select(model.name, model.id).where(model.name.in_(list(batch))).tuples()
        found.update(cast(Iterable[tuple[str, int]], query))
    return found


def _insert(model: type[pw.Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, the models' defaults for the others), leaving
    out those a unique index already has.

    The statement is built once and the rows bound to it: building peewee's SQL per row took
    two thirds of an import's time (bench/history_import.py).
    """
    if not rows:
        return
    defaults = {
        field.name: field.default() if callable(field.default) else field.default
        for field in model._meta.sorted_fields
        if field.default is not None and field.name not in rows[0]
    }
    names = [*rows[0], *defaults]
    fields = [model._meta.fields[name] for name in names]
    values = [
        tuple(
            f.db_value(row[n] if n in row else defaults[n])
            for f, n in zip(fields, names, strict=True)
        )
        for row in rows
    ]
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    table = f'"{model._meta.table_name}"'
    database = model._meta.database
    cursor = database.cursor()
    # Names come from the models, values are bound: nothing from the export enters the SQL text.
    if isinstance(getattr(database, "obj", database), pw.PostgresqlDatabase):
        statement = f"INSERT INTO {table} ({columns}) VALUES %s ON CONFLICT DO NOTHING"  # noqa: S608
        execute_values(cursor, statement, values, page_size=BATCH)
    else:
        marks = ", ".join("?" * len(fields))
        statement = f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
        cursor.executemany(statement, values)


def _named_artists(names: Iterable[str]) -> dict[str, int]:
    unique = sorted(set(names))
    _insert(ArtistName, [{"name": name} for name in unique])
    return _ids_by_name(ArtistName, unique)


def _named_albums(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
    unique = sorted(set(pairs))
    _insert(AlbumName, [{"artist_name": artist, "name": name} for artist, name in unique])
    found: dict[tuple[int, str], int] = {}
    for batch in chunks(sorted({artist for artist, _ in unique}), BATCH):
        query = AlbumName.select(AlbumName.artist_name, AlbumName.name, AlbumName.id).where(
            AlbumName.artist_name.in_(list(batch))
        )
        for artist, name, album_id in cast(Iterable[tuple[int, str, int]], query.tuples()):
            found[(artist, name)] = album_id
    return found


def _store_tracks(plays: Sequence[ExportedPlay]) -> None:
    """Tracks by id and name; credits by name, since the export carries no artist ids."""
    first = {play.item_id: play for play in reversed(plays)}
    ordered = [first[key] for key in sorted(first)]
    _insert(
        Track,
        [{"id": p.item_id, "name": p.name, "uri": f"spotify:track:{p.item_id}"} for p in ordered],
    )
    artists = _named_artists(p.artist_or_show for p in ordered if p.artist_or_show)
    albums = _named_albums(
        (artists[p.artist_or_show], p.album) for p in ordered if p.artist_or_show and p.album
    )
    credits = []
    for play in ordered:
        artist = artists.get(play.artist_or_show) if play.artist_or_show else None
        album = albums.get((artist, play.album)) if artist and play.album else None
        if artist is not None:
            credits.append({"track": play.item_id, "artist_name": artist, "album_name": album})
    _insert(TrackCredit, credits)


def store_shows(names: Iterable[str]) -> dict[str, int]:
    """Each named show stored once, and its id by name.

    Shows are known by name: the export, one of the two ways episodes arrive, has no show ids.
    """
    unique = sorted(set(names))
    _insert(Show, [{"name": name} for name in unique])
    return _ids_by_name(Show, unique)


def _store_episodes(plays: Sequence[ExportedPlay]) -> None:
    first = {play.item_id: play for play in reversed(plays)}
    ordered = [first[key] for key in sorted(first)]
    show_ids = store_shows(p.artist_or_show for p in ordered if p.artist_or_show)
    rows = [
        {
            "id": p.item_id,
            "name": p.name,
            "uri": f"spotify:episode:{p.item_id}",
            "show": show_ids.get(p.artist_or_show) if p.artist_or_show else None,
        }
        for p in ordered
    ]
    _insert(Episode, rows)


def _play_rows(user_id: int, plays: Sequence[ExportedPlay]) -> list[dict[str, Any]]:
    return [
        {
            "user": user_id,
            "track": play.item_id,
            "played_at": play.ended_at,
            "ms_played": play.ms_played,
            "short": play.ms_played is not None and play.ms_played < Play.SHORT_MS,
            "origin": Play.IMPORTED,
        }
        for play in plays
    ]


def _episode_rows(user_id: int, plays: Sequence[ExportedPlay]) -> list[dict[str, Any]]:
    return [
        {
            "user": user_id,
            "episode": play.item_id,
            "played_at": play.ended_at,
            "ms_played": play.ms_played,
            "origin": Play.IMPORTED,
        }
        for play in plays
    ]


def store_exported_plays(
    user_id: int,
    plays: Sequence[ExportedPlay],
    progress: Callable[[int], object] = lambda _: None,
) -> Stored:
    """Add the plays the history lacks, in one transaction; `plays` must be free of duplicates.

    A play is already present when it was imported before (same item, same end time) or
    when a polled play of the same track ended within SAME_PLAY of it.
    """
    if not plays:
        return Stored()
    # Held for writing from the start: on SQLite, a deferred transaction that read before
    # another connection committed fails as "database is locked" at its first write.
    with write_transaction():
        new = _new_plays(user_id, plays)
        progress(len(plays) - len(new))
        tracks = [play for play in new if play.kind == "track"]
        episodes = [play for play in new if play.kind == "episode"]
        _store_tracks(tracks)
        _store_episodes(episodes)
        for model, rows in (
            (Play, _play_rows(user_id, tracks)),
            (EpisodePlay, _episode_rows(user_id, episodes)),
        ):
            for batch in chunks(rows, BATCH * 10):
                _insert(model, batch)
                progress(len(batch))
    return Stored(imported=len(new), already_present=len(plays) - len(new))


def analyze_plays() -> None:
    """Fresh planner statistics for the play tables, after a bulk import on PostgreSQL.

    Until autovacuum's ANALYZE (a minute or more after the import) the planner takes the
    grown tables for their old size: the recap's discoveries took 2.8 s instead of 23 ms.
    """
    for model in (Play, EpisodePlay):
        model._meta.database.execute_sql(f'ANALYZE "{model._meta.table_name}"')
