"""What other users play alongside a user's tracks, from the latest listening the database
reads for a run (`latest_listening`), on both kinds.

    user  snapshot                 tracks (top items + saved/recent)   shares with ann
    ann   own, any date            T1 T10                              (herself: ignored)
    bob   2026-11-01 (older)       T1 T9                               (not his latest)
    bob   2026-11-02 (latest)      T2 T4 T5                            T2
    cat   2026-11-02               T3 T4 + saved T4 T6                 T3
    dan   2026-11-02               T7 T8                               nothing
    eve   2026-11-01 (complete)    T2 T5                               T2
    eve   2026-11-02 (pending)     T1 T9                               (not complete)

ann's own tracks are T1, T2, T3.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable

import pytest

from db import snapshots
from db.database import Database
from db.models import Snapshot, SnapshotTrack
from db.snapshots import latest_listening
from jobs.recommend.co_listening import CoListening
from tests.factories import make_snapshot, make_track, make_user

OLDER = dt.date(2026, 11, 1)
LATEST = dt.date(2026, 11, 2)
UPSTREAM_SQLITE_VARIABLES = 32_766


def co_listened_tracks(
    user_id: int, own_tracks: Iterable[str], most: int | None = None
) -> list[tuple[str, int, str]]:
    return CoListening.of(latest_listening()).co_listened(user_id, own_tracks, most)


def _world() -> int:
    for n in range(1, 11):
        make_track(f"T{n}")
    ann = make_user("ann")
    make_snapshot(ann, LATEST, top_tracks={"short_term": ["T1", "T10"]})
    bob = make_user("bob")
    make_snapshot(bob, OLDER, top_tracks={"short_term": ["T1", "T9"]})
    make_snapshot(bob, LATEST, top_tracks={"short_term": ["T2", "T4", "T5"]})
    cat = make_snapshot(make_user("cat"), LATEST, top_tracks={"short_term": ["T3", "T4"]})
    for track_id in ("T4", "T6"):
        SnapshotTrack.create(snapshot=cat, kind=SnapshotTrack.SAVED, track=track_id)
    make_snapshot(make_user("dan"), LATEST, top_tracks={"short_term": ["T7", "T8"]})
    eve = make_user("eve")
    make_snapshot(eve, OLDER, top_tracks={"short_term": ["T2", "T5"]})
    pending = make_snapshot(eve, LATEST, top_tracks={"short_term": ["T1", "T9"]})
    Snapshot.update(status=Snapshot.PENDING).where(Snapshot.id == pending.id).execute()
    return int(ann.id)


def test_each_other_users_latest_complete_snapshot_counts_once(database: Database) -> None:
    with database.peewee.connection_context():
        ann = _world()
        found = co_listened_tracks(ann, ["T3", "T1", "T2", "T2"])
    assert found == [("T4", 2, "T2"), ("T5", 2, "T2"), ("T6", 1, "T3")]


def test_the_best_supported_first_when_only_the_most_are_wanted(database: Database) -> None:
    with database.peewee.connection_context():
        ann = _world()
        assert co_listened_tracks(ann, ["T1", "T2", "T3"], most=2) == [
            ("T4", 2, "T2"),
            ("T5", 2, "T2"),
        ]
        assert co_listened_tracks(ann, ["T1", "T2", "T3"], most=1) == [("T4", 2, "T2")]


def test_nothing_shared_or_nothing_own_finds_nothing(database: Database) -> None:
    with database.peewee.connection_context():
        ann = _world()
        assert co_listened_tracks(ann, []) == []
        assert co_listened_tracks(ann, ["T99"]) == []


def test_any_number_of_own_tracks_is_looked_up(database: Database) -> None:
    # More ids than SQLite binds in one statement as built upstream (32,766; Debian's build
    # allows 250,000, so the test sets the upstream limit): own tracks never reach a statement.
    many = ["T3", "T1", "T2", *(f"X{n:05d}" for n in range(33_000))]
    with database.peewee.connection_context():
        connection = database.peewee.connection()
        if isinstance(connection, sqlite3.Connection):
            connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, UPSTREAM_SQLITE_VARIABLES)
        ann = _world()
        found = co_listened_tracks(ann, many)
    assert found == [("T4", 2, "T2"), ("T5", 2, "T2"), ("T6", 1, "T3")]


def test_users_beyond_one_page_are_all_read(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "LISTENING_PAGE", 2)
    with database.peewee.connection_context():
        ann = _world()
        found = co_listened_tracks(ann, ["T1", "T2", "T3"])
    assert found == [("T4", 2, "T2"), ("T5", 2, "T2"), ("T6", 1, "T3")]
