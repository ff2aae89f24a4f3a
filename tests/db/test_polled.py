"""Polled plays are stored once, and a poll that cannot reach back records a gap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from db.database import Database
from db.models import HistoryGap, Play
from db.polled import record_polled_plays
from tests.factories import make_track, make_user

START = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
PAGE = 3


def _poll(database: Database, minutes: list[int], track: str = "t1") -> int:
    plays = [(track, START + dt.timedelta(minutes=m)) for m in minutes]
    return database.run_sync(record_polled_plays, 1, plays, PAGE)


def _gaps(database: Database) -> list[tuple[Any, ...]]:
    query = HistoryGap.select(HistoryGap.starts_at, HistoryGap.ends_at).order_by(HistoryGap.id)
    return database.run_sync(lambda: [(row.starts_at, row.ends_at) for row in query])


@pytest.fixture
def ann(database: Database) -> Database:
    def seed() -> None:
        make_user("ann")
        make_track("t1")
        make_track("t2")

    database.run_sync(seed)
    return database


def _at(minutes: int) -> dt.datetime:
    return (START + dt.timedelta(minutes=minutes)).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("second_poll", "gaps"),
    [
        pytest.param([30, 31, 32], [(_at(2), _at(30))], id="full-page-beyond-the-history"),
        pytest.param([30, 31], [], id="page-not-full"),
        pytest.param([2, 31, 32], [], id="page-reaches-the-history"),
    ],
)
def test_a_full_page_newer_than_the_history_is_a_gap(
    ann: Database, second_poll: list[int], gaps: list[tuple[Any, ...]]
) -> None:
    assert _poll(ann, [0, 1, 2]) == 3
    assert _gaps(ann) == []  # the first poll has no history to miss
    assert _poll(ann, second_poll) == len(set(second_poll) - {0, 1, 2})
    assert _gaps(ann) == gaps
    _poll(ann, second_poll)
    assert _gaps(ann) == gaps  # the same page again adds nothing


@pytest.mark.parametrize(
    ("track", "seconds", "stored"),
    [
        pytest.param("t1", 10, 0, id="imported-10s-apart"),
        pytest.param("t1", 11, 1, id="imported-11s-apart"),
        pytest.param("t2", 1, 1, id="another-track"),
    ],
)
def test_a_play_already_imported_is_not_stored_again(
    ann: Database, track: str, seconds: int, stored: int
) -> None:
    imported_at = START.replace(tzinfo=None) + dt.timedelta(seconds=seconds)
    ann.run_sync(
        lambda: Play.create(user=1, track="t1", played_at=imported_at, origin=Play.IMPORTED)
    )
    assert _poll(ann, [0], track) == stored


async def test_history_lists_the_gaps_overlapping_its_range(
    ann: Database, api: httpx.AsyncClient
) -> None:
    def gaps() -> None:
        for first, last in (
            (dt.datetime(2026, 11, 1, 23), dt.datetime(2026, 11, 2, 1)),
            (dt.datetime(2026, 11, 5), dt.datetime(2026, 11, 6)),
        ):
            HistoryGap.create(user=1, starts_at=first, ends_at=last)

    ann.run_sync(gaps)
    body = (await api.get("/users/ann/history", params={"since": "2026-11-02"})).json()
    assert [(g["from"], g["to"]) for g in body["gaps"]] == [
        ("2026-11-01T23:00:00Z", "2026-11-02T01:00:00Z"),
        ("2026-11-05T00:00:00Z", "2026-11-06T00:00:00Z"),
    ]
    body = (await api.get("/users/ann/history", params={"until": "2026-11-01"})).json()
    assert [g["to"] for g in body["gaps"]] == ["2026-11-02T01:00:00Z"]
    body = (
        await api.get("/users/ann/history", params={"since": "2026-11-03", "until": "2026-11-04"})
    ).json()
    assert body["gaps"] == []
