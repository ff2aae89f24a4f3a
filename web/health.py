"""Service endpoints: health and the OpenAPI document."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.database import DATABASE_UNAVAILABLE, Database
from web.openapi import openapi_document
from web.params import operation
from web.problems import Problem

logger = logging.getLogger(__name__)

# Seconds /health waits for the database: it answers 503 within 2 s, whatever the database does.
HEALTH_DEADLINE = 1.5


@operation(
    "Liveness and database check",
    responses={200: "The service and its database answer.", 503: "The database is down."},
    protected=False,
    tag="service",
)
async def health(request: Request) -> Response:
    database: Database = request.state.database
    try:
        answered = await database.answers_within(HEALTH_DEADLINE)
    except DATABASE_UNAVAILABLE as exc:
        logger.warning("health check: database unavailable (%s)", type(exc).__name__)
        answered = False
    else:
        if not answered:
            logger.warning("health check: database silent for %s s", HEALTH_DEADLINE)
    if not answered:
        raise Problem(503, "Service unavailable", "the database is not answering")
    return JSONResponse({"status": "ok", "database": "ok"})


@operation(
    "This API's OpenAPI 3.1 document, generated from the routes",
    responses={200: "The OpenAPI document."},
    protected=False,
    tag="service",
)
async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(request.app.routes))
