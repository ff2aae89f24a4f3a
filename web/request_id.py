"""Every request gets an id: the client's X-Request-ID when it is sane, else a new one.

The id is set in `logs.request_id` for everything the request does (log lines, uvicorn's
access line) and echoed in the response's X-Request-ID, so a client's report and the
service's logs can be matched. An incoming id is taken only if it is short and plain, since
it is written into logs and headers as it came.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

import logs

HEADER = "x-request-id"
_HEADER = HEADER.encode()
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(raw: str | None) -> str:
    """The client's id if it is 1-64 letters, digits or `._:-`; a fresh random one otherwise."""
    if raw is not None and SANE_ID.fullmatch(raw):
        return raw
    # 32 hex digits, as uuid4().hex gave, at a quarter of the cost (no UUID object built).
    return secrets.token_hex(16)


class RequestId:
    """Pure ASGI middleware: names the request in the logs and in its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(_HEADER)
        request_id = request_id_from(raw.decode("latin-1") if raw is not None else None)
        # Not reset afterwards: the server runs each request in a context of its own, and
        # an error page sent after this returns still belongs to the request.
        logs.request_id.set(request_id)
        header = (_HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*_others(message.get("headers", ())), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _others(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers but an X-Request-ID of its own (this one names the request).

    ASGI header names are lower-case, so they are compared as they are.
    """
    return [pair for pair in headers if pair[0] != _HEADER]
