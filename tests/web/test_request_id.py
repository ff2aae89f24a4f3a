"""Every request has an id: the client's sane X-Request-ID or a new one, in logs and answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

import logs
from web.request_edge import RequestEdge
from web.request_id import request_id_from

Client = Callable[..., Awaitable[httpx.AsyncClient]]


class _Ids(logging.Handler):
    """Notes the request id in force when each record was logged."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), logs.request_id.get()))


async def test_a_sane_incoming_id_is_echoed_and_set_for_the_log_lines(
    app_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await app_client()
    handler = _Ids()
    health_logger = logging.getLogger("web.health")
    monkeypatch.setattr(health_logger, "level", logging.DEBUG)
    health_logger.addHandler(handler)
    try:
        # The health check logs a warning when the database does not answer: make it so.
        monkeypatch.setattr("db.database.Database.answers_within", _silent)
        response = await api.get("/health", headers={"X-Request-ID": "trace-42.a:b_c"})
    finally:
        health_logger.removeHandler(handler)
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "trace-42.a:b_c"
    assert handler.seen, "the health check logged nothing"
    assert {request_id for _, request_id in handler.seen} == {"trace-42.a:b_c"}


async def _silent(self: object, seconds: float) -> bool:
    return False


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("x" * 65, id="too-long"),
        pytest.param("a b", id="space"),
        pytest.param("id\u00e9", id="not-ascii"),
        pytest.param("line\\nbreak", id="escape"),
    ],
)
async def test_a_missing_or_odd_id_is_replaced_by_a_fresh_one(
    app_client: Client, incoming: str | None
) -> None:
    api = await app_client()
    headers = {b"X-Request-ID": incoming.encode("utf-8")} if incoming is not None else {}
    first = await api.get("/health", headers=headers)
    second = await api.get("/health", headers=headers)
    given = first.headers["x-request-id"]
    assert given != incoming
    assert request_id_from(given) == given, "a fresh id is itself sane"
    assert second.headers["x-request-id"] != given


async def test_errors_and_unknown_paths_carry_the_id_too(app_client: Client) -> None:
    api = await app_client()
    missing = await api.get("/no/such/page", headers={"X-Request-ID": "abc"})
    bad = await api.get("/users/%20/clusters", headers={"X-Request-ID": "def"})
    assert (missing.status_code, missing.headers["x-request-id"]) == (404, "abc")
    assert (bad.status_code, bad.headers["x-request-id"]) == (400, "def")


async def test_the_answer_names_only_its_request_even_when_the_app_named_another() -> None:
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"x-request-id", b"inner"), (b"etag", b'"e"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope: Scope = {"type": "http", "method": "GET", "headers": [(b"x-request-id", b"outer-1")]}
    await RequestEdge(app, "http://testserver")(scope, receive, send)
    assert sorted(sent[0]["headers"]) == [(b"etag", b'"e"'), (b"x-request-id", b"outer-1")]
