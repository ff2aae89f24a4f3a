"""Listening statistics against figures worked out by hand: DST, midnight, names and ids.

The history (Europe/Berlin, which moves to summer time at 01:00 UTC on 2024-03-31):

    play  UTC end               local end (Berlin)     track  by      ms        in range?
    P0    2024-01-10 10:00:00   Wed 11:00              T3     Beta    100,000   before
    P1    2024-03-29 22:59:59   Fri 23:59:59           T1     A1      (180 s)   before
    P2    2024-03-29 23:00:30   Sat 00:00:30           T1     A1      (180 s)   yes: began on Friday
    P3    2024-03-30 12:00:00   Sat 13:00              T3     Beta    150,000   yes
    P4    2024-03-30 12:05:00   Sat 13:05              T3     Beta     20,000   short
    P5    2024-03-30 18:00:00   Sat 19:00              T5     A2      (200 s)   yes: A2's first
    P6    2024-03-31 00:59:00   Sun 01:59 (CET)        T2     A1      (240 s)   yes
    P7    2024-03-31 01:00:00   Sun 03:00 (CEST)       T1     A1      (180 s)   yes
    E1    2024-03-31 10:00:00   Sun 12:00              episode of The Daily 1,800,000  yes
    P8    2024-03-31 21:59:59   Sun 23:59:59           T4     "Alpha" 60,000    yes ("Alpha" = A1)
    P9    2024-03-31 22:00:00   Mon 00:00              T4     "Alpha" 60,000    after

Durations in brackets are the track's: those plays were polled. T1, T2 are on album AL1;
T4's album name "First" is linked to AL1; T3 is only known by the export (Beta, "Second").
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest

from db.database import Database
from db.history_import import store_exported_plays
from db.listening_stats import StatsRange, listening_statistics
from db.models import Album, AlbumName, Artist, ArtistName, Play, Track, TrackArtist
from streaming_history import ExportedPlay
from tests.factories import make_user

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _catalogue() -> None:
    Artist.create(id="A1", name="Alpha")
    Artist.create(id="A2", name="Gamma")
    Album.create(id="AL1", name="First", artist="A1")
    Album.create(id="AL2", name="Third", artist="A2")
    for track_id, name, artist, album, duration in (
        ("T1", "One", "A1", "AL1", 180_000),
        ("T2", "Two", "A1", "AL1", 240_000),
        ("T5", "Five", "A2", "AL2", 200_000),
    ):
        Track.create(
            id=track_id,
            name=name,
            uri=f"spotify:track:{track_id}",
            duration_ms=duration,
            album=album,
        )
        TrackArtist.create(track=track_id, artist=artist, position=0)


def _exported(
    kind: str, item: str, ended: str, ms: int, name: str, by: str, album: str | None
) -> ExportedPlay:
    return ExportedPlay(kind, item, _utc(ended), ms, name, by, album)


def _history(user_id: int) -> None:
    _catalogue()
    store_exported_plays(
        user_id,
        [
            _exported("track", "T3", "2024-01-10 10:00:00", 100_000, "Three", "Beta", "Second"),
            _exported("track", "T3", "2024-03-30 12:00:00", 150_000, "Three", "Beta", "Second"),
            _exported("track", "T3", "2024-03-30 12:05:00", 20_000, "Three", "Beta", "Second"),
            _exported("track", "T4", "2024-03-31 21:59:59", 60_000, "Four", "Alpha", "First"),
            _exported("track", "T4", "2024-03-31 22:00:00", 60_000, "Four", "Alpha", "First"),
            _exported("episode", "E1", "2024-03-31 10:00:00", 1_800_000, "Ep", "The Daily", None),
        ],
    )
    # What a snapshot meeting T4 later does: the export's names become catalogue ids.
    ArtistName.update(artist="A1").where(ArtistName.name == "Alpha").execute()
    AlbumName.update(album="AL1").where(AlbumName.name == "First").execute()
    for track_id, ended in (
        ("T1", "2024-03-29 22:59:59"),
        ("T1", "2024-03-29 23:00:30"),
        ("T5", "2024-03-30 18:00:00"),
        ("T2", "2024-03-31 00:59:00"),
        ("T1", "2024-03-31 01:00:00"),
    ):
        Play.create(user=user_id, track=track_id, played_at=_utc(ended), origin=Play.POLLED)


@pytest.fixture
def user_id(database: Database) -> int:
    def build() -> int:
        user = make_user("ann")
        _history(user.id)
        return int(user.id)

    return database.run_sync(build)


def _stats(database: Database, user_id: int, **changes: Any) -> dict[str, Any]:
    span = StatsRange(user_id, BERLIN, dt.date(2024, 3, 30), dt.date(2024, 3, 31))
    span = StatsRange(**{**span.__dict__, **changes})
    return database.run_sync(listening_statistics, span)


def _entry(id_: str | None, name: str, plays: int, minutes: float, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "name": name, **extra, "plays": plays, "minutes": minutes}


def test_totals_leave_out_short_plays_and_take_minutes_from_the_right_place(
    database: Database, user_id: int
) -> None:
    stats = _stats(database, user_id)

    # 180 + 150 + 200 + 240 + 180 + 60 seconds = 1,010,000 ms = 16.83 minutes
    assert stats["music"] == {
        "plays": 6,
        "minutes": 16.8,
        "distinct_tracks": 5,
        "distinct_artists": 3,  # A1 (with "Alpha"), Beta, A2
        "distinct_albums": 3,  # AL1 (with "First"), "Second", AL2
        "short_plays_left_out": 1,
    }
    assert stats["podcasts"] == {
        "plays": 1,
        "minutes": 30.0,
        "distinct_episodes": 1,
        "distinct_shows": 1,
    }


def test_short_plays_count_when_asked(database: Database, user_id: int) -> None:
    stats = _stats(database, user_id, include_short=True)

    assert stats["music"]["plays"] == 7
    assert stats["music"]["minutes"] == 17.2  # 1,030,000 ms
    assert stats["music"]["short_plays_left_out"] == 0
    assert stats["top"]["artists"]["by_plays"][1] == _entry(None, "Beta", 2, 2.8)


def test_top_lists_group_names_with_their_ids(database: Database, user_id: int) -> None:
    top = _stats(database, user_id)["top"]

    assert top["tracks"]["by_plays"] == [
        _entry("T1", "One", 2, 6.0, artist="Alpha"),
        _entry("T2", "Two", 1, 4.0, artist="Alpha"),
        _entry("T5", "Five", 1, 3.3, artist="Gamma"),
        _entry("T3", "Three", 1, 2.5, artist="Beta"),
        _entry("T4", "Four", 1, 1.0, artist="Alpha"),
    ]
    assert top["artists"]["by_plays"] == [
        _entry("A1", "Alpha", 4, 11.0),
        _entry("A2", "Gamma", 1, 3.3),
        _entry(None, "Beta", 1, 2.5),
    ]
    assert top["albums"]["by_minutes"] == [
        _entry("AL1", "First", 4, 11.0, artist="Alpha"),
        _entry("AL2", "Third", 1, 3.3, artist="Gamma"),
        _entry(None, "Second", 1, 2.5, artist="Beta"),
    ]
    assert top["shows"]["by_plays"] == [_entry(None, "The Daily", 1, 30.0)]


def test_top_by_minutes_differs_from_top_by_plays(database: Database, user_id: int) -> None:
    def add_long_play() -> None:
        # One 20-minute play outweighs T1's two plays in minutes, not in plays.
        long_play = _exported("track", "T6", "2024-03-30 15:00:00", 1_200_000, "Six", "Beta", None)
        store_exported_plays(user_id, [long_play])

    database.run_sync(add_long_play)
    tracks = _stats(database, user_id)["top"]["tracks"]

    assert [t["id"] for t in tracks["by_plays"][:2]] == ["T1", "T6"]
    assert [t["id"] for t in tracks["by_minutes"][:2]] == ["T6", "T1"]
    assert tracks["by_minutes"][0]["minutes"] == 20.0


def test_each_play_counts_in_the_local_hour_and_day_it_ended(
    database: Database, user_id: int
) -> None:
    stats = _stats(database, user_id)
    plays, minutes = stats["heatmap"]["plays"], stats["heatmap"]["minutes"]
    saturday, sunday = 5, 6
    filled = {
        (day, hour): (plays[day][hour], minutes[day][hour])
        for day in range(7)
        for hour in range(24)
        if plays[day][hour]
    }

    assert stats["heatmap"]["weekdays"][saturday] == "saturday"
    assert filled == {
        (saturday, 0): (1, 3.0),  # began on Friday, ended after midnight
        (saturday, 13): (1, 2.5),
        (saturday, 19): (1, 3.3),
        (sunday, 1): (1, 4.0),  # 00:59 UTC, still winter time
        (sunday, 3): (1, 3.0),  # 01:00 UTC, summer time: 02:xx never happened
        (sunday, 12): (1, 30.0),
        (sunday, 23): (1, 1.0),
    }
    assert stats["days"] == [
        {
            "date": "2024-03-30",
            "plays": 3,
            "minutes": 8.8,
            "music_minutes": 8.8,
            "podcast_minutes": 0.0,
        },
        {
            "date": "2024-03-31",
            "plays": 4,
            "minutes": 38.0,
            "music_minutes": 8.0,
            "podcast_minutes": 30.0,
        },
    ]
    assert stats["longest_streak"] == {"days": 2, "from": "2024-03-30", "to": "2024-03-31"}


def test_in_utc_the_same_plays_fall_on_other_days(database: Database, user_id: int) -> None:
    stats = _stats(database, user_id, zone=zoneinfo.ZoneInfo("UTC"))

    # In UTC, P2 ended on the 29th; the 30th has P3 and P5; the 31st has P6, P7, E1, P8 and P9.
    assert [(d["date"], d["plays"]) for d in stats["days"]] == [
        ("2024-03-30", 2),
        ("2024-03-31", 5),
    ]


def test_discoveries_are_artists_first_heard_in_the_range(database: Database, user_id: int) -> None:
    found = _stats(database, user_id)["discoveries"]
    later = _stats(database, user_id, first_day=dt.date(2024, 3, 31))["discoveries"]

    assert found == {
        "count": 1,
        "artists": [
            {
                "id": "A2",
                "name": "Gamma",
                "first_played_at": "2024-03-30T18:00:00Z",
                "plays": 1,
                "minutes": 3.3,
            }
        ],
    }
    assert later == {"count": 0, "artists": []}


def test_the_autumn_hour_that_happens_twice_counts_twice(database: Database) -> None:
    def build() -> int:
        user = make_user("bea")
        _catalogue()
        for ended in ("2024-10-27 00:30:00", "2024-10-27 01:30:00", "2024-10-27 22:59:59"):
            Play.create(user=user, track="T1", played_at=_utc(ended), origin=Play.POLLED)
        return int(user.id)

    user_id = database.run_sync(build)
    span = StatsRange(user_id, BERLIN, dt.date(2024, 10, 27), dt.date(2024, 10, 27))
    stats = database.run_sync(listening_statistics, span)

    sunday = 6
    assert stats["heatmap"]["plays"][sunday][2] == 2  # 02:30 CEST, then 02:30 CET
    assert stats["heatmap"]["plays"][sunday][23] == 1  # 23:59:59 CET, a 25-hour day
    assert [(d["date"], d["plays"]) for d in stats["days"]] == [("2024-10-27", 3)]


def test_a_half_hour_zone(database: Database) -> None:
    def build() -> int:
        user = make_user("cai")
        _catalogue()
        for ended in ("2024-03-30 18:29:59", "2024-03-30 18:30:00"):
            Play.create(user=user, track="T1", played_at=_utc(ended), origin=Play.POLLED)
        return int(user.id)

    user_id = database.run_sync(build)
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")  # UTC+05:30
    span = StatsRange(user_id, kolkata, dt.date(2024, 3, 30), dt.date(2024, 3, 31))
    stats = database.run_sync(listening_statistics, span)

    saturday, sunday = 5, 6
    assert stats["heatmap"]["plays"][saturday][23] == 1
    assert stats["heatmap"]["plays"][sunday][0] == 1
    assert [(d["date"], d["plays"]) for d in stats["days"]] == [
        ("2024-03-30", 1),
        ("2024-03-31", 1),
    ]


def test_an_empty_range(database: Database, user_id: int) -> None:
    stats = _stats(database, user_id, first_day=dt.date(2020, 1, 1), last_day=dt.date(2020, 1, 3))

    assert stats["music"]["plays"] == 0
    assert stats["music"]["minutes"] == 0.0
    assert stats["top"]["tracks"] == {"by_plays": [], "by_minutes": []}
    assert stats["longest_streak"] == {"days": 0, "from": None, "to": None}
    assert len(stats["days"]) == 3
    assert stats["discoveries"] == {"count": 0, "artists": []}
