"""The real service under uvicorn on a loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT = 15.0


@contextlib.contextmanager
def bound_socket() -> Iterator[socket.socket]:
    """A socket bound to a free loopback port, closed afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@contextlib.contextmanager
def serving(app: ASGIApp, sock: socket.socket, log_level: str = "info") -> Iterator[None]:
    """Serve `app` on `sock` until the block ends."""
    # No log_config: uvicorn's loggers then propagate to pytest's capture.
    config = uvicorn.Config(app, log_config=None, log_level=log_level, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=_run, args=(server, sock), daemon=True)
    thread.start()
    try:
        # Within the try: a server still starting when the wait gives up is stopped too.
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            assert thread.is_alive(), "the API did not start"
            assert time.monotonic() < deadline, "the API did not start in time"
            time.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)


def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    # uvicorn exits (SystemExit) when the app's startup fails: the waiting test says so.
    with contextlib.suppress(SystemExit):
        server.run(sockets=[sock])
