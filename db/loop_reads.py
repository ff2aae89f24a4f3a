"""One-row reads awaited on the event loop: psycopg2's asynchronous connections, PostgreSQL only.

A read cache miss is one indexed row, yet through `Database.run` it took a worker thread:
a limiter token, a hand-off to the thread and back through the loop, and the GIL contended
with a loop that is busy serving: 230-260 us of the process's CPU a read, measured in process
with an idle loop, against 90-96 us for the same read done here (BENCHMARKS.md, api). Here
the statement is sent and its answer awaited as the socket becomes readable, with no thread.

The bounds are the pool's (`db.database`): a free connection, or a new one, within the
connect timeout; the server's statement_timeout; and the statement plus connect timeout for
a server that stopped answering. Every failure to get an answer is a `peewee.OperationalError`
(a 503), and a connection that failed or was cancelled mid-statement is closed, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

import peewee as pw
import psycopg2
import psycopg2.extensions

# psycopg2's own errors for a connection or server that does not answer; anything else (a
# malformed statement) is a defect and goes up as it is.
_UNANSWERED = (psycopg2.OperationalError, psycopg2.InterfaceError)


@dataclasses.dataclass(frozen=True, slots=True)
class _Statement:
    """A statement's name on the server and its SQL as PREPARE takes it."""

    name: str
    numbered: str


@dataclasses.dataclass(slots=True)
class _Connection:
    """An asynchronous connection and the statements prepared on it."""

    conn: Any
    prepared: set[str] = dataclasses.field(default_factory=set)


class LoopReader:
    """Up to `size` asynchronous connections, each used by one read at a time.

    Each statement is prepared on the server once per connection, then executed by name:
    planning the read cache's look-up (a join of two index scans) cost the server 190-340 us
    of CPU a read and executing it prepared 50-70 us, on the cores the service shares with it.
    """

    def __init__(
        self,
        connect_kwargs: dict[str, Any],
        size: int,
        *,
        connect_timeout: float,
        answer_timeout: float | None,
    ) -> None:
        self._kwargs = connect_kwargs
        self._size = size
        self._connect_timeout = connect_timeout
        self._answer_timeout = answer_timeout
        self._idle: list[_Connection] = []
        self._statements: dict[str, _Statement] = {}  # by the SQL fetch_row is given
        self._busy = 0
        self._waiters: list[asyncio.Future[None]] = []

    async def fetch_row(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The statement's first row, or None; raises peewee.OperationalError when unanswered."""
        # A statement that cannot be prepared is refused before it takes a turn.
        statement = self._statement(sql)
        await self._take_turn()
        try:
            held = await self._checkout()
            row = await self._ask(held, statement, params)
            self._idle.append(held)
            return row
        finally:
            self._give_turn()

    def close(self) -> None:
        """Close the idle connections (a connection in use is closed by its failing read)."""
        idle, self._idle = self._idle, []
        for held in idle:
            held.conn.close()

    async def _take_turn(self) -> None:
        if self._busy < self._size and not self._waiters:
            self._busy += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self._connect_timeout)
        except TimeoutError:
            raise pw.OperationalError(
                f"no free connection for a read within {self._connect_timeout:g} s"
            ) from None
        except BaseException:
            # Handed a turn just as it was cancelled: pass it on rather than lose it.
            if waiter.done() and not waiter.cancelled():
                self._give_turn()
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _give_turn(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)  # the turn passes on; _busy stays
                return
        self._busy -= 1

    async def _checkout(self) -> _Connection:
        while self._idle:
            held = self._idle.pop()
            if not held.conn.closed:
                return held
        return _Connection(await self._connected())

    async def _connected(self) -> Any:
        try:
            conn = psycopg2.connect(async_=True, **self._kwargs)
        except _UNANSWERED as exc:
            raise pw.OperationalError(str(exc)) from exc
        try:
            await _ready(conn, self._connect_timeout)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, TimeoutError | _UNANSWERED):
                raise pw.OperationalError(f"could not connect for a read: {exc}") from exc
            raise
        return conn

    def _statement(self, sql: str) -> _Statement:
        """`sql` as it is prepared, under the same name, on every connection."""
        statement = self._statements.get(sql)
        if statement is None:
            name = f"loop_read_{len(self._statements) + 1}"
            statement = self._statements[sql] = _Statement(name, _numbered(sql))
        return statement

    async def _ask(
        self, held: _Connection, statement: _Statement, params: Sequence[Any]
    ) -> tuple[Any, ...] | None:
        conn = held.conn
        name = statement.name
        arguments = f" ({', '.join(['%s'] * len(params))})" if params else ""
        try:
            cursor = conn.cursor()
            if name not in held.prepared:
                cursor.execute(f"PREPARE {name} AS {statement.numbered}")
                await _ready(conn, self._answer_timeout)
                held.prepared.add(name)
            cursor.execute(f"EXECUTE {name}{arguments}", params)
            await _ready(conn, self._answer_timeout)
            row = cursor.fetchone()
        except BaseException as exc:
            # Cancelled, timed out or failed mid-statement: the connection's state is unknown.
            conn.close()
            if isinstance(exc, TimeoutError):
                raise pw.OperationalError(
                    f"the server gave no answer within {self._answer_timeout:g} s"
                ) from exc
            if isinstance(exc, _UNANSWERED):
                raise pw.OperationalError(str(exc)) from exc
            raise
        return tuple(row) if row is not None else None


def _numbered(sql: str) -> str:
    """`sql` with psycopg2's `%s` placeholders as PREPARE's `$1`, `$2`..."""
    if "%%" in sql or "%(" in sql:
        raise ValueError("only %s placeholders can be prepared")
    pieces = sql.split("%s")
    numbered = [pieces[0]]
    for number, piece in enumerate(pieces[1:], start=1):
        numbered.append(f"${number}{piece}")
    return "".join(numbered)


async def _ready(conn: Any, timeout: float | None) -> None:
    """Until the connection's pending work (connecting, a statement) is done; TimeoutError
    after `timeout` seconds. A timer, not asyncio.wait_for: that wraps the wait in a task of
    its own, a cost on every read.

    It looks again after one turn of the loop before it waits for the socket. On a busy loop
    the answer (the server's ~1 ms) is there by then, and the read goes on in that turn; the
    socket's wait would take two (the reader's callback, then this task's resumption), each
    as long as the loop's whole batch of requests, and register and remove a reader as well.
    An idle loop's next turn comes at once, so there the socket's wait follows as before.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    await asyncio.sleep(0)
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        ready = loop.create_future()
        fd = conn.fileno()
        reading = state == psycopg2.extensions.POLL_READ
        (loop.add_reader if reading else loop.add_writer)(fd, _wake, ready)
        timer = None if deadline is None else loop.call_at(deadline, _expire, ready)
        try:
            await ready
        finally:
            (loop.remove_reader if reading else loop.remove_writer)(fd)
            if timer is not None:
                timer.cancel()


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _expire(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_exception(TimeoutError())
