"""API keys for read endpoints, and the admin token; both compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.datastructures import Secret
from starlette.requests import Request

from web.problems import Problem

BEARER = "bearer "


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER) :].strip()


def _matches_any(token: str, secrets: Sequence[Secret]) -> bool:
    # Compare against every key so the time taken does not reveal which one matched.
    given = token.encode()
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given, str(secret).encode())
    return found


def require_api_key(request: Request) -> None:
    """Refuse the request unless API keys are off or it carries a valid one."""
    keys: Sequence[Secret] = request.app.state.settings.api_keys
    if not keys:
        return
    token = _bearer_token(request)
    if token is None or not _matches_any(token, keys):
        raise Problem(
            401,
            "Unauthorized",
            "this endpoint needs an API key: send `Authorization: Bearer <key>`",
            slug="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="spotify-insight"'},
        )


def require_admin(request: Request) -> None:
    """Refuse the request unless it carries ADMIN_TOKEN."""
    admin: Secret | None = request.app.state.settings.admin_token
    token = _bearer_token(request)
    if admin is None or token is None or not _matches_any(token, [admin]):
        raise Problem(
            401,
            "Unauthorized",
            "admin endpoints need `Authorization: Bearer <ADMIN_TOKEN>`",
            slug="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="spotify-insight-admin"'},
        )
