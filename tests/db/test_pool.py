"""The PostgreSQL pool: a connection in steady use is handed out without a round trip; one
that sat idle is checked first, and one the server dropped is replaced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from db import database as database_module
from db.database import DATABASE_UNAVAILABLE, Database, Timeouts
from tests.conftest import terminate_backend
from tests.freezing_proxy import freezing_proxy


@pytest.fixture
def pool(postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url, pool_size=1)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def liveness_checks(pool: Database, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each time the pool asks the server whether a connection is alive."""
    checks: list[object] = []
    adapter = getattr(pool.peewee, "_adapter")  # noqa: B009 - peewee's, untyped
    original = adapter.is_connection_closed

    def counting(conn: Any) -> bool:
        checks.append(conn)
        return bool(original(conn))

    monkeypatch.setattr(adapter, "is_connection_closed", counting)
    return checks


def _backend_pid() -> int:
    return int(database_module.database_proxy.execute_sql("SELECT pg_backend_pid()").fetchone()[0])


def test_a_connection_in_steady_use_is_not_checked_each_time(
    pool: Database, liveness_checks: list[object]
) -> None:
    pids = {pool.run_sync(_backend_pid) for _ in range(5)}
    assert len(pids) == 1
    assert liveness_checks == []


def test_a_connection_idle_for_a_while_is_checked_before_use(
    pool: Database, liveness_checks: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool.run_sync(_backend_pid)
    monkeypatch.setattr(database_module, "TRUSTED_SECONDS", 0.0)
    pool.run_sync(_backend_pid)
    assert len(liveness_checks) == 1


def test_a_connection_the_server_dropped_costs_at_most_one_call(pool: Database) -> None:
    dropped = pool.run_sync(_backend_pid)
    terminate_backend(dropped)
    # Checked in a moment ago, it is trusted: its next statement finds it gone (a 503)...
    with contextlib.suppress(*DATABASE_UNAVAILABLE):
        pool.run_sync(_backend_pid)
    # ...and the pool never hands it out again.
    assert pool.run_sync(_backend_pid) != dropped


@pytest.mark.parametrize(
    "trusted", [pytest.param(True, id="statement"), pytest.param(False, id="check-out")]
)
async def test_a_connection_opened_before_the_server_froze_fails_within_its_bounds(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    """Its statement (or the pool's liveness check of it) is given up, never waited on for good."""
    parts = urlsplit(postgres_url)
    with freezing_proxy((parts.hostname or "", parts.port or 5432)) as proxy:
        through = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
        bounded = Database(through, pool_size=1, timeouts=Timeouts(connect=2.0, statement=1.0))
        try:
            bounded.run_sync(_backend_pid)
            proxy.freeze()
            if not trusted:
                monkeypatch.setattr(database_module, "TRUSTED_SECONDS", 0.0)
            # A guard far past the bounds (1 s + 2 s, then a 2 s connect): fail, never hang.
            asked = asyncio.ensure_future(bounded.run(_backend_pid))
            done, _ = await asyncio.wait({asked}, timeout=30)
            proxy.close()  # else a hung statement would hang the test's teardown too
            assert asked in done, "a statement waited on a frozen server past its bounds"
            with pytest.raises(DATABASE_UNAVAILABLE):
                asked.result()
        finally:
            proxy.close()
            bounded.close()
