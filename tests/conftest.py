"""Shared fixtures. Every test that takes `database` runs on SQLite and on PostgreSQL.

The PostgreSQL half uses a database of its own per test session (so parallel sessions on
one server never collide) and fresh tables per test. Without a server it is skipped with a
plain reason, unless REQUIRE_POSTGRES=1 (CI), where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from db.database import Database
from db.migrations import migrate
from db.models import ALL_MODELS

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")


def _admin_connection() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL database for this test session."""
    try:
        admin = _admin_connection()
    except psycopg2.OperationalError as exc:
        reason = f"PostgreSQL half skipped: no server at {POSTGRES_ADMIN_URL} ({exc})".strip()
        if _postgres_required():
            pytest.fail(reason.replace("skipped", "required (REQUIRE_POSTGRES=1)"))
        pytest.skip(reason)
    name = f"insight_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL of each kind the service supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'insight.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database with fresh tables, bound to the models."""
    db = Database(database_url, pool_size=4)
    with db.peewee.connection_context():
        db.peewee.drop_tables(ALL_MODELS, safe=True, cascade=db.is_postgres)
        migrate(db.peewee)
    try:
        yield db
    finally:
        db.close()
