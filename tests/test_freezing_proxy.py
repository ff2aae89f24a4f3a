"""The proxy the database tests freeze in front of PostgreSQL: closing it ends every connection
through it, even one its thread was still setting up, so no socket is left for the garbage
collector to find (a ResourceWarning, an error under pytest, in whichever later test the
collection happens to run)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.freezing_proxy import FreezingProxy

PATIENCE = 10.0


@pytest.fixture
def upstream() -> Iterator[socket.socket]:
    """A listener standing for the database server."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(PATIENCE)
        yield listener


def _connected(port: int) -> socket.socket:
    client = socket.socket()
    client.settimeout(PATIENCE)
    client.connect(("127.0.0.1", port))
    return client


def test_a_connection_set_up_as_the_proxy_closes_is_ended_with_it(
    upstream: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialling, closed = threading.Event(), threading.Event()
    dial = socket.create_connection

    def starved(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        # The proxy's thread, starved on a loaded machine, dials the server after close().
        dialling.set()
        closed.wait(PATIENCE)
        return dial(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", starved)
    proxy = FreezingProxy(upstream.getsockname())
    with _connected(proxy.port) as client:
        assert dialling.wait(PATIENCE)
        proxy.close()
        closed.set()
        served, _ = upstream.accept()
        with served:
            served.settimeout(PATIENCE)
            assert served.recv(1) == b"", "the proxy kept its connection to the server"
        assert client.recv(1) == b"", "the proxy kept the client's connection"


def test_a_client_the_server_refuses_is_closed(upstream: socket.socket) -> None:
    refusing = upstream.getsockname()
    upstream.close()
    proxy = FreezingProxy(refusing)
    try:
        with _connected(proxy.port) as client:
            assert client.recv(1) == b""
    finally:
        proxy.close()
