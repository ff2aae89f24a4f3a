"""Listening statistics over any range of local days, aggregated in the database.

A play counts in the local day and hour in which it ended. Minutes come from `ms_played`
where the export gave it, else from the track's (or episode's) duration: Spotify does not
say how long a polled play lasted. Music plays under 30 s are left out unless asked for.
Artists and albums are counted by identity: the catalogue id once known (a name the export
gave is linked to it), else the name alone.

The database sums the range's plays per track (with the track's artist and album keys) and
per local day and hour; those few thousand groups are then added up per artist, album,
weekday and so on. Each query scans the range once (bench/stats.py measures the whole).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import peewee as pw

from db.local_time import local_hour, local_hour_number, local_midnight, offsets_between
from db.models import (
    AlbumName,
    ArtistName,
    Episode,
    EpisodePlay,
    Play,
    Track,
    TrackCredit,
    read_timestamp,
)
from db.polled import gaps_overlapping
from db.queries import iso_utc
from db.stats_names import (
    FIRST_CREDIT,
    NAME_KEY,
    album_names,
    artist_names,
    show_names,
    track_names,
)

TOP = 10
DISCOVERIES_SHOWN = 20
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Names = Callable[[Iterable[Any]], Mapping[Any, dict[str, Any]]]
# (local day, hour, "music" or "podcasts", plays, ms) of one local hour with plays.
HourRow = tuple[str, int, str, int, float]


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


def minutes(ms: float | None) -> float:
    return round(float(ms or 0) / 60_000, 1)


def _rows(query: pw.Select) -> list[tuple[Any, ...]]:
    return list(cast(Iterable[tuple[Any, ...]], query.tuples()))


def _by_position(query: pw.Select, keys: int) -> pw.Select:
    return query.group_by(*(pw.SQL(str(i + 1)) for i in range(keys)))


# -- the queries -----------------------------------------------------------------------------


def _music_ms() -> pw.ColumnBase:
    return pw.fn.COALESCE(Play.ms_played, Track.duration_ms, 0)


def _episode_ms() -> pw.ColumnBase:
    return pw.fn.COALESCE(EpisodePlay.ms_played, Episode.duration_ms, 0)


def _artist_key() -> pw.ColumnBase:
    named = pw.Value(NAME_KEY).concat(ArtistName.name)
    return pw.fn.COALESCE(ArtistName.artist, FIRST_CREDIT.artist, named)


def _album_key() -> pw.ColumnBase:
    named = pw.Value(NAME_KEY).concat(pw.Cast(AlbumName.id, "VARCHAR(20)"))
    return pw.fn.COALESCE(Track.album, AlbumName.album, named)


def _music(
    span: StatsRange, *columns: pw.Node, whole_history: bool = False
) -> pw.ModelSelect[Play]:
    """The user's music plays in the range (all up to its end: `whole_history`), with tracks."""
    condition = (Play.user == span.user_id) & (Play.played_at < span.end)
    if not whole_history:
        condition &= Play.played_at >= span.start
    if not span.include_short:
        condition &= Play.short == False  # noqa: E712 - SQL, not Python
    return Play.select(*columns).join(Track, on=(Play.track == Track.id)).where(condition)


def _credited(query: pw.ModelSelect[Play]) -> pw.ModelSelect[Play]:
    """`query` over plays, joined to what identifies each track's artist and album."""
    first_credit = (FIRST_CREDIT.track == Play.track) & (FIRST_CREDIT.position == 0)
    return (
        query.join_from(Play, TrackCredit, pw.JOIN.LEFT_OUTER, on=(TrackCredit.track == Play.track))
        .join_from(TrackCredit, ArtistName, pw.JOIN.LEFT_OUTER)
        .join_from(TrackCredit, AlbumName, pw.JOIN.LEFT_OUTER)
        .join_from(Play, FIRST_CREDIT, pw.JOIN.LEFT_OUTER, on=first_credit)
    )


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


def read_plays(span: StatsRange) -> list[tuple[Any, ...]]:
    """Every music play of the range, one row each with its minutes' source and its artist and
    album keys: what aggregating outside the database would read first (bench/stats.py)."""
    columns = (Play.played_at, _music_ms(), Play.track, _artist_key(), _album_key())
    return _rows(_credited(_music(span, *columns)))


