"""Endpoints that serve a user's snapshots: recommendations, top items, clusters, the list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import queries
from db.database import Database
from db.queries import SnapshotNotFound, SnapshotRef
from db.users import UnknownUser
from web.caching import caching_headers, etag_matches, snapshot_etag
from web.params import DATE, ITEM_TYPE, TIME_RANGE, USERNAME, operation
from web.problems import Problem, not_found

SNAPSHOT_RESPONSES = {
    200: "The snapshot's data.",
    304: "Not modified: the client's copy (If-None-Match) is current.",
    400: "A parameter is malformed or has an unknown value.",
    401: "An API key is required and was missing or wrong.",
    404: "Unknown user, or no snapshot on that date (the detail names the nearest dates).",
}


def database_of(request: Request) -> Database:
    database: Database = request.state.database
    return database


def _not_found(exc: UnknownUser | SnapshotNotFound) -> Problem:
    if isinstance(exc, SnapshotNotFound):
        return not_found(str(exc), nearest_dates=[d.isoformat() for d in exc.nearest])
    return not_found(str(exc))


async def serve_snapshot(
    request: Request,
    username: str,
    date: dt.date | None,
    variant: tuple[str, ...],
    build: Callable[[SnapshotRef], dict[str, Any]],
) -> Response:
    """Find the snapshot and answer 304 from its identity, or build the body: one worker call."""
    if_none_match = request.headers.get("if-none-match")

    def find_and_build() -> tuple[str, dict[str, Any] | None]:
        ref = queries.find_snapshot(username, date)
        etag = snapshot_etag(ref, *variant)
        if if_none_match and etag_matches(if_none_match, etag):
            return etag, None
        return etag, build(ref)

    try:
        etag, payload = await database_of(request).run(find_and_build)
    except (UnknownUser, SnapshotNotFound) as exc:
        raise _not_found(exc) from None
    headers = caching_headers(request, etag, dated=date is not None)
    if payload is None:
        return Response(status_code=304, headers=headers)
    return JSONResponse(payload, headers=headers)


def _generated_at(ref: SnapshotRef) -> str:
    return ref.generated_at.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def _recommendations_payload(ref: SnapshotRef) -> dict[str, Any]:
    picks = queries.recommendations(ref.id)
    return {
        "username": ref.username,
        "date": ref.date.isoformat(),
        "generated_at": _generated_at(ref),
        "source": ref.recommendation_source,
        "features_source": ref.features_source,
        **queries.recommendation_mix(picks),
        "recommendations": picks,
        "clusters": queries.clusters(ref.id),
    }


@operation(
    "Recommendations of a snapshot, with the user's cluster summaries",
    USERNAME,
    DATE,
    responses=SNAPSHOT_RESPONSES,
)
async def user_recommendations(request: Request, username: str, date: dt.date | None) -> Response:
    return await serve_snapshot(
        request, username, date, ("recommendations",), _recommendations_payload
    )


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
    def build(ref: SnapshotRef) -> dict[str, Any]:
        return {
            "username": ref.username,
            "date": ref.date.isoformat(),
            "type": type,
            "time_range": time_range,
            "items": queries.top_items(ref.id, type, time_range),
        }

    return await serve_snapshot(request, username, date, ("top-items", type, time_range), build)


def _clusters_payload(ref: SnapshotRef) -> dict[str, Any]:
    return {
        "username": ref.username,
        "date": ref.date.isoformat(),
        "features_source": ref.features_source,
        "note": ref.clusters_note,
        "clusters": queries.clusters(ref.id),
    }


@operation(
    "K-means clusters of the user's tracks in a snapshot",
    USERNAME,
    DATE,
    responses=SNAPSHOT_RESPONSES,
)
async def clusters(request: Request, username: str, date: dt.date | None) -> Response:
    return await serve_snapshot(request, username, date, ("clusters",), _clusters_payload)


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
