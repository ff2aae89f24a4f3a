"""RFC 9457 problem details: one exception type, one response shape, the app's error handlers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.database import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"
# A longer path is not echoed as the problem's `instance` (5 KB of path is no help to anyone).
INSTANCE_LIMIT = 256


class Problem(Exception):
    """An error a client caused or can act on, answered as a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        slug: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug
        self.headers = headers
        self.extensions = extensions

    def to_response(self, request: Request) -> Response:
        body = {
            "type": PROBLEM_TYPE_BASE + self.slug if self.slug else "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **_instance(request),
            **self.extensions,
        }
        return JSONResponse(
            body, status_code=self.status, headers=self.headers, media_type=PROBLEM_MEDIA_TYPE
        )


def _instance(request: Request) -> dict[str, str]:
    path = request.url.path
    return {"instance": path} if len(path) <= INSTANCE_LIMIT else {}


def bad_parameter(name: str, reason: str) -> Problem:
    return Problem(
        400,
        "Invalid parameter",
        f"{name}: {reason}",
        slug="invalid-parameter",
        invalid_params=[{"name": name, "reason": reason}],
    )


def unknown_parameters(names: list[str], known: list[str]) -> Problem:
    """A 400 naming query parameters the endpoint does not take, and those it does."""
    takes = f"this endpoint takes {', '.join(known)}" if known else "this endpoint takes none"
    return Problem(
        400,
        "Unknown parameter",
        f"unknown query parameter {', '.join(names)}; {takes}",
        slug="unknown-parameter",
        invalid_params=[
            {"name": name, "reason": "is not a parameter of this endpoint"} for name in names
        ],
    )


def not_found(detail: str, **extensions: Any) -> Problem:
    return Problem(404, "Not found", detail, slug="not-found", **extensions)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.to_response(request)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 304:
        return Response(status_code=304, headers=exc.headers)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    detail = exc.detail if exc.status_code != 404 else f"no route matches {request.url.path[:200]}"
    return Problem(exc.status_code, title, detail, headers=exc.headers).to_response(request)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    logger.error("database unavailable: %s", type(exc).__name__)
    return Problem(
        503, "Service unavailable", "the database is not answering; try again shortly"
    ).to_response(request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Logged with its traceback for operators; the client learns nothing internal.
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Problem(
        500, "Internal server error", "the server failed to answer; the error was logged"
    ).to_response(request)


EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    Problem: _problem,
    HTTPException: _http_exception,
    **dict.fromkeys(DATABASE_UNAVAILABLE, _database_unavailable),
    500: _unexpected,
}
