"""Shared fixtures. Every test that takes `database` runs on SQLite and on PostgreSQL.

The PostgreSQL half uses a database of its own per test session (so parallel sessions on
one server never collide) and fresh tables per test. Without a server it is skipped with a
plain reason, unless REQUIRE_POSTGRES=1 (CI), where a missing server is a failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from application import build_app
from db.database import Database
from settings import Settings, variables
from tests.fresh_tables import fresh_tables

SETTING_NAMES = frozenset(variables())
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Debian's Chromium, which the browser half (tests/browser/) drives; Playwright downloads none.
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TESTS = "tests/browser/"


def postgres_required() -> bool:
    """Whether a missing PostgreSQL server fails the run (REQUIRE_POSTGRES=1, as in CI)."""
    return os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")


def postgres_admin() -> psycopg2.extensions.connection:
    """An autocommit connection to the test server; skipped (failed if required) without one."""
    try:
        conn = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = f"PostgreSQL half skipped: no server at {POSTGRES_ADMIN_URL} ({why})"
        if postgres_required():
            pytest.fail(reason.replace("skipped", "required (REQUIRE_POSTGRES=1)"))
        pytest.skip(reason)
    conn.autocommit = True
    return conn


def terminate_backend(pid: int) -> None:
    """Have the test server drop the connection served by backend `pid`, as a restart would."""
    admin = postgres_admin()
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        admin.close()


@contextlib.contextmanager
def throwaway_postgres(prefix: str = "insight_test") -> Iterator[str]:
    """URL of a PostgreSQL database of its own (dropped after), so parallel runs never collide."""
    admin = postgres_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL database for this test session."""
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL of each kind the service supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'insight.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database with fresh tables, bound to the models."""
    db = Database(database_url, pool_size=4, create=True)
    with db.peewee.connection_context():
        fresh_tables(db, database_url)
    try:
        yield db
    finally:
        db.close()


def fresh_settings(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    """Settings as a fresh install has them: none of the service's variables set but the URL."""
    for name in list(os.environ):
        if name in SETTING_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return Settings.from_environment(env_file=None)


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a fresh install has them, pointed at the test database (each kind)."""
    return fresh_settings(monkeypatch, database_url)


@pytest.fixture
def settings_without_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The same, once, for tests that never open the database (no PostgreSQL run to count)."""
    return fresh_settings(monkeypatch, f"sqlite:///{tmp_path / 'never-opened.db'}")


@pytest.fixture
async def app_client(
    database: Database, settings: Settings
) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """Factory of API clients running the real app (and its lifespan) with changed settings."""
    async with contextlib.AsyncExitStack() as stack:

        async def client(**overrides: Any) -> httpx.AsyncClient:
            app = build_app(dataclasses.replace(settings, **overrides))
            state = await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=with_lifespan_state(app, state))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://insight.test")
            )

        yield client


def with_lifespan_state(app: ASGIApp, state: Mapping[str, Any] | None) -> ASGIApp:
    """What an ASGI server does: hand the lifespan's state to every request."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        scope = {**scope, "state": dict(state or {})}
        await app(scope, receive, send)

    return asgi


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A TCP server that accepts connections (in the kernel's backlog) and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()
    finally:
        listener.close()


@pytest.fixture
async def api(app_client: Callable[..., Any]) -> httpx.AsyncClient:
    """An API client on the app with default settings."""
    client: httpx.AsyncClient = await app_client()
    return client


def _count(terminalreporter: Any, belongs: Callable[[str], bool]) -> tuple[int, int]:
    """(ran, skipped) among the test reports whose node id `belongs`."""
    ran = skipped = 0
    for outcome in ("passed", "failed", "error", "xfailed", "xpassed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if belongs(getattr(report, "nodeid", "")):
                if outcome == "skipped":
                    skipped += 1
                else:
                    ran += 1
    return ran, skipped


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly whether the PostgreSQL and browser halves ran; .ci/run relies on these lines."""
    ran, skipped = _count(terminalreporter, lambda nodeid: "[postgresql" in nodeid)
    if ran:
        terminalreporter.write_line(f"PostgreSQL half: ran {ran} tests")
    elif skipped:
        terminalreporter.write_line(
            f"PostgreSQL half: SKIPPED ({skipped} tests): no PostgreSQL server answered at "
            f"{POSTGRES_ADMIN_URL}; only SQLite was tested"
        )
    ran, skipped = _count(terminalreporter, lambda nodeid: nodeid.startswith(BROWSER_TESTS))
    if ran:
        terminalreporter.write_line(f"Browser half: ran {ran} tests")
    elif skipped:
        why = f"no Chromium at {CHROMIUM}" if not CHROMIUM.exists() else f"{skipped} tests"
        terminalreporter.write_line(f"Browser half: SKIPPED ({why})")
