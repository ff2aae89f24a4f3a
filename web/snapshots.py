"""Endpoints that serve a user's snapshots: recommendations, top items, clusters, the list."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import documents, queries
from db.queries import SnapshotNotFound
from db.users import UnknownUser
from web.caching import accepts_gzip, cache_control, conditional_headers, etag_matches
from web.lifespan_state import database_of, read_cache_of
from web.params import DATE, ITEM_TYPE, TIME_RANGE, USERNAME, operation
from web.problems import Problem, not_found

JSON = "application/json"
_VARY = (b"vary", b"Accept-Encoding")
_GZIP = (b"content-encoding", b"gzip")

SNAPSHOT_RESPONSES = {
    200: "The snapshot's data.",
    304: "Not modified: the client's copy (If-None-Match) is current.",
    400: "A parameter is malformed or has an unknown value.",
    401: "An API key is required and was missing or wrong.",
    404: "Unknown user, or no snapshot on that date (the detail names the nearest dates).",
}


def _not_found(exc: UnknownUser | SnapshotNotFound) -> Problem:
    if isinstance(exc, SnapshotNotFound):
        return not_found(str(exc), nearest_dates=[d.isoformat() for d in exc.nearest])
    return not_found(str(exc))


async def serve_document(
    request: Request, username: str, date: dt.date | None, variant: str
) -> Response:
    """Answer with the snapshot's stored document: 304 from its ETag, gzip when accepted."""
    accept_encoding, if_none_match = conditional_headers(request.scope)
    cache = read_cache_of(request)
    try:
        document = await cache.document(username, date, variant)
    except (UnknownUser, SnapshotNotFound) as exc:
        raise _not_found(exc) from None
    headers = [
        (b"etag", document.etag.encode("latin-1")),
        (b"cache-control", cache_control(request, date is not None).encode("latin-1")),
        _VARY,
    ]
    if if_none_match and etag_matches(if_none_match, document.etag):
        return _with_headers(Response(status_code=304), headers)
    if accepts_gzip(accept_encoding):
        headers.append(_GZIP)
        return _with_headers(Response(document.gzip, media_type=JSON), headers)
    body = cache.body(username, document, variant)
    return _with_headers(Response(body, media_type=JSON), headers)


def _with_headers(response: Response, headers: list[tuple[bytes, bytes]]) -> Response:
    # Raw pairs added to what Response set (length, type): a header dict would be lowered
    # and encoded again on every read of a document, the hottest path there is.
    response.raw_headers.extend(headers)
    return response


@operation(
    "Recommendations of a snapshot, with the user's cluster summaries",
    USERNAME,
    DATE,
    responses=SNAPSHOT_RESPONSES,
)
async def user_recommendations(request: Request, username: str, date: dt.date | None) -> Response:
    return await serve_document(request, username, date, documents.RECOMMENDATIONS)


@operation(
    "Top tracks or artists of a snapshot for one time range",
    USERNAME,
    DATE,
    ITEM_TYPE,
    TIME_RANGE,
    responses=SNAPSHOT_RESPONSES,
)
async def top_items(
    request: Request, username: str, date: dt.date | None, type: str, time_range: str
) -> Response:
    variant = documents.top_items_variant(type, time_range)
    return await serve_document(request, username, date, variant)


@operation(
    "K-means clusters of the user's tracks in a snapshot",
    USERNAME,
    DATE,
    responses=SNAPSHOT_RESPONSES,
)
async def clusters(request: Request, username: str, date: dt.date | None) -> Response:
    return await serve_document(request, username, date, documents.CLUSTERS)


@operation(
    "Every snapshot of a user, newest first",
    USERNAME,
    responses={
        200: "The user's snapshots.",
        400: SNAPSHOT_RESPONSES[400],
        401: SNAPSHOT_RESPONSES[401],
        404: "Unknown user.",
    },
)
async def snapshots(request: Request, username: str) -> Response:
    try:
        listed = await database_of(request).run(queries.list_snapshots, username)
    except UnknownUser as exc:
        raise not_found(str(exc)) from None
    return JSONResponse({"username": username, "snapshots": listed})
