"""The database object: one URL, SQLite or PostgreSQL, and a way to use it off the event loop.

Peewee is synchronous. Every unit of database work runs in a worker thread through
`Database.run`, which opens a connection (from the pool on PostgreSQL), runs the work and
gives the connection back, all inside that one thread. The number of threads that may do
database work at once equals the pool size, so a request never waits on an empty pool while
holding a thread. The README explains why this won over `playhouse.pwasyncio`.

The one exception: `fetch_row` reads one row on the event loop, on PostgreSQL connections of
its own (`db.loop_reads`), for the read cache's misses, where a thread hop cost more than the read.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import anyio.to_thread
import peewee as pw
from playhouse import db_url
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase

from db.loop_reads import LoopReader
from db.statement_watchdog import bounded_cursor

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


class DatabaseMissing(pw.OperationalError):
    """The SQLite file is not there; only `migrate` creates a database."""


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """How long to wait for a connection and for a statement (PostgreSQL); None = forever."""

    connect: float = 5.0
    statement: float | None = 60.0


class _ExistingSqlite(pw.SqliteDatabase):
    """SQLite that opens an existing file and never creates one.

    SQLite creates a missing file on connect: a moved database came back empty, /health
    said ok and every data route failed. `mode=rw` makes the open itself refuse.
    """

    def __init__(self, path: str, **kwargs: Any) -> None:
        self.path = path
        super().__init__(f"file:{quote(path)}?mode=rw", uri=True, **kwargs)

    def _connect(self) -> Any:
        if not Path(self.path).is_file():
            raise DatabaseMissing(
                f"the SQLite database {self.path} does not exist; "
                "run `python application.py migrate` to create it, or check DATABASE_URL"
            )
        return super()._connect()  # type: ignore[misc]


def ping() -> None:
    """Ask the database for the cheapest answer it can give; raises when it is unavailable."""
    database_proxy.execute_sql("SELECT 1")


# A connection checked in this recently is taken as alive without asking the server.
TRUSTED_SECONDS = 5.0


class _Pool(PooledPostgresqlDatabase):
    """Peewee's pool, minus a round trip per check-out while connections are in steady use.

    The pool asks the server `SELECT 1` at every check-out, under its lock: each unit of work
    paid a second round trip, one thread at a time (bench/api's profile, BENCHMARKS.md). A
    connection that was checked in less than TRUSTED_SECONDS ago, and whose driver state is
    sound, is handed out as it is; an idle one is still checked. A connection the server
    dropped within that window fails its statement once (a 503) and is discarded at check-in.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._returned_at: dict[int, float] = {}
        super().__init__(*args, **kwargs)

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned_at.pop(id(conn), None)
        if returned is not None and time.monotonic() - returned < TRUSTED_SECONDS:
            return bool(conn.closed)
        return bool(super()._is_closed(conn))

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        # Stamped before the check-in, so a thread that takes it at once finds the stamp.
        if close_conn:
            self._returned_at.pop(id(conn), None)
        else:
            self._returned_at[id(conn)] = time.monotonic()
        super()._close(conn, close_conn)


def _sqlite(url: str, create: bool) -> pw.Database:
    path = str(db_url.parse(url)["database"])
    if create or path == ":memory:":
        return pw.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS)
    return _ExistingSqlite(path, pragmas=SQLITE_PRAGMAS)


def _postgres_kwargs(url: str, scheme: str, timeouts: Timeouts) -> dict[str, Any]:
    """psycopg2.connect's arguments for the URL, with the service's bounds."""
    parsed = db_url.parse("postgresql" + url[len(scheme) :])
    # libpq's connect_timeout is whole seconds, at least 2 (it treats 1 as 2).
    connect = max(2, math.ceil(timeouts.connect))
    options: dict[str, Any] = {}
    if timeouts.statement is not None:
        options["options"] = f"-c statement_timeout={math.ceil(timeouts.statement * 1000)}"
    # As db_url.connect did: our settings win over the same keys in the URL's query.
    return {**parsed, "connect_timeout": connect, **options}


def _postgres(url: str, scheme: str, pool_size: int, timeouts: Timeouts) -> pw.Database:
    kwargs = _postgres_kwargs(url, scheme, timeouts)
    database = kwargs.pop("database")
    if timeouts.statement is not None:
        # The server's timeout, plus the connect bound for its answer to arrive: past that,
        # the server is not answering at all (see db.statement_watchdog).
        kwargs["cursor_factory"] = bounded_cursor(timeouts.statement + timeouts.connect)
    return _Pool(
        database, max_connections=pool_size, stale_timeout=300, timeout=timeouts.connect, **kwargs
    )


# A read on the loop holds its connection until the loop resumes it, a turn or two of a
# busy loop (tens of ms under bench/api's archive), not just the server's ~1 ms: with 8,
# misses queued for a connection 107 ms at the median, doubling their latency; with 24, none
# waited (BENCHMARKS.md, api). Connections are opened only as reads need them.
READ_CONNECTIONS = 24


def _loop_reader(url: str, size: int, timeouts: Timeouts) -> LoopReader | None:
    scheme = urlsplit(url).scheme
    if scheme not in ("postgres", "postgresql"):
        return None
    answer = None if timeouts.statement is None else timeouts.statement + timeouts.connect
    return LoopReader(
        _postgres_kwargs(url, scheme, timeouts),
        size,
        connect_timeout=timeouts.connect,
        answer_timeout=answer,
    )


def _connect(url: str, pool_size: int, timeouts: Timeouts, create: bool) -> pw.Database:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return _sqlite(url, create)
    if scheme in ("postgres", "postgresql"):
        return _postgres(url, scheme, pool_size, timeouts)
    raise DatabaseURLError(
        "DATABASE_URL must be sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
    )


class Database:
    """The service's one database, bound to the models' proxy."""

    def __init__(
        self,
        url: str,
        pool_size: int = 8,
        *,
        read_connections: int = READ_CONNECTIONS,
        timeouts: Timeouts = Timeouts(),
        create: bool = False,
    ) -> None:
        """`create` lets SQLite make a missing file: for `migrate` (and tests) only.

        `read_connections`: at most this many of its own for reads on the loop (PostgreSQL).
        """
        self.url = url
        self.pool_size = pool_size
        self.peewee = _connect(url, pool_size, timeouts, create)
        # PostgreSQL's one-row reads on the loop (the read cache's misses); SQLite has none.
        self._loop_reader = _loop_reader(url, read_connections, timeouts)
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

    @property
    def reads_on_loop(self) -> bool:
        """Whether `fetch_row` reads on the event loop (PostgreSQL); else use `run`."""
        return self._loop_reader is not None

    async def fetch_row(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row of one read-only statement, awaited on the loop without a thread.

        PostgreSQL only (`reads_on_loop`), on up to `read_connections` connections of its own.
        """
        if self._loop_reader is None:
            raise NotImplementedError("reads on the loop need PostgreSQL; use run()")
        return await self._loop_reader.fetch_row(sql, params)

    async def answers_within(self, seconds: float) -> bool:
        """Whether the database answers a ping in time (health checks).

        A database that never answers must not hold the caller: the ping's thread is
        abandoned at the deadline (it ends when its connect or statement times out), and it
        bypasses the limiter, so threads stuck on data routes cannot delay the answer.
        """
        work = functools.partial(self.run_sync, ping)
        with anyio.move_on_after(seconds):
            await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
            return True
        return False

    def close(self) -> None:
        """Close every pooled connection (lifespan shutdown)."""
        if self._loop_reader is not None:
            self._loop_reader.close()
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
