"""GET /users/{username}/changes: what moved between two snapshots."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import changes, queries
from db.queries import SnapshotNotFound, SnapshotRef
from db.users import UnknownUser
from jobs.changes import ListChanges, Movement, cluster_moves, compare_ranks
from spotify_models import ITEM_TYPES, TIME_RANGES
from web.caching import caching_headers, etag_matches, snapshot_etag
from web.lifespan_state import database_of
from web.params import USERNAME, Param, operation, parse_date
from web.problems import bad_parameter, not_found
from web.snapshots import SNAPSHOT_RESPONSES

FROM = Param(
    "from",
    "query",
    "The earlier snapshot's date, YYYY-MM-DD; the snapshot before `to` when omitted.",
    parse_date,
    {"type": "string", "format": "date"},
)
TO = Param(
    "to",
    "query",
    "The later snapshot's date, YYYY-MM-DD; the latest snapshot when omitted.",
    parse_date,
    {"type": "string", "format": "date"},
)
KINDS = ("new", "risers", "fallers", "dropped")


def _entry(move: Movement, item: dict[str, Any] | None) -> dict[str, Any]:
    shown = item or {"id": move.item_id, "name": None}
    return {
        **shown,
        "rank": move.rank,
        "previous_rank": move.previous_rank,
        "change": move.change,
    }


def _list_payload(found: ListChanges, items: dict[str, dict[str, Any]]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        kind: [_entry(m, items.get(m.item_id)) for m in getattr(found, kind)] for kind in KINDS
    }
    payload["unchanged"] = found.unchanged
    return payload


def _ids_of(kind: str, *snapshots: changes.Ranks) -> list[str]:
    return sorted(
        {i for ranks in snapshots for (k, _), ids in ranks.items() if k == kind for i in ids}
    )


def _lists(earlier: SnapshotRef, later: SnapshotRef) -> dict[str, Any]:
    before, after = changes.top_ranks(earlier.id), changes.top_ranks(later.id)
    compared = {
        key: compare_ranks(before.get(key, {}), after.get(key, {}))
        for key in ((kind, r) for kind in ITEM_TYPES for r in TIME_RANGES)
    }
    items = {
        "tracks": changes.track_items(_ids_of("tracks", before, after)),
        "artists": changes.artist_items(_ids_of("artists", before, after)),
    }
    return {
        kind: {r: _list_payload(compared[(kind, r)], items[kind]) for r in TIME_RANGES}
        for kind in ITEM_TYPES
    }


def _payload(earlier: SnapshotRef, later: SnapshotRef) -> dict[str, Any]:
    return {
        "username": later.username,
        "from": earlier.date.isoformat(),
        "to": later.date.isoformat(),
        "lists": _lists(earlier, later),
        "taste": cluster_moves(queries.clusters(earlier.id), queries.clusters(later.id)),
    }


def _etag(earlier: SnapshotRef, later: SnapshotRef) -> str:
    pair = snapshot_etag(earlier, "changes-from") + snapshot_etag(later, "changes-to")
    return '"' + hashlib.sha256(pair.encode()).hexdigest()[:32] + '"'


def find_changes(
    username: str, start: dt.date | None, end: dt.date | None, if_none_match: str | None = None
) -> tuple[str, dict[str, Any] | None]:
    """The ETag and body of GET /users/{u}/changes (None when `if_none_match` names the ETag).

    Run in the database's thread; raises what `db.changes.snapshot_pair` raises.
    """
    earlier, later = changes.snapshot_pair(username, start, end)
    etag = _etag(earlier, later)
    if if_none_match and etag_matches(if_none_match, etag):
        return etag, None
    return etag, _payload(earlier, later)


@operation(
    "What changed between two snapshots: per list and time range the new entries, risers, "
    "fallers and drop-outs, and how the taste clusters' centroids moved",
    USERNAME,
    FROM,
    TO,
    responses={
        200: "The changes from the earlier snapshot to the later one.",
        304: SNAPSHOT_RESPONSES[304],
        400: "A date is malformed, or `from` is not before `to`.",
        401: SNAPSHOT_RESPONSES[401],
        404: "Unknown user, no snapshot on a date given (the detail names the nearest dates), "
        "or no earlier snapshot to compare with.",
    },
)
async def user_changes(request: Request, username: str, **dates: dt.date | None) -> Response:
    start, end = dates["from"], dates["to"]
    if start and end and start >= end:
        raise bad_parameter("from", f"{start} is not before to ({end})")
    if_none_match = request.headers.get("if-none-match")
    try:
        etag, payload = await database_of(request).run(
            find_changes, username, start, end, if_none_match
        )
    except SnapshotNotFound as exc:
        raise not_found(str(exc), nearest_dates=[d.isoformat() for d in exc.nearest]) from None
    except (UnknownUser, changes.NoEarlierSnapshot) as exc:
        raise not_found(str(exc)) from None
    except changes.SnapshotsOutOfOrder as exc:
        raise bad_parameter("from", str(exc)) from None
    headers = caching_headers(request, etag, dated=start is not None and end is not None)
    if payload is None:
        return Response(status_code=304, headers=headers)
    return JSONResponse(payload, headers=headers)
