"""RequestEdge on its own: what status a request is counted under when no answer left."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

import metrics
from web.request_edge import RequestEdge


async def _receive() -> Message:
    return {"type": "http.request", "body": b""}


async def _send(message: Message) -> None:
    return None


async def _answers(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _fails(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("broken")


async def _cancelled(scope: Scope, receive: Receive, send: Send) -> None:
    raise asyncio.CancelledError


async def _cancelled_after_answering(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise asyncio.CancelledError


def _count(status: str) -> float:
    return metrics.HTTP_REQUESTS.labels("GET", "unmatched", status)._value.get()


@pytest.mark.parametrize(
    ("app", "status", "raised"),
    [
        pytest.param(_answers, "204", None, id="answered"),
        pytest.param(_fails, "500", RuntimeError, id="failed-before-answering"),
        pytest.param(_cancelled, "499", asyncio.CancelledError, id="cancelled-before-answering"),
        pytest.param(
            _cancelled_after_answering, "200", asyncio.CancelledError, id="cancelled-mid-answer"
        ),
    ],
)
async def test_each_request_is_counted_once_under_what_the_client_got(
    app: object, status: str, raised: type[BaseException] | None
) -> None:
    middleware = RequestEdge(app, "http://testserver")  # type: ignore[arg-type]
    scope: Scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    before = {code: _count(code) for code in ("200", "204", "499", "500")}
    if raised is None:
        await middleware(scope, _receive, _send)
    else:
        with pytest.raises(raised):
            await middleware(scope, _receive, _send)
    grew = {code: _count(code) - count for code, count in before.items() if _count(code) != count}
    assert grew == {status: 1}
