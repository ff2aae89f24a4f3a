"""A client-side bound on every PostgreSQL statement, for a server that stops answering.

statement_timeout is the server's to enforce: a server that froze (stopped, hung host, a link
whose kernel still acknowledges) never does, and a pooled connection opened before the freeze
waited on its socket for good, holding a data route and the pool's shutdown. Every statement
of a bounded connection (peewee's, the pool's liveness check, BEGIN/COMMIT/ROLLBACK: all go
through `cursor.execute`) is watched; one still waiting past its bound has its socket shut,
so the driver fails it at once (an OperationalError: a 503, and the pool drops the connection).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from typing import Any

import psycopg2.extensions


class _Watchdog:
    """One daemon thread for the process, woken by nobody: it looks every `tick` seconds.

    `tick` is the shortest bound armed so far, so it always looks again before a deadline
    armed meanwhile passes, and a statement never pays for waking it.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._armed: dict[int, tuple[float, Any]] = {}
        self._tokens = itertools.count()
        self._tick = float("inf")
        self._thread: threading.Thread | None = None

    def arm(self, conn: Any, seconds: float) -> int:
        """Watch `conn` for `seconds` from now; returns the token that disarms it."""
        token = next(self._tokens)
        with self._lock:
            self._armed[token] = (time.monotonic() + seconds, conn)
            if seconds < self._tick:
                self._tick = seconds
                self._lock.notify()  # a shorter bound than any before: look sooner from now
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name="sql-watchdog", daemon=True
                    )
                    self._thread.start()
        return token

    def disarm(self, token: int) -> None:
        with self._lock:
            self._armed.pop(token, None)

    def _loop(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for token, (deadline, conn) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        _shut(conn)
                earliest = min((deadline for deadline, _ in self._armed.values()), default=now)
                self._lock.wait(min(self._tick, max(earliest - now, 0.0)) or self._tick)


def _shut(conn: Any) -> None:
    """Shut the connection's socket: its waiting statement fails instead of waiting on."""
    # A socket object over a copy of the descriptor; shutdown acts on the connection itself.
    with (
        contextlib.suppress(OSError, psycopg2.Error, ValueError),
        socket.socket(fileno=os.dup(conn.fileno())) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


def bounded_cursor(seconds: float) -> type[psycopg2.extensions.cursor]:
    """A psycopg2 cursor class whose statements fail once they wait more than `seconds`."""

    class BoundedCursor(psycopg2.extensions.cursor):
        # Arm and disarm inline: this runs for every statement of the service.
        def execute(self, query: Any, vars: Any = None) -> Any:
            token = _WATCHDOG.arm(self.connection, seconds)
            try:
                return super().execute(query, vars)
            finally:
                _WATCHDOG.disarm(token)

        def executemany(self, query: Any, vars_list: Any) -> Any:
            token = _WATCHDOG.arm(self.connection, seconds)
            try:
                return super().executemany(query, vars_list)
            finally:
                _WATCHDOG.disarm(token)

    return BoundedCursor
