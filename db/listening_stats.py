"""Listening statistics over any range of local days, aggregated in the database.

A play counts in the local day and hour in which it ended. Minutes come from `ms_played`
where the export gave it, else from the track's (or episode's) duration: Spotify does not
say how long a polled play lasted. Music plays under 30 s are left out unless asked for.
Artists and albums are counted by identity: the catalogue id once known (a name the export
gave is linked to it), else the name alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any, cast

import peewee as pw

from db.local_time import LocalParts, local_midnight, local_parts, offsets_between
from db.models import (
    Album,
    AlbumName,
    Artist,
    ArtistName,
    Episode,
    EpisodePlay,
    Play,
    Show,
    Track,
    TrackArtist,
    TrackCredit,
)
from db.polled import gaps_overlapping
from db.queries import iso_utc

TOP = 10
DISCOVERIES_SHOWN = 20
NAME_KEY = "name:"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FIRST_CREDIT = TrackArtist.alias("first_credit")


@dataclasses.dataclass(frozen=True)
class StatsRange:
    """Whose plays, which local days (inclusive) in which zone, and whether short plays count."""

    user_id: int
    zone: zoneinfo.ZoneInfo
    first_day: dt.date
    last_day: dt.date
    include_short: bool = False
    top: int = TOP

    @property
    def start(self) -> dt.datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> dt.datetime:
        return local_midnight(self.last_day + dt.timedelta(days=1), self.zone)

    def local(self, column: pw.Field) -> LocalParts:
        return local_parts(column, offsets_between(self.zone, self.start, self.end))


def minutes(ms: int | float | None) -> float:
    return round(float(ms or 0) / 60_000, 1)


# -- music ------------------------------------------------------------------------------


def _music_ms() -> pw.Node:
    return pw.fn.COALESCE(Play.ms_played, Track.duration_ms, 0)


def _artist_key() -> pw.ColumnBase:
    named = pw.Value(NAME_KEY).concat(ArtistName.name)
    return pw.fn.COALESCE(ArtistName.artist, FIRST_CREDIT.artist, named)


def _album_key() -> pw.ColumnBase:
    named = pw.Value(NAME_KEY).concat(pw.Cast(AlbumName.id, "VARCHAR(20)"))
    return pw.fn.COALESCE(Track.album, AlbumName.album, named)


def _music(span: StatsRange, *columns: pw.Node, whole_history: bool = False) -> pw.Select:
    """The user's music plays in the range (all up to its end: `whole_history`), credits joined."""
    condition = (Play.user == span.user_id) & (Play.played_at < span.end)
    if not whole_history:
        condition &= Play.played_at >= span.start
    if not span.include_short:
        condition &= Play.short == False  # noqa: E712 - SQL, not Python
    first_credit = (FIRST_CREDIT.track == Play.track) & (FIRST_CREDIT.position == 0)
    return (
        Play.select(*columns)
        .join(Track, on=(Play.track == Track.id))
        .join_from(Play, TrackCredit, pw.JOIN.LEFT_OUTER, on=(TrackCredit.track == Play.track))
        .join_from(TrackCredit, ArtistName, pw.JOIN.LEFT_OUTER)
        .join_from(TrackCredit, AlbumName, pw.JOIN.LEFT_OUTER)
        .join_from(Play, FIRST_CREDIT, pw.JOIN.LEFT_OUTER, on=first_credit)
        .where(condition)
    )


def _rows(query: pw.Select) -> list[tuple[Any, ...]]:
    return list(cast(Iterable[tuple[Any, ...]], query.tuples()))


def music_totals(span: StatsRange) -> dict[str, Any]:
    plays, ms, tracks, artists, albums = _rows(
        _music(
            span,
            pw.fn.COUNT(Play.id),
            pw.fn.SUM(_music_ms()),
            pw.fn.COUNT(Play.track.distinct()),
            pw.fn.COUNT(_artist_key().distinct()),
            pw.fn.COUNT(_album_key().distinct()),
        )
    )[0]
    return {
        "plays": plays,
        "minutes": minutes(ms),
        "distinct_tracks": tracks,
        "distinct_artists": artists,
        "distinct_albums": albums,
        "short_plays_left_out": 0 if span.include_short else _short_plays(span),
    }


