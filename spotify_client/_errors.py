"""The package's typed errors, and the translation of Spotify's answers into them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from spotify_models import ParseError

T = TypeVar("T")


class SpotifyError(Exception):
    """Base of every error this package raises."""


class InvalidGrant(SpotifyError):
    """The refresh token (or authorization code) was refused: the user must log in again."""


class QuotaExceeded(SpotifyError):
    """The development-mode quota is spent; the client refuses every further call."""


class EndpointUnavailable(SpotifyError):
    """Spotify closed this endpoint to this app (see `SpotifyClient.can`)."""

    def __init__(self, capability: str) -> None:
        super().__init__(f"Spotify endpoint {capability!r} is not available to this app")
        self.capability = capability


class NotFound(SpotifyError):
    """Spotify knows no such id."""


class MalformedResponse(SpotifyError):
    """Spotify's answer was not the JSON document it should be."""


class SpotifyUnavailable(SpotifyError):
    """Spotify kept failing (5xx, timeouts, connection errors) until the retries ran out."""


class RateLimited(SpotifyUnavailable):
    """Spotify asked for a longer pause than this client is configured to wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SpotifyAuthError(SpotifyError):
    """The token endpoint refused the app's credentials, or a token was refused twice."""


class Unauthorized(SpotifyAuthError):
    """401 even with a token fetched just before: Spotify refuses this token for good."""


class Forbidden(SpotifyError):
    """403 on a call that is not a capability probe (e.g. user not on the app's allow-list)."""


class BadRequest(SpotifyError):
    """400: Spotify rejected a parameter."""


def describe(request: httpx.Request) -> str:
    """The request as errors and logs name it."""
    # Path only: queries hold search terms and ids, never needed to explain an error.
    return f"{request.method} {request.url.path}"


def body_object(response: httpx.Response) -> Mapping[str, Any]:
    """The answer's JSON object, or an empty one when it has none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def parse_answer(request: httpx.Request, body: Any, parse: Callable[[Any], T]) -> T:
    """`parse` a decoded answer; a missing or mistyped field becomes MalformedResponse."""
    try:
        return parse(body)
    except ParseError as exc:
        raise MalformedResponse(f"{describe(request)}: {exc}") from None


def status_error(response: httpx.Response) -> SpotifyError:
    """The error an unsuccessful Web API answer stands for."""
    where = describe(response.request)
    error = body_object(response).get("error")
    message = error.get("message") if isinstance(error, Mapping) else None
    detail = f"{where} answered {response.status_code}" + (f": {message}" if message else "")
    status = response.status_code
    if status == 400:
        return BadRequest(detail)
    if status == 401:
        return Unauthorized(f"{detail} (token refused even after a refresh)")
    if status == 403:
        return Forbidden(detail)
    if status == 404:
        return NotFound(detail)
    return SpotifyError(detail)
