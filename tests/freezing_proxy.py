"""A TCP proxy to the test PostgreSQL that can freeze: connections stay open, nothing answers.

It stands for a database server that stopped (SIGSTOP, a hung host, a dead link whose kernel
still acknowledges): connections opened before the freeze see their statements vanish, and the
server cannot enforce its own statement_timeout. The shared test server itself is never frozen.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator


class FreezingProxy:
    """Forwards 127.0.0.1:`port` to `upstream` until `freeze()`; then holds every byte."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.frozen = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        """Close every connection: whatever still waits on the frozen server fails at once."""
        with self._lock:
            self._closed = True
            sockets, self._sockets = [self._listener, *self._sockets], []
        for sock in sockets:
            _end(sock)

    def _held(self, sock: socket.socket) -> bool:
        """Whether `sock` is held until close(); one opened after close() is ended at once.

        On a loaded machine the accepting thread can be starved past close() with a
        connection in hand: left open, its socket waited for the garbage collector, whose
        ResourceWarning failed whichever later test the collection ran in.
        """
        with self._lock:
            if not self._closed:
                self._sockets.append(sock)
                return True
        _end(sock)
        return False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._held(client):
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _end(client)  # as a server that refuses would
                continue
            if not self._held(server):
                return
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, one: socket.socket, other: socket.socket) -> None:
        peers = {one: other, other: one}
        while not self._closed:
            try:
                ready, _, _ = select.select([one, other], [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if not self.frozen.is_set():  # frozen: swallowed, as by a stopped server
                        peers[sock].sendall(data)
            except (OSError, ValueError):
                return


def _end(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextlib.contextmanager
def freezing_proxy(upstream: tuple[str, int]) -> Iterator[FreezingProxy]:
    proxy = FreezingProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
