"""Spotify's error bodies and the request-parameter checks that produce them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error the Web API answers as `{"error": {"status", "message"}}`."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def not_found() -> ApiError:
    """Unknown id, or an endpoint the app may not see."""
    return ApiError(404, "Resource not found")


def forbidden() -> ApiError:
    """An endpoint or resource the app or user is not allowed."""
    return ApiError(403, "Forbidden")


def error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """The Web API's error object."""
    error: dict[str, Any] = {"status": status, "message": message}
    if reason:
        error["reason"] = reason
    return {"error": error}


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Render an ApiError the way the Web API does."""
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.status, exc.message, exc.reason), status_code=exc.status)


def int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    """An integer query parameter within [low, high]; 400 "Invalid <name>" otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid {name}") from None
    if value < low or (high is not None and value > high):
        raise ApiError(400, f"Invalid {name}")
    return value


def ids_param(request: Request, maximum: int) -> list[str]:
    """The comma-separated `ids` parameter of a batch endpoint."""
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError(400, "invalid id")
    if len(ids) > maximum:
        raise ApiError(400, "Too many ids requested")
    return ids
