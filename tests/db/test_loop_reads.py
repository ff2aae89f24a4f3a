"""One-row reads on the event loop (PostgreSQL): the row a thread would read, within the pool's
bounds, and never a connection left in an unknown state after a failure or a cancellation."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from db import documents
from db.database import DATABASE_UNAVAILABLE, Database, Timeouts
from db.documents import RECOMMENDATIONS
from db.queries import SnapshotNotFound
from db.users import UnknownUser
from tests.conftest import terminate_backend
from tests.factories import make_snapshot, make_track, make_user
from tests.freezing_proxy import freezing_proxy

DAY = dt.date(2026, 11, 20)
PID = "SELECT pg_backend_pid()"


@pytest.fixture
def reader(postgres_url: str) -> Iterator[Database]:
    db = Database(
        postgres_url, pool_size=1, read_connections=1, timeouts=Timeouts(connect=0.5, statement=5.0)
    )
    try:
        yield db
    finally:
        db.close()


async def test_a_stored_document_read_on_the_loop_is_the_one_a_thread_reads(
    database: Database,
) -> None:
    def write() -> None:
        make_track("t1")
        make_snapshot(make_user("ann"), DAY, recommendations=["t1"])

    database.run_sync(write)
    for date in (DAY, None):
        on_loop = await documents.read_document(database, "ann", date, RECOMMENDATIONS)
        threaded = await database.run(documents.find_document, "ann", date, RECOMMENDATIONS)
        assert on_loop == threaded
    with pytest.raises(SnapshotNotFound):
        await documents.read_document(database, "ann", DAY.replace(day=1), RECOMMENDATIONS)
    with pytest.raises(UnknownUser):
        await documents.read_document(database, "bob", None, RECOMMENDATIONS)


def test_sqlite_reads_in_threads(tmp_path: Path) -> None:
    sqlite = Database(f"sqlite:///{tmp_path / 'insight.db'}", create=True)
    try:
        assert not sqlite.reads_on_loop
        with pytest.raises(NotImplementedError):
            asyncio.run(sqlite.fetch_row(PID, []))
    finally:
        sqlite.close()


async def test_rows_and_no_row(reader: Database) -> None:
    assert await reader.fetch_row("SELECT %s::int, %s::text", [7, "x"]) == (7, "x")
    assert await reader.fetch_row("SELECT 1 WHERE false", []) is None


async def test_a_read_answered_during_a_busy_turn_goes_on_in_the_next_without_the_socket(
    reader: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Waiting for the socket takes two turns of a busy loop (the reader's callback, then the
    # read's resumption) where one is enough once the answer is in.
    assert await reader.fetch_row("SELECT %s::int", [1]) == (1,)  # connected and prepared
    loop = asyncio.get_running_loop()
    readers: list[int] = []

    def add_reader(fd: int, callback: Callable[..., Any], *args: Any) -> None:
        readers.append(fd)
        original(fd, callback, *args)

    original = loop.add_reader
    monkeypatch.setattr(loop, "add_reader", add_reader)

    async def busy_turn() -> None:
        time.sleep(1.0)  # the rest of the loop's turn, long past the server's answer

    read = asyncio.ensure_future(reader.fetch_row("SELECT %s::int", [2]))
    busy = asyncio.ensure_future(busy_turn())
    assert await read == (2,)
    await busy
    assert readers == []


async def test_a_connection_the_server_dropped_costs_at_most_one_read(reader: Database) -> None:
    row = await reader.fetch_row(PID, [])
    assert row is not None
    terminate_backend(row[0])
    with pytest.raises(DATABASE_UNAVAILABLE):
        await reader.fetch_row(PID, [])
    again = await reader.fetch_row(PID, [])
    assert again is not None
    assert again[0] != row[0]


async def test_a_read_waits_for_a_free_connection_only_as_long_as_a_connect(
    reader: Database,
) -> None:
    slow = asyncio.ensure_future(reader.fetch_row("SELECT pg_sleep(2)", []))
    await asyncio.sleep(0.1)
    with pytest.raises(DATABASE_UNAVAILABLE):
        await reader.fetch_row(PID, [])
    await slow
    assert await reader.fetch_row("SELECT 1", []) == (1,)


async def test_a_cancelled_read_gives_its_turn_back_and_its_connection_up(
    reader: Database, postgres_url: str
) -> None:
    first = await reader.fetch_row(PID, [])
    assert first is not None
    slow = asyncio.ensure_future(reader.fetch_row("SELECT pg_sleep(5)", []))
    waiting = asyncio.ensure_future(reader.fetch_row(PID, []))
    await asyncio.sleep(0.1)
    slow.cancel()
    waiting.cancel()
    await asyncio.gather(slow, waiting, return_exceptions=True)
    # The one turn is free again, and the cancelled statement's connection is not reused.
    after = await reader.fetch_row(PID, [])
    assert after is not None
    assert after[0] != first[0]


async def test_a_read_on_a_server_that_froze_fails_within_its_bounds(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    with freezing_proxy((parts.hostname or "", parts.port or 5432)) as proxy:
        through = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
        bounded = Database(
            through,
            pool_size=1,
            read_connections=1,
            timeouts=Timeouts(connect=1.0, statement=1.0),
        )
        try:
            assert await bounded.fetch_row("SELECT 1", []) == (1,)
            proxy.freeze()
            # A guard far past the bounds (1 s + 1 s): fail, never hang.
            asked = asyncio.ensure_future(bounded.fetch_row("SELECT 1", []))
            done, _ = await asyncio.wait({asked}, timeout=30)
            assert asked in done, "a read waited on a frozen server past its bounds"
            with pytest.raises(DATABASE_UNAVAILABLE):
                asked.result()
        finally:
            proxy.close()
            bounded.close()


async def test_each_statement_is_prepared_once_per_connection(reader: Database) -> None:
    for number in (1, 2, 3):
        assert await reader.fetch_row("SELECT %s::int + 1", [number]) == (number + 1,)
    listed = await reader.fetch_row(
        "SELECT array_agg(statement ORDER BY statement) FROM pg_prepared_statements", []
    )
    assert listed is not None
    assert listed[0] == [
        "PREPARE loop_read_1 AS SELECT $1::int + 1",
        "PREPARE loop_read_2 AS SELECT array_agg(statement ORDER BY statement) "
        "FROM pg_prepared_statements",
    ]


async def test_a_statement_with_other_placeholders_is_refused(reader: Database) -> None:
    with pytest.raises(ValueError, match="placeholders"):
        await reader.fetch_row("SELECT %(n)s", {"n": 1})  # type: ignore[arg-type]
    assert await reader.fetch_row("SELECT 1", []) == (1,)  # its one turn was not taken
