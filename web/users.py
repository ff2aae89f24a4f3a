"""A registered user's account: token health and re-authorisation link; admin removal."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.users import UnknownUser, get_user, remove_user, token_life
from web.admin import admin_operation
from web.params import USERNAME, operation
from web.problems import not_found

logger = logging.getLogger(__name__)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _payload(request: Request, user: dict[str, Any], today: dt.date) -> dict[str, Any]:
    life = token_life(user["token_obtained_at"], today)
    expires_on = life["token_expires_on"]
    last = user["last_snapshot"]
    reauth = request.url_for("login").include_query_params(username=user["username"])
    return {
        "username": user["username"],
        "display_name": user["display_name"],
        "status": user["status"],
        "timezone": user["timezone"],
        # Why, and what to do, when Spotify refuses the user (null while active).
        "status_reason": user["status_reason"],
        # Whether the user's pages are open to everyone (`users set --public`).
        "public": user["public"],
        "last_snapshot": last.isoformat() if last else None,
        "token_age_days": life["token_age_days"],
        "token_expiring": life["token_expiring"],
        "token_expires_on": expires_on.isoformat() if expires_on else None,
        "reauth_url": str(reauth),
    }


@operation(
    "A user's status, last snapshot and refresh-token health, with a re-authorisation link",
    USERNAME,
    responses={
        200: "The user's account facts.",
        400: "The username is malformed.",
        401: "An API key is required and was missing or wrong.",
        404: "Unknown user.",
    },
    tag="users",
)
async def user(request: Request, username: str) -> Response:
    try:
        found = await request.state.database.run(get_user, username)
    except UnknownUser as exc:
        raise not_found(str(exc)) from None
    return JSONResponse(
        _payload(request, found, _today()), headers={"Cache-Control": "private, no-cache"}
    )


@admin_operation(
    "Remove a user and every row of their data",
    USERNAME,
    responses={
        204: "Removed.",
        400: "The username is malformed.",
        401: "The admin token was missing or wrong.",
        404: "Unknown user.",
    },
)
async def delete_user(request: Request, username: str) -> Response:
    try:
        await request.state.database.run(remove_user, username)
    except UnknownUser as exc:
        raise not_found(str(exc)) from None
    # This process stops serving them at once; the others within the cache's interval.
    request.state.read_cache.clear()
    logger.info("admin API removed user %s and all of their data", username)
    return Response(status_code=204)
