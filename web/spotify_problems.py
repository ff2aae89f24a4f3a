"""Spotify's failures as problem documents, for endpoints that ask Spotify while answering."""

from __future__ import annotations

import logging
import math

from spotify_client import (
    MalformedResponse,
    QuotaExceeded,
    RateLimited,
    SpotifyAuthError,
    SpotifyError,
    SpotifyUnavailable,
)
from web.problems import Problem

logger = logging.getLogger(__name__)

SPOTIFY_RESPONSES = {
    502: "Spotify answered with something this service cannot use.",
    503: "Spotify is unavailable, rate limits this app, its quota is spent, or this service's "
    "Spotify app credentials were refused; try again later.",
}


def spotify_problem(exc: SpotifyError) -> Problem:
    """The problem a client sees when Spotify failed; the cause is logged, never sent."""
    logger.warning("Spotify failed while answering: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, RateLimited):
        wait = str(max(1, math.ceil(exc.retry_after)))
        return _unavailable("Spotify rate limits this app for now", {"Retry-After": wait})
    if isinstance(exc, SpotifyUnavailable):
        return _unavailable("Spotify is not answering; try again shortly")
    if isinstance(exc, QuotaExceeded):
        return _unavailable("this Spotify app's quota is spent; try again later")
    if isinstance(exc, SpotifyAuthError):
        return _unavailable("Spotify refused this service's app credentials")
    detail = (
        "Spotify's answer could not be read"
        if isinstance(exc, MalformedResponse)
        else "Spotify refused or failed the request"
    )
    return Problem(502, "Bad gateway", detail, slug="spotify-failed")


def _unavailable(detail: str, headers: dict[str, str] | None = None) -> Problem:
    return Problem(503, "Spotify unavailable", detail, slug="spotify-unavailable", headers=headers)