def _per_track(span: StatsRange) -> list[tuple[Any, ...]]:
    """(track, artist key, album key, plays, ms) of each track played in the range."""
    counted = (pw.fn.COUNT(pw.SQL("*")), pw.fn.SUM(_music_ms()))
    query = _credited(_music(span, Play.track, _artist_key(), _album_key(), *counted))
    return _rows(_by_position(query, 3))


def _per_episode(span: StatsRange) -> list[tuple[Any, ...]]:
    """(episode, show, plays, ms) of each episode played in the range."""
    counted = (pw.fn.COUNT(pw.SQL("*")), pw.fn.SUM(_episode_ms()))
    return _rows(_by_position(_podcasts(span, EpisodePlay.episode, Episode.show, *counted), 2))


def _per_local_hour(span: StatsRange) -> list[HourRow]:
    """Each local hour of the range with a play, music and podcasts apart."""
    offsets = offsets_between(span.zone, span.start, span.end)
    rows: list[HourRow] = []
    for kind, column, query, ms in (
        ("music", Play.played_at, _music, _music_ms()),
        ("podcasts", EpisodePlay.played_at, _podcasts, _episode_ms()),
    ):
        number = local_hour_number(column, offsets)
        counted = query(span, number, pw.fn.COUNT(pw.SQL("*")), pw.fn.SUM(ms))
        for hour_number, plays, total in _rows(_by_position(counted, 1)):
            hour = local_hour(int(hour_number))
            rows.append((hour.date().isoformat(), hour.hour, kind, int(plays), float(total or 0)))
    return rows


def _short_plays(span: StatsRange) -> int:
    condition = (Play.user == span.user_id) & (Play.short == True)  # noqa: E712 - SQL
    condition &= (Play.played_at >= span.start) & (Play.played_at < span.end)
    return int(Play.select().where(condition).count())


# -- adding groups up ------------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    plays: int = 0
    ms: float = 0.0

    def add(self, plays: int, ms: float | None) -> None:
        self.plays += plays
        self.ms += float(ms or 0)


def _tally(rows: Iterable[tuple[Any, ...]], key: int, plays: int, ms: int) -> dict[Any, Tally]:
    tallies: dict[Any, Tally] = defaultdict(Tally)
    for row in rows:
        if row[key] is not None:
            tallies[row[key]].add(row[plays], row[ms])
    return dict(tallies)


def _top(tallies: Mapping[Any, Tally], names: Names, top: int) -> dict[str, list[dict[str, Any]]]:
    """The `top` keys by plays (ties: minutes, then key) and by minutes (ties: plays, key)."""
    by_plays = sorted(tallies, key=lambda k: (-tallies[k].plays, -tallies[k].ms, str(k)))[:top]
    by_minutes = sorted(tallies, key=lambda k: (-tallies[k].ms, -tallies[k].plays, str(k)))[:top]
    named = names(set(by_plays) | set(by_minutes))

    def entries(keys: Sequence[Any]) -> list[dict[str, Any]]:
        return [
            {
                **named.get(key, {"id": None, "name": None}),
                "plays": tallies[key].plays,
                "minutes": minutes(tallies[key].ms),
            }
            for key in keys
        ]

    return {"by_plays": entries(by_plays), "by_minutes": entries(by_minutes)}


