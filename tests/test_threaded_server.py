"""The thread-served uvicorn of tests/threaded_server.py: an app that cannot start fails the
test that serves it, and leaves no server thread behind."""

from __future__ import annotations

import threading

import pytest
from starlette.types import Receive, Scope, Send

from tests.threaded_server import bound_socket, serving


async def _failing_startup(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


def test_an_app_that_cannot_start_fails_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    with (
        bound_socket() as sock,
        pytest.raises(AssertionError, match="did not start"),
        serving(_failing_startup, sock),
    ):
        pass
    assert set(threading.enumerate()) <= before
