"""The database object: one URL, SQLite or PostgreSQL, and a way to use it off the event loop.

Peewee is synchronous. Every unit of database work runs in a worker thread through
`Database.run`, which opens a connection (from the pool on PostgreSQL), runs the work and
gives the connection back, all inside that one thread. The number of threads that may do
database work at once equals the pool size, so a request never waits on an empty pool while
holding a thread. The README explains why this won over `playhouse.pwasyncio`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import peewee as pw
from playhouse import db_url
from playhouse.pool import MaxConnectionsExceeded

database_proxy = pw.DatabaseProxy()

# The database is not answering (down, unreachable, or its pool empty): worth a retry, and a
# 503 rather than a 500. Callers outside `db/` catch these without importing Peewee.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    pw.OperationalError,
    pw.InterfaceError,
    MaxConnectionsExceeded,
)

P = ParamSpec("P")
T = TypeVar("T")

SQLITE_PRAGMAS = (
    ("journal_mode", "wal"),
    ("foreign_keys", 1),
    ("synchronous", "normal"),
    ("busy_timeout", 10_000),
)


class DatabaseURLError(ValueError):
    """DATABASE_URL names no database this service can use."""


def ping() -> None:
    """Ask the database for the cheapest answer it can give; raises when it is unavailable."""
    database_proxy.execute_sql("SELECT 1")


def _connect(url: str, pool_size: int) -> pw.Database:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return db_url.connect(url, pragmas=SQLITE_PRAGMAS)
    if scheme in ("postgres", "postgresql"):
        pooled = "postgresql+pool" + url[len(scheme) :]
        return db_url.connect(pooled, max_connections=pool_size, stale_timeout=300, timeout=30)
    raise DatabaseURLError(
        "DATABASE_URL must be sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
    )


class Database:
    """The service's one database, bound to the models' proxy."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self.pool_size = pool_size
        self.peewee = _connect(url, pool_size)
        self._limiter: anyio.CapacityLimiter | None = None
        database_proxy.initialize(self.peewee)

    @property
    def is_postgres(self) -> bool:
        return isinstance(self.peewee, pw.PostgresqlDatabase)

    def run_sync(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` on a connection of its own, in this thread (CLI, jobs, tests)."""
        with self.peewee.connection_context():
            return fn(*args, **kwargs)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` in a worker thread with a connection of its own; never blocks the loop."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.pool_size)
        work = functools.partial(self.run_sync, fn, *args, **kwargs)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

    def close(self) -> None:
        """Close every pooled connection (lifespan shutdown)."""
        close_all = getattr(self.peewee, "close_all", None)
        if close_all is not None:
            close_all()
        elif not self.peewee.is_closed():
            self.peewee.close()

    def describe(self) -> str:
        """The URL without any password, for logs and `--help` output."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url
