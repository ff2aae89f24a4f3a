"""Source `co-listeners` over a run: the other users' listening is read once per run.

A night asks this source once per user; reading every other user's latest snapshot on each
ask made a night's reads grow with the square of the number of users.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from db.database import Database
from db.models import SnapshotTrack, TopItem
from jobs.recommend.co_listeners import CoListenersSource
from jobs.recommend.protocol import Taste
from tests.factories import make_snapshot, make_track, make_user

DAY = dt.date(2026, 11, 2)
LISTENING_TABLES = (TopItem._meta.table_name, SnapshotTrack._meta.table_name)
USERS = 6


def _taste(user_id: int, own: set[str]) -> Taste:
    return Taste(user_id, frozenset(own), affinity={}, artist_names={}, wanted=5)


def _world(database: Database) -> list[tuple[int, set[str]]]:
    """USERS users in a ring: each shares a track with the next, and plays one of their own."""
    with database.peewee.connection_context():
        for n in range(USERS * 2):
            make_track(f"T{n:02d}")
        users = []
        for n in range(USERS):
            own = {f"T{n:02d}", f"T{(n + 1) % USERS:02d}", f"T{USERS + n:02d}"}
            user = make_user(f"user{n}")
            make_snapshot(user, DAY, top_tracks={"short_term": sorted(own)})
            users.append((int(user.id), own))
    return users


@pytest.fixture
def listening_reads(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement that reads the snapshots' listening tables, as it is sent."""
    sent: list[str] = []
    execute = database.peewee.execute_sql

    def counted(sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.lstrip(" (").upper().startswith(("SELECT", "WITH")) and any(
            f'"{table}"' in sql for table in LISTENING_TABLES
        ):
            sent.append(sql)
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(database.peewee, "execute_sql", counted)
    return sent


async def test_a_runs_users_read_the_others_listening_once(
    database: Database, listening_reads: list[str]
) -> None:
    users = _world(database)
    listening_reads.clear()  # the world's own writes read them too
    source = CoListenersSource(database)

    for user_id, own in users:
        await source.candidates(_taste(user_id, own))

    assert len(listening_reads) == 1, "one read per run, not one per user"


async def test_each_user_gets_the_tracks_of_those_who_share_one(database: Database) -> None:
    users = _world(database)
    source = CoListenersSource(database)

    # user0 plays T00 T01 T06; user1 (T01 T02 T07) and user5 (T05 T00 T11) share one each.
    found = await source.candidates(_taste(*users[0]))

    assert [(c.track_id, c.support, c.seed_name) for c in found] == [
        ("T02", 1.0, "Track T01"),
        ("T05", 1.0, "Track T00"),
        ("T07", 1.0, "Track T01"),
        ("T11", 1.0, "Track T00"),
    ]
