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
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        """Close every connection: whatever still waits on the frozen server fails at once."""
        self._closed.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, one: socket.socket, other: socket.socket) -> None:
        peers = {one: other, other: one}
        while not self._closed.is_set():
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


@contextlib.contextmanager
def freezing_proxy(upstream: tuple[str, int]) -> Iterator[FreezingProxy]:
    proxy = FreezingProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
