"""Requests counted by route template and status, and timed, for /metrics.

It must sit innermost among the middleware: the router records the matched route in the
scope it is given, and a middleware outside may hand the router a copy (PublicOrigin does).
A path no route matches is counted as `unmatched`, never by its raw path, so a scan of
random URLs cannot add series.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

import metrics

UNMATCHED = "unmatched"
# nginx's "client closed request": a request cancelled before its answer began.
CANCELLED = 499


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (`/users/{username}`), or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """Pure ASGI middleware: one count and one latency observation per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        # An exception before any answer becomes the server's 500; a cancellation before any
        # answer (the client left, the server stops) is not the service failing.
        unanswered = 500
        try:
            await self.app(scope, receive, send_counting)
        except asyncio.CancelledError:
            unanswered = CANCELLED
            raise
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = route_template(scope)
            code = status if status is not None else unanswered
            _requests(method, route, code).inc()
            _latency(method, route).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# A series' child looked up once, not on every request: `labels()` validates and locks each
# time, a cost the ceiling of bench/api does not pay. The label values are bounded (methods,
# route templates, status codes), so the caches are too.
@functools.cache
def _requests(method: str, route: str, code: int) -> Any:
    return metrics.HTTP_REQUESTS.labels(method, route, str(code))


@functools.cache
def _latency(method: str, route: str) -> Any:
    return metrics.HTTP_LATENCY.labels(method, route)
