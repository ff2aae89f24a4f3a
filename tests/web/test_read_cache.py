"""The read cache: hits need no database, a byte budget bounds it, and whatever another process
changes is seen within the visibility interval (an injected clock stands in for time)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from db import documents
from db.database import Database
from db.documents import Document
from db.models import Snapshot, SnapshotDocument, User
from db.queries import SnapshotNotFound
from db.users import UnknownUser
from tests.factories import make_snapshot, make_track, make_user
from web.read_cache import (
    BODY_OVERHEAD,
    ENTRY_OVERHEAD,
    LATEST_OVERHEAD,
    VISIBILITY_SECONDS,
    ReadCache,
)

DAY = dt.date(2026, 11, 20)
YESTERDAY = DAY - dt.timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def calls(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every unit of database work the cache asks for."""
    seen: list[str] = []
    run = database.run

    async def counting(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(fn.__name__)
        return await run(fn, *args, **kwargs)

    monkeypatch.setattr(database, "run", counting)
    if database.reads_on_loop:
        fetch_row = database.fetch_row

        # PostgreSQL reads a stored document on the loop: the same unit of work, one row.
        async def fetching(sql: str, params: Any) -> Any:
            seen.append("find_document")
            return await fetch_row(sql, params)

        monkeypatch.setattr(database, "fetch_row", fetching)
    return seen


def _seed(database: Database) -> None:
    def write() -> None:
        user = make_user("ann")
        make_track("t1")
        make_track("t2")
        make_snapshot(user, YESTERDAY, recommendations=["t1"])
        make_snapshot(user, DAY, recommendations=["t2"])

    database.run_sync(write)


def _picks(document: Document) -> list[str]:
    body = orjson.loads(document.body)
    return [pick["track"]["id"] for pick in body["recommendations"]]


async def test_latest_and_dated_hits_need_no_database(database: Database, calls: list[str]) -> None:
    _seed(database)
    cache = ReadCache(database, 2**20, clock=Clock())
    first = await cache.document("ann", None, documents.RECOMMENDATIONS)
    assert (first.date, calls) == (DAY, ["change_marker", "find_document"])
    calls.clear()
    assert await cache.document("ann", None, documents.RECOMMENDATIONS) == first
    assert await cache.document("ann", DAY, documents.RECOMMENDATIONS) == first
    assert calls == []


async def test_the_change_marker_is_read_at_most_once_per_interval(
    database: Database, calls: list[str]
) -> None:
    _seed(database)
    clock = Clock()
    cache = ReadCache(database, 2**20, clock=clock)
    start = clock.now
    for offset in (0.0, 0.5, 1.0, 1.9):
        clock.now = start + offset
        await cache.document("ann", DAY, documents.CLUSTERS)
    assert calls.count("change_marker") == 1
    clock.now = start + VISIBILITY_SECONDS
    await cache.document("ann", DAY, documents.CLUSTERS)
    assert calls.count("change_marker") == 2


def _new_latest() -> None:
    make_track("t3")
    make_snapshot(User.get(username="ann"), DAY + dt.timedelta(days=1), recommendations=["t3"])


def _forced_redo() -> None:
    Snapshot.delete().where(Snapshot.date == DAY).execute()
    make_track("t3")
    make_snapshot(User.get(username="ann"), DAY, recommendations=["t3"])


def _deleted_snapshot() -> None:
    Snapshot.delete().where(Snapshot.date == DAY).execute()


def _deleted_user() -> None:
    User.delete().where(User.username == "ann").execute()


@pytest.mark.parametrize(
    ("change", "date", "expected"),
    [
        pytest.param(_new_latest, None, ["t3"], id="new-snapshot-becomes-latest"),
        pytest.param(_forced_redo, DAY, ["t3"], id="forced-redo"),
        pytest.param(_forced_redo, None, ["t3"], id="forced-redo-of-latest"),
        pytest.param(_deleted_snapshot, None, ["t1"], id="deleted-latest-snapshot"),
        pytest.param(_deleted_snapshot, DAY, SnapshotNotFound, id="deleted-dated-snapshot"),
        pytest.param(_deleted_user, DAY, UnknownUser, id="deleted-user"),
    ],
)
async def test_another_processes_change_is_seen_within_the_interval(
    database: Database,
    change: Callable[[], None],
    date: dt.date | None,
    expected: list[str] | type[Exception],
) -> None:
    _seed(database)
    clock = Clock()
    cache = ReadCache(database, 2**20, clock=clock)
    before = await cache.document("ann", date, documents.RECOMMENDATIONS)
    assert _picks(before) == ["t2"]
    database.run_sync(change)  # as the CLI or another worker would
    clock.now += VISIBILITY_SECONDS
    if isinstance(expected, list):
        after = await cache.document("ann", date, documents.RECOMMENDATIONS)
        assert _picks(after) == expected
        assert after.etag != before.etag
    else:
        with pytest.raises(expected):
            await cache.document("ann", date, documents.RECOMMENDATIONS)


async def test_the_byte_budget_evicts_the_least_recently_used(
    database: Database, calls: list[str]
) -> None:
    _seed(database)
    sizes = [
        database.run_sync(documents.find_document, "ann", day, documents.RECOMMENDATIONS).size
        for day in (YESTERDAY, DAY)
    ]
    cache = ReadCache(database, max(sizes) * 2 + 2 * ENTRY_OVERHEAD, clock=Clock())
    await cache.document("ann", YESTERDAY, documents.RECOMMENDATIONS)
    await cache.document("ann", DAY, documents.RECOMMENDATIONS)
    await cache.document("ann", YESTERDAY, documents.RECOMMENDATIONS)  # now the most recent
    await cache.document("ann", DAY, documents.CLUSTERS)  # pushes DAY's recommendations out
    assert cache.used_bytes <= max(sizes) * 2 + 2 * ENTRY_OVERHEAD
    calls.clear()
    await cache.document("ann", YESTERDAY, documents.RECOMMENDATIONS)
    assert calls == []
    await cache.document("ann", DAY, documents.RECOMMENDATIONS)
    assert calls == ["find_document"]


async def test_a_document_larger_than_the_budget_is_served_but_not_kept(
    database: Database, calls: list[str]
) -> None:
    _seed(database)
    cache = ReadCache(database, 10, clock=Clock())
    for _ in range(2):
        await cache.document("ann", DAY, documents.RECOMMENDATIONS)
    assert calls.count("find_document") == 2
    assert cache.used_bytes == 0


def _stored_copies(day: dt.date) -> tuple[bytes, bytes]:
    """(body, gzip copy) of ann's recommendations on `day`, as the database holds them."""
    row = (
        SnapshotDocument.select(SnapshotDocument.body, SnapshotDocument.gzip)
        .where(
            (SnapshotDocument.date == day) & (SnapshotDocument.variant == documents.RECOMMENDATIONS)
        )
        .get()
    )
    return bytes(row.body), bytes(row.gzip)


async def test_entries_hold_only_the_gzip_copy_and_inflate_the_body_on_demand(
    database: Database, calls: list[str]
) -> None:
    _seed(database)
    copies = [database.run_sync(_stored_copies, day) for day in (YESTERDAY, DAY)]
    # Room for both gzip copies, not for both bodies besides.
    budget = sum(len(zipped) + ENTRY_OVERHEAD for _, zipped in copies)
    cache = ReadCache(database, budget, clock=Clock())
    for day in (YESTERDAY, DAY):
        await cache.document("ann", day, documents.RECOMMENDATIONS)
    assert cache.used_bytes == budget
    calls.clear()
    for day, (body, zipped) in zip((YESTERDAY, DAY), copies, strict=True):
        document = await cache.document("ann", day, documents.RECOMMENDATIONS)
        assert (document.gzip, document.body) == (zipped, body)
    assert calls == []


@pytest.mark.parametrize("date", [pytest.param(None, id="latest"), pytest.param(DAY, id="dated")])
async def test_a_plain_read_keeps_its_body_in_room_to_spare(
    database: Database, calls: list[str], date: dt.date | None
) -> None:
    _seed(database)
    cache = ReadCache(database, 2**20, clock=Clock())
    document = await cache.document("ann", date, documents.RECOMMENDATIONS)
    assert document.plain is None  # a read fetches and keeps only the gzip copy
    first = cache.body("ann", document, documents.RECOMMENDATIONS)
    again = await cache.document("ann", date, documents.RECOMMENDATIONS)
    body, zipped = database.run_sync(_stored_copies, DAY)
    assert first == body
    assert cache.body("ann", again, documents.RECOMMENDATIONS) is first  # inflated once, held
    latest = LATEST_OVERHEAD if date is None else 0
    assert cache.used_bytes == len(zipped) + ENTRY_OVERHEAD + len(body) + BODY_OVERHEAD + latest
    # A gzip client gets the same entry; the body beside it does not change the copy served.
    assert again.gzip == zipped
    assert calls.count("find_document") == 1


async def test_a_kept_body_never_costs_a_gzip_copy_its_place(
    database: Database, calls: list[str]
) -> None:
    _seed(database)
    copies = {day: database.run_sync(_stored_copies, day) for day in (YESTERDAY, DAY)}
    # Room for both gzip copies and one body, not two.
    (body, zipped), (other_body, other_zipped) = copies[DAY], copies[YESTERDAY]
    budget = len(zipped) + len(other_zipped) + 2 * ENTRY_OVERHEAD + len(body) + BODY_OVERHEAD
    cache = ReadCache(database, budget, clock=Clock())
    today = await cache.document("ann", DAY, documents.RECOMMENDATIONS)
    cache.body("ann", today, documents.RECOMMENDATIONS)
    yesterday = await cache.document("ann", YESTERDAY, documents.RECOMMENDATIONS)
    # No room for yesterday's body but by pushing out a copy: served, not kept.
    assert cache.body("ann", yesterday, documents.RECOMMENDATIONS) == other_body
    assert cache.used_bytes == budget
    # A copy that needs room takes it from the bodies first.
    await cache.document("ann", DAY, documents.CLUSTERS)
    assert cache.used_bytes <= budget
    assert cache.keys()[-2:] == [
        ("ann", YESTERDAY, documents.RECOMMENDATIONS),
        ("ann", DAY, documents.CLUSTERS),
    ]
    calls.clear()
    assert cache.body("ann", today, documents.RECOMMENDATIONS) == body
    assert await cache.document("ann", YESTERDAY, documents.RECOMMENDATIONS) is yesterday
    assert calls == []


class Archive:
    """A database stand-in answering every look-up with a new document as `_stored` builds one:
    its own date, ETag string and 2.7 kB gzip copy (a recommendations document's)."""

    reads_on_loop = False

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if fn is documents.change_marker:
            return ()
        _, date, _ = args
        zipped = os.urandom(2700)
        etag = '"' + hashlib.sha256(zipped).hexdigest()[:32] + '"'
        day = date or DAY
        return Document(dt.date(day.year, day.month, day.day), etag, zipped)


async def test_a_full_cache_holds_no_more_memory_than_its_budget() -> None:
    # Latest reads of many users fill the documents and the latest map; dated reads of each
    # user's archive then push the latest reads' documents out.
    budget = 4 * 2**20
    cache = ReadCache(Archive(), budget, clock=Clock())  # type: ignore[arg-type]
    await cache.document("warm", DAY, documents.RECOMMENDATIONS)
    cache.clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for user in range(10_000):
            await cache.document(f"user{user:06d}", None, documents.RECOMMENDATIONS)
        for user in range(100):
            for day in range(30):
                date = DAY - dt.timedelta(days=day)
                await cache.document(f"user{user:06d}", date, documents.RECOMMENDATIONS)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.used_bytes <= budget
    assert held <= budget * 1.1
