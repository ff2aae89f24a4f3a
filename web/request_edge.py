"""What every HTTP request gets on its way in and out, in one middleware layer.

Its id (`web.request_id`), the public origin in place of its Host (`web.origin`), and its
count and latency (`web.request_metrics`). They were three pure ASGI middlewares, each with
its own call and the first and last with their own send wrapper; on a snapshot read (a
dict look-up) that layering cost about as much as the read itself (BENCHMARKS.md, api).
Here they share one call and one wrapper.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import request_metrics
from web.origin import PublicOrigin
from web.request_id import name_request, with_request_id


class RequestEdge:
    """Pure ASGI middleware, outermost of ours: names, re-origins, counts and times a request."""

    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.origin = PublicOrigin(origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        id_header = name_request(scope["headers"])
        # Everything inside sees the public origin; the router records its route in this copy.
        scope = self.origin.scope_of(scope)
        status: int | None = None

        async def send_answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = with_request_id(message.get("headers", ()), id_header)
            await send(message)

        # An exception before any answer becomes the server's 500; a cancellation before any
        # answer (the client left, the server stops) is not the service failing.
        unanswered = request_metrics.FAILED
        try:
            await self.app(scope, receive, send_answer)
        except asyncio.CancelledError:
            unanswered = request_metrics.CANCELLED
            raise
        finally:
            code = status if status is not None else unanswered
            request_metrics.record(scope, code, time.perf_counter() - started)
