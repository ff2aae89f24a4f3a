"""Endpoints over what accumulates across snapshots: listening history and statistics."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import documents, history
from db.users import UnknownUser
from web.lifespan_state import database_of
from web.params import DATE, HISTORY_LIMIT, SINCE, UNTIL, USERNAME, operation
from web.problems import bad_parameter, not_found
from web.snapshots import SNAPSHOT_RESPONSES, serve_document


@operation(
    "Plays recorded for the user (Spotify keeps only the last 50; this keeps them all)",
    USERNAME,
    SINCE,
    UNTIL,
    HISTORY_LIMIT,
    responses={
        200: "The plays, newest first, and the gaps (windows in which plays may be missing) "
        "that overlap the range.",
        400: SNAPSHOT_RESPONSES[400],
        401: SNAPSHOT_RESPONSES[401],
        404: "Unknown user.",
    },
)
async def plays(
    request: Request, username: str, since: dt.date | None, until: dt.date | None, limit: int
) -> Response:
    if since and until and since > until:
        raise bad_parameter("since", f"{since} is after until ({until})")
    database = database_of(request)
    try:
        listed = await database.run(history.list_plays, username, since, until, limit)
        gaps = await database.run(history.list_gaps, username, since, until)
    except UnknownUser as exc:
        raise not_found(str(exc)) from None
    return JSONResponse(
        {
            "username": username,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "plays": listed,
            "gaps": gaps,
        }
    )


@operation(
    "Statistics of a snapshot: taste profile, history so far, most played artists",
    USERNAME,
    DATE,
    responses=SNAPSHOT_RESPONSES,
)
async def statistics(request: Request, username: str, date: dt.date | None) -> Response:
    return await serve_document(request, username, date, documents.STATISTICS)
