"""Admin API, present only when ADMIN_TOKEN is set: trigger snapshot runs and follow them."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from jobs.service import (
    RunCannotStart,
    SnapshotBusy,
    SnapshotDateRefused,
    SnapshotNotFound,
    UnknownUser,
    UnknownUsers,
)
from web.access import require_admin
from web.params import USERNAME, Endpoint, Param, operation, parse_date, parse_username
from web.problems import Problem, bad_parameter, not_found

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,36}")
_BODY_FIELDS = frozenset({"date", "users", "force"})


class SnapshotRuns(Protocol):
    """Starting and following snapshot runs: what the admin API needs from `jobs.service`."""

    async def start_run(
        self,
        date: dt.date | None,
        usernames: Sequence[str] | None,
        force: bool,
        trigger: str = "admin",
    ) -> str:
        """Queue a run and work it in the background; raises UnknownUsers or RunCannotStart."""
        ...

    async def progress(self, run_id: str) -> dict[str, Any] | None: ...

    async def delete_snapshot(self, username: str, date: dt.date) -> None:
        """Raises UnknownUser, SnapshotNotFound or SnapshotBusy."""
        ...


def admin_operation(
    summary: str,
    *params: Param,
    responses: dict[int, str] | None = None,
    media_type: str = "application/json",
) -> Callable[[Endpoint], Callable[[Request], Awaitable[Response]]]:
    """Like `operation`, but the admin token is checked before anything else is read."""

    def decorate(fn: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        declared = operation(
            summary,
            *params,
            responses=responses,
            protected=False,
            tag="admin",
            media_type=media_type,
        )
        inner = declared(fn)

        @functools.wraps(inner)
        async def endpoint(request: Request) -> Response:
            require_admin(request)
            return await inner.answer(request)

        return endpoint

    return decorate


def _parse_run_id(raw: str) -> str:
    if not RUN_ID_PATTERN.fullmatch(raw):
        raise ValueError("is not a snapshot run id")
    return raw


RUN_ID = Param(
    "run_id",
    "path",
    "Id of a snapshot run, as returned by POST /admin/snapshots.",
    _parse_run_id,
    {"type": "string", "pattern": f"^{RUN_ID_PATTERN.pattern}$"},
    required=True,
)


def _service(request: Request) -> SnapshotRuns:
    service = getattr(request.state, "snapshots", None)
    if service is None:
        raise Problem(503, "Service unavailable", "the snapshot service is not running")
    return service


def _malformed(exc: orjson.JSONDecodeError) -> Problem:
    nested = str(exc).startswith("depth limit")
    detail = "the body is nested too deeply" if nested else "the body is not valid JSON"
    return Problem(400, "Malformed JSON", detail, slug="malformed-json")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise Problem(413, "Content too large", f"the body may hold at most {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        # orjson parses without recursion and refuses nesting deeper than 1024 levels, where
        # json.loads met 60 KB of brackets with a RecursionError.
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _malformed(exc) from None
    if not isinstance(body, dict):
        raise Problem(
            400, "Malformed JSON", "the body must be a JSON object", slug="malformed-json"
        )
    unknown = sorted(set(body) - _BODY_FIELDS)
    if unknown:
        raise bad_parameter(unknown[0][:40], "is not a field of this request (date, users, force)")
    return body


def _read_date(body: dict[str, Any]) -> dt.date | None:
    raw = body.get("date")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise bad_parameter("date", "must be a string written YYYY-MM-DD")
    try:
        return parse_date(raw)
    except ValueError as exc:
        raise bad_parameter("date", str(exc)) from None


def _read_users(body: dict[str, Any]) -> list[str] | None:
    raw = body.get("users")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(u, str) for u in raw):
        raise bad_parameter("users", "must be a non-empty list of usernames (omit it for everyone)")
    try:
        return list(dict.fromkeys(parse_username(name) for name in raw))
    except ValueError as exc:
        raise bad_parameter("users", str(exc)) from None


def _read_force(body: dict[str, Any]) -> bool:
    raw = body.get("force", False)
    if not isinstance(raw, bool):
        raise bad_parameter("force", "must be true or false")
    return raw


def _unknown_users(exc: UnknownUsers) -> Problem:
    names = list(exc.names)
    return not_found(f"no user named {', '.join(names)}", unknown_users=names)


@admin_operation(
    "Start a snapshot run (optionally for a date, some users, or forced)",
    responses={
        202: "The run was queued; follow it at status_url.",
        400: "The JSON body or one of its fields is malformed, or the date is after tomorrow.",
        401: "The admin token was missing or wrong.",
        404: "Some named users do not exist (listed in unknown_users).",
        503: "Snapshots cannot run as configured (the detail names the missing setting).",
    },
)
async def start_snapshots(request: Request) -> Response:
    body = await _json_body(request)
    date, users, force = _read_date(body), _read_users(body), _read_force(body)
    try:
        run_id = await _service(request).start_run(date, users, force, trigger="admin")
    except SnapshotDateRefused as exc:
        raise bad_parameter("date", str(exc)) from None
    except UnknownUsers as exc:
        raise _unknown_users(exc) from None
    except RunCannotStart as exc:
        # Refused before anything is queued: a 202 here would promise a run that cannot happen.
        raise Problem(503, "Service unavailable", str(exc), slug="run-cannot-start") from None
    status_url = str(request.url_for("snapshot_run", run_id=run_id))
    return JSONResponse(
        {"run_id": run_id, "status_url": status_url},
        status_code=202,
        headers={"Location": status_url},
    )


@admin_operation(
    "Progress of a snapshot run",
    RUN_ID,
    responses={
        200: "The run's progress.",
        400: "The run id is malformed.",
        401: "The admin token was missing or wrong.",
        404: "No run has this id.",
    },
)
async def snapshot_run(request: Request, run_id: str) -> Response:
    progress = await _service(request).progress(run_id)
    if progress is None:
        raise not_found(f"no snapshot run has id {run_id!r}")
    return JSONResponse(progress, headers={"Cache-Control": "no-store"})


SNAPSHOT_DATE = Param(
    "date",
    "path",
    "Date of the snapshot, YYYY-MM-DD.",
    parse_date,
    {"type": "string", "format": "date"},
    required=True,
)


@admin_operation(
    "Delete one snapshot of a user (that night may then be taken again)",
    USERNAME,
    SNAPSHOT_DATE,
    responses={
        204: "Deleted.",
        400: "The username or date is malformed.",
        401: "The admin token was missing or wrong.",
        404: "Unknown user, or no snapshot on that date.",
        409: "A snapshot run is taking this snapshot now.",
    },
)
async def delete_snapshot(request: Request, username: str, date: dt.date) -> Response:
    try:
        await _service(request).delete_snapshot(username, date)
    except (UnknownUser, SnapshotNotFound) as exc:
        raise not_found(str(exc)) from None
    except SnapshotBusy as exc:
        raise Problem(409, "Conflict", str(exc), slug="snapshot-busy") from None
    logger.info("admin API deleted %s's snapshot of %s", username, date)
    return Response(status_code=204)
