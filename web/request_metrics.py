"""Requests counted by route template and status, and timed, for /metrics.

`web.request_edge` records every HTTP request here once it is over, from the scope it handed
the router (the router records the matched route in it). A path no route matches is counted
as `unmatched`, never by its raw path, so a scan of random URLs cannot add series.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.types import Scope

import metrics

UNMATCHED = "unmatched"
# nginx's "client closed request": a request cancelled before its answer began.
CANCELLED = 499
# What a request that raised before any answer is counted as: the server's answer to it.
FAILED = 500


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (`/users/{username}`), or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def record(scope: Scope, status: int, seconds: float) -> None:
    """One request of `scope`, answered with `status` after `seconds`."""
    method = scope["method"] if scope["method"] in _METHODS else "other"
    route = route_template(scope)
    _requests(method, route, status).inc()
    _latency(method, route).observe(seconds)


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