def _short_plays(span: StatsRange) -> int:
    return int(
        Play.select()
        .where(
            (Play.user == span.user_id)
            & (Play.played_at >= span.start)
            & (Play.played_at < span.end)
            & (Play.short == True)  # noqa: E712 - SQL, not Python
        )
        .count()
    )


def _ranked(
    query: pw.Select, key: pw.ColumnBase, ms: pw.Node, by: str, top: int
) -> list[tuple[Any, int, Any]]:
    """(key, plays, ms) of the `top` groups, by plays or by minutes, ties by the other then key."""
    counted = query.select(key.alias("item"), pw.fn.COUNT(pw.SQL("*")).alias("plays"))
    counted = counted.select_extend(pw.fn.SUM(ms).alias("ms")).group_by(pw.SQL("1"))
    order = ("plays", "ms") if by == "plays" else ("ms", "plays")
    ordered = counted.order_by(
        pw.SQL(f"{order[0]} DESC"), pw.SQL(f"{order[1]} DESC"), pw.SQL("1")
    ).limit(top)
    return [(item, plays, ms) for item, plays, ms in _rows(ordered) if item is not None]


def _entries(
    ranked: Sequence[tuple[Any, int, Any]], names: dict[Any, dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {**names.get(key, {"id": None, "name": None}), "plays": plays, "minutes": minutes(ms)}
        for key, plays, ms in ranked
    ]


def _both(span: StatsRange, key: pw.ColumnBase, name: Any) -> dict[str, list[dict[str, Any]]]:
    base = _music(span)
    by_plays = _ranked(base, key, _music_ms(), "plays", span.top)
    by_minutes = _ranked(base, key, _music_ms(), "minutes", span.top)
    names = name({row[0] for row in by_plays + by_minutes})
    return {"by_plays": _entries(by_plays, names), "by_minutes": _entries(by_minutes, names)}


def top_tracks(span: StatsRange) -> dict[str, list[dict[str, Any]]]:
    return _both(span, Play.track, track_names)


def top_artists(span: StatsRange) -> dict[str, list[dict[str, Any]]]:
    return _both(span, _artist_key(), artist_names)


def top_albums(span: StatsRange) -> dict[str, list[dict[str, Any]]]:
    return _both(span, _album_key(), album_names)


# -- names of what was counted ------------------------------------------------------------


def _split(keys: Iterable[str]) -> tuple[list[str], list[str]]:
    ids = sorted(key for key in keys if not key.startswith(NAME_KEY))
    named = sorted(key.removeprefix(NAME_KEY) for key in keys if key.startswith(NAME_KEY))
    return ids, named


def artist_names(keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each artist key as the API shows it: catalogue id and name, or the name alone."""
    ids, named = _split(keys)
    found: dict[str, dict[str, Any]] = {
        NAME_KEY + name: {"id": None, "name": name} for name in named
    }
    query = Artist.select(Artist.id, Artist.name).where(Artist.id.in_(ids)).tuples()
    for artist_id, name in cast(Iterable[tuple[str, str]], query):
        found[artist_id] = {"id": artist_id, "name": name}
    return found


def album_names(keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each album key as the API shows it: id, name and artist (by name)."""
    ids, named = _split(keys)
    found: dict[str, dict[str, Any]] = {}
    query = (
        Album.select(Album.id, Album.name, Artist.name)
        .join(Artist, pw.JOIN.LEFT_OUTER)
        .where(Album.id.in_(ids))
        .tuples()
    )
    for album_id, name, artist in cast(Iterable[tuple[str, str, str | None]], query):
        found[album_id] = {"id": album_id, "name": name, "artist": artist}
    names = (
        AlbumName.select(AlbumName.id, AlbumName.name, ArtistName.name)
        .join(ArtistName)
        .where(AlbumName.id.in_([int(key) for key in named]))
        .tuples()
    )
    for name_id, name, artist in cast(Iterable[tuple[int, str, str]], names):
        found[f"{NAME_KEY}{name_id}"] = {"id": None, "name": name, "artist": artist}
    return found


def track_names(track_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each track's id, name and (first) artist: from the catalogue, else the export's credit."""
    ids = sorted(track_ids)
    query = (
        Track.select(Track.id, Track.name, Artist.name, ArtistName.name)
        .join_from(
            Track,
            FIRST_CREDIT,
            pw.JOIN.LEFT_OUTER,
            on=(FIRST_CREDIT.track == Track.id) & (FIRST_CREDIT.position == 0),
        )
        .join_from(FIRST_CREDIT, Artist, pw.JOIN.LEFT_OUTER, on=(FIRST_CREDIT.artist == Artist.id))
        .join_from(Track, TrackCredit, pw.JOIN.LEFT_OUTER, on=(TrackCredit.track == Track.id))
        .join_from(TrackCredit, ArtistName, pw.JOIN.LEFT_OUTER)
        .where(Track.id.in_(ids))
        .tuples()
    )
    return {
        track_id: {"id": track_id, "name": name, "artist": artist or credited}
        for track_id, name, artist, credited in cast(Iterable[tuple[str, str, Any, Any]], query)
    }


# -- podcasts -------------------------------------------------------------------------------


def _episode_ms() -> pw.Node:
    return pw.fn.COALESCE(EpisodePlay.ms_played, Episode.duration_ms, 0)


def _podcasts(span: StatsRange, *columns: pw.Node) -> pw.Select:
    return (
        EpisodePlay.select(*columns)
        .join(Episode, on=(EpisodePlay.episode == Episode.id))
        .where(
            (EpisodePlay.user == span.user_id)
            & (EpisodePlay.played_at >= span.start)
            & (EpisodePlay.played_at < span.end)
        )
    )


def podcast_totals(span: StatsRange) -> dict[str, Any]:
    plays, ms, episodes, shows = _rows(
        _podcasts(
            span,
            pw.fn.COUNT(EpisodePlay.id),
            pw.fn.SUM(_episode_ms()),
            pw.fn.COUNT(EpisodePlay.episode.distinct()),
            pw.fn.COUNT(Episode.show.distinct()),
        )
    )[0]
    return {
        "plays": plays,
        "minutes": minutes(ms),
        "distinct_episodes": episodes,
        "distinct_shows": shows,
    }


def top_shows(span: StatsRange) -> dict[str, list[dict[str, Any]]]:
    base = _podcasts(span)
    by_plays = _ranked(base, Episode.show, _episode_ms(), "plays", span.top)
    by_minutes = _ranked(base, Episode.show, _episode_ms(), "minutes", span.top)
    ids = sorted({row[0] for row in by_plays + by_minutes})
    query = Show.select(Show.id, Show.name).where(Show.id.in_(ids)).tuples()
    names = {
        show_id: {"id": None, "name": name}
        for show_id, name in cast(Iterable[tuple[int, str]], query)
    }
    return {"by_plays": _entries(by_plays, names), "by_minutes": _entries(by_minutes, names)}


# -- when: heatmap, days, streak -------------------------------------------------------------


def _grouped(query: pw.Select, *keys: pw.Node, ms: pw.Node) -> list[tuple[Any, ...]]:
    counted = query.select(*keys, pw.fn.COUNT(pw.SQL("*")), pw.fn.SUM(ms))
    return _rows(counted.group_by(*(pw.SQL(str(i + 1)) for i in range(len(keys)))))


def heatmap(span: StatsRange) -> dict[str, Any]:
    """Plays and minutes by local weekday (Monday first) and hour, music and podcasts."""
    plays = [[0] * 24 for _ in WEEKDAYS]
    ms = [[0.0] * 24 for _ in WEEKDAYS]
    music = span.local(Play.played_at)
    podcasts = span.local(EpisodePlay.played_at)
    rows = _grouped(_music(span), music.weekday, music.hour, ms=_music_ms())
    rows += _grouped(_podcasts(span), podcasts.weekday, podcasts.hour, ms=_episode_ms())
    for weekday, hour, count, total in rows:
        row = (int(weekday) + 6) % 7  # SQL counts from Sunday
        plays[row][int(hour)] += count
        ms[row][int(hour)] += float(total or 0)
    return {
        "weekdays": list(WEEKDAYS),
        "plays": plays,
        "minutes": [[minutes(value) for value in row] for row in ms],
    }


def days(span: StatsRange) -> list[dict[str, Any]]:
    """Every local day of the range: plays, and minutes of music and of podcasts."""
    by_day: dict[str, dict[str, Any]] = {}
    day = span.first_day
    while day <= span.last_day:
        by_day[day.isoformat()] = {"date": day.isoformat(), "plays": 0, "music": 0.0, "pods": 0.0}
        day += dt.timedelta(days=1)
    music = span.local(Play.played_at).day
    podcasts = span.local(EpisodePlay.played_at).day
    for kind, rows in (
        ("music", _grouped(_music(span), music, ms=_music_ms())),
        ("pods", _grouped(_podcasts(span), podcasts, ms=_episode_ms())),
    ):
        for local_day, count, total in rows:
            by_day[str(local_day)]["plays"] += count
            by_day[str(local_day)][kind] += float(total or 0)
    return [
        {
            "date": entry["date"],
            "plays": entry["plays"],
            "minutes": minutes(entry["music"] + entry["pods"]),
            "music_minutes": minutes(entry["music"]),
            "podcast_minutes": minutes(entry["pods"]),
        }
        for entry in by_day.values()
    ]


def longest_streak(per_day: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The longest run of consecutive days with a play (the latest such run on a tie)."""
    best: tuple[int, str | None, str | None] = (0, None, None)
    run, first = 0, None
    for entry in per_day:
        if entry["plays"]:
            run, first = run + 1, first if run else entry["date"]
            if run >= best[0]:
                best = (run, first, entry["date"])
        else:
            run = 0
    return {"days": best[0], "from": best[1], "to": best[2]}


# -- discoveries and gaps --------------------------------------------------------------------


def discoveries(span: StatsRange, shown: int = DISCOVERIES_SHOWN) -> dict[str, Any]:
    """Artists first heard in the range: how many, and the most played of them."""
    first = pw.fn.MIN(Play.played_at)
    columns = (_artist_key(), first, pw.fn.COUNT(Play.id), pw.fn.SUM(_music_ms()))
    query = (
        _music(span, *columns, whole_history=True).group_by(pw.SQL("1")).having(first >= span.start)
    )
    rows = [row for row in _rows(query) if row[0] is not None]
    rows.sort(key=lambda row: (-row[2], -float(row[3] or 0), str(row[0])))
    names = artist_names(row[0] for row in rows[:shown])
    return {
        "count": len(rows),
        "artists": [
            {
                **names.get(key, {"id": None, "name": None}),
                "first_played_at": iso_utc(_as_datetime(at)),
                "plays": plays,
                "minutes": minutes(ms),
            }
            for key, at, plays, ms in rows[:shown]
        ],
    }


def _as_datetime(value: dt.datetime | str) -> dt.datetime:
    # SQLite answers aggregates of timestamps as text.
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def gaps(span: StatsRange) -> list[dict[str, Any]]:
    return [
        {"from": iso_utc(starts_at), "to": iso_utc(ends_at), "found_at": iso_utc(found_at)}
        for starts_at, ends_at, found_at in gaps_overlapping(span.user_id, span.start, span.end)
    ]


def listening_statistics(span: StatsRange) -> dict[str, Any]:
    """Every figure of GET /users/{u}/stats for the range, as plain JSON values."""
    per_day = days(span)
    return {
        "music": music_totals(span),
        "podcasts": podcast_totals(span),
        "top": {
            "tracks": top_tracks(span),
            "artists": top_artists(span),
            "albums": top_albums(span),
            "shows": top_shows(span),
        },
        "heatmap": heatmap(span),
        "days": per_day,
        "longest_streak": longest_streak(per_day),
        "discoveries": discoveries(span),
        "gaps": gaps(span),
    }