@dataclasses.dataclass(frozen=True)
class Listening:
    """A range's plays summed per track and per episode, ready to be added up further."""

    span: StatsRange
    tracks: dict[Any, Tally]
    artists: dict[Any, Tally]
    albums: dict[Any, Tally]
    episodes: dict[Any, Tally]
    shows: dict[Any, Tally]

    @classmethod
    def read(cls, span: StatsRange) -> Listening:
        per_track, per_episode = _per_track(span), _per_episode(span)
        return cls(
            span,
            tracks=_tally(per_track, 0, 3, 4),
            artists=_tally(per_track, 1, 3, 4),
            albums=_tally(per_track, 2, 3, 4),
            episodes=_tally(per_episode, 0, 2, 3),
            shows=_tally(per_episode, 1, 2, 3),
        )

    def music(self) -> dict[str, Any]:
        short = 0 if self.span.include_short else _short_plays(self.span)
        return {
            "plays": sum(t.plays for t in self.tracks.values()),
            "minutes": minutes(sum(t.ms for t in self.tracks.values())),
            "distinct_tracks": len(self.tracks),
            "distinct_artists": len(self.artists),
            "distinct_albums": len(self.albums),
            "short_plays_left_out": short,
        }

    def podcasts(self) -> dict[str, Any]:
        return {
            "plays": sum(t.plays for t in self.episodes.values()),
            "minutes": minutes(sum(t.ms for t in self.episodes.values())),
            "distinct_episodes": len(self.episodes),
            "distinct_shows": len(self.shows),
        }

    def top(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        top = self.span.top
        return {
            "tracks": _top(self.tracks, track_names, top),
            "artists": _top(self.artists, artist_names, top),
            "albums": _top(self.albums, album_names, top),
            "shows": _top(self.shows, show_names, top),
        }


# -- when: heatmap, days, streak -------------------------------------------------------------


def _weekday(day: str) -> int:
    return dt.date.fromisoformat(day).weekday()  # Monday = 0


def heatmap(hours: Iterable[HourRow]) -> dict[str, Any]:
    """Plays and minutes by local weekday (Monday first) and hour, music and podcasts."""
    plays = [[0] * 24 for _ in WEEKDAYS]
    ms = [[0.0] * 24 for _ in WEEKDAYS]
    for day, hour, _, count, total in hours:
        plays[_weekday(day)][hour] += count
        ms[_weekday(day)][hour] += total
    return {
        "weekdays": list(WEEKDAYS),
        "plays": plays,
        "minutes": [[minutes(value) for value in row] for row in ms],
    }


def days(
    span: StatsRange, hours: Iterable[tuple[str, int, str, int, float]]
) -> list[dict[str, Any]]:
    """Every local day of the range: plays, and minutes of music and of podcasts."""
    by_day: dict[str, dict[str, Any]] = {}
    day = span.first_day
    while day <= span.last_day:
        by_day[day.isoformat()] = {"plays": 0, "music": 0.0, "podcasts": 0.0}
        day += dt.timedelta(days=1)
    for local_day, _, kind, count, total in hours:
        by_day[local_day]["plays"] += count
        by_day[local_day][kind] += total
    return [
        {
            "date": date,
            "plays": entry["plays"],
            "minutes": minutes(entry["music"] + entry["podcasts"]),
            "music_minutes": minutes(entry["music"]),
            "podcast_minutes": minutes(entry["podcasts"]),
        }
        for date, entry in by_day.items()
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


def when(span: StatsRange) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The heatmap and the days of the range, from one pass over each kind of play."""
    hours = _per_local_hour(span)
    return heatmap(hours), days(span, hours)


# -- discoveries and gaps --------------------------------------------------------------------


def discoveries(span: StatsRange, shown: int = DISCOVERIES_SHOWN) -> dict[str, Any]:
    """Artists first heard in the range: how many, and the most played of them."""
    first = pw.fn.MIN(Play.played_at)
    columns = (_artist_key(), first, pw.fn.COUNT(Play.id), pw.fn.SUM(_music_ms()))
    query = _by_position(_credited(_music(span, *columns, whole_history=True)), 1)
    rows = [row for row in _rows(query.having(first >= span.start)) if row[0] is not None]
    rows.sort(key=lambda row: (-row[2], -float(row[3] or 0), str(row[0])))
    names = artist_names(row[0] for row in rows[:shown])
    return {
        "count": len(rows),
        "artists": [
            {
                **names.get(key, {"id": None, "name": None}),
                "first_played_at": iso_utc(cast(dt.datetime, read_timestamp(at))),
                "plays": plays,
                "minutes": minutes(ms),
            }
            for key, at, plays, ms in rows[:shown]
        ],
    }


def gaps(span: StatsRange) -> list[dict[str, Any]]:
    return [
        {"from": iso_utc(starts_at), "to": iso_utc(ends_at), "found_at": iso_utc(found_at)}
        for starts_at, ends_at, found_at in gaps_overlapping(span.user_id, span.start, span.end)
    ]


def listening_statistics(span: StatsRange) -> dict[str, Any]:
    """Every figure of GET /users/{u}/stats for the range, as plain JSON values."""
    listening = Listening.read(span)
    hours, per_day = when(span)
    return {
        "music": listening.music(),
        "podcasts": listening.podcasts(),
        "top": listening.top(),
        "heatmap": hours,
        "days": per_day,
        "longest_streak": longest_streak(per_day),
        "discoveries": discoveries(span),
        "gaps": gaps(span),
    }
