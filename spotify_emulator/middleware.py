"""The fault middleware: logs every request and makes targeted ones misbehave as told.

A plain ASGI middleware (not BaseHTTPMiddleware) so it can cut a response body short.
"""

from __future__ import annotations

import http
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spotify_emulator.errors import error_body
from spotify_emulator.faults import Decision, RequestRecord
from spotify_emulator.state import EmulatorState

CONTROL_PREFIX = "/_emulator"

logger = logging.getLogger(__name__)


class FaultMiddleware:
    """Applies the emulator's faults and records each request's arrival and status."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        injector = self.state.injector
        arrival = self.state.clock()
        decision = injector.decide() if injector.targets(scope["path"]) else Decision()
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            recorded = True
            self.state.record(
                RequestRecord(
                    time=arrival,
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    query=scope["query_string"].decode("latin-1"),
                    fault=decision.fault,
                    early=decision.early,
                    retry_after=decision.retry_after,
                )
            )

        async def send_logged(message: Message) -> None:
            # Logged before the status leaves, so a client that has its answer finds it logged.
            if message["type"] == "http.response.start":
                record(message["status"])
                if decision.blocks_until is not None:
                    injector.announce(decision.blocks_until)
            await send(message)

        if decision.fault:
            logger.debug("injecting %s into %s %s", decision.fault, scope["method"], scope["path"])
        try:
            if decision.delay:
                await self.state.sleep(decision.delay)
            await self._respond(decision, scope, receive, send_logged)
        finally:
            if not recorded:  # the app failed before answering: the server sends a 500
                record(500)

    async def _respond(
        self, decision: Decision, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if decision.fault == "quota":
            body = error_body(429, "Quota exceeded for this developer account", "QUOTA_EXCEEDED")
            await _send_json(send, 429, body, [])
        elif decision.fault == "rate_limited":
            headers: list[tuple[bytes, bytes]] = []
            if decision.retry_after is not None:
                headers.append((b"retry-after", str(decision.retry_after).encode()))
            await _send_json(send, 429, error_body(429, "API rate limit exceeded"), headers)
        elif decision.fault == "error":
            code = self.state.faults.error_status
            await _send_json(send, code, error_body(code, http.HTTPStatus(code).phrase), [])
        elif decision.fault == "malformed":
            await self.app(scope, receive, _Truncating(send))
        else:
            await self.app(scope, receive, send)


async def _send_json(
    send: Send, status: int, body: object, headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": payload})


class _Truncating:
    """Buffers a 200 answer and sends only the first half of its body (valid HTTP, broken JSON)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._start: Message | None = None
        self._body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            self._start = message
            return
        if self._start is None or message["type"] != "http.response.body":
            await self._send(message)
            return
        self._body += message.get("body", b"")
        if message.get("more_body", False):
            return
        cut = self._body[: len(self._body) // 2]
        headers = [(k, v) for k, v in self._start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": cut})
