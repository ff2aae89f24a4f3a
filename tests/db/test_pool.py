"""The PostgreSQL pool: a connection in steady use is handed out without a round trip; one
that sat idle is checked first, and one the server dropped is replaced."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from db import database as database_module
from db.database import DATABASE_UNAVAILABLE, Database


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


def test_a_connection_the_server_dropped_costs_at_most_one_call(
    pool: Database, postgres_url: str
) -> None:
    dropped = pool.run_sync(_backend_pid)
    admin = psycopg2.connect(postgres_url)
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (dropped,))
    finally:
        admin.close()
    # Checked in a moment ago, it is trusted: its next statement finds it gone (a 503)...
    with contextlib.suppress(*DATABASE_UNAVAILABLE):
        pool.run_sync(_backend_pid)
    # ...and the pool never hands it out again.
    assert pool.run_sync(_backend_pid) != dropped
