"""`/u/{username}`: one person's snapshot as a page, with charts and the tables beside them.

Everything shown is what the JSON API serves for the same snapshot: the stored documents
(top items, recommendations with clusters, statistics) through the read cache, the changes
through `web.changes.find_changes`, the listening figures through `db.listening_stats`
(`when` and `gaps`, as /stats computes them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from db import changes, documents, queries
from db.listening_stats import StatsRange, gaps, when
from db.local_time import zone_named
from db.queries import SnapshotNotFound
from db.users import UnknownUser, user_timezone
from spotify_models import ITEM_TYPES, TIME_RANGES
from web import charts
from web.access import require_page_viewer
from web.changes import KINDS, find_changes
from web.lifespan_state import database_of, read_cache_of
from web.params import DATE, USERNAME, operation
from web.problems import Problem, not_found
from web.stats import DEFAULT_DAYS
from web.templating import page, render_page

PAGE_RESPONSES = {
    200: "An HTML page.",
    400: "A parameter is malformed (HTML page).",
    401: "Sign in to see this page (HTML page).",
    403: "This page is not yours (HTML page).",
    404: "Unknown user, or no snapshot on that date (HTML page naming the nearest dates).",
}
TIME_RANGE_NAMES = {
    "short_term": "last 4 weeks",
    "medium_term": "last 6 months",
    "long_term": "last year",
}


async def snapshot_document(
    request: Request, username: str, date: dt.date | None, variant: str
) -> dict[str, Any]:
    """A stored snapshot document, decoded: the bytes the JSON route answers with."""
    document = await read_cache_of(request).document(username, date, variant)
    decoded: dict[str, Any] = orjson.loads(document.body)
    return decoded


async def snapshot_dates(request: Request, username: str) -> list[str]:
    """Dates of the user's complete snapshots, newest first; a 404 for an unknown user."""
    try:
        listed = await database_of(request).run(queries.list_snapshots, username)
    except UnknownUser as exc:
        raise not_found(str(exc)) from None
    return [entry["date"] for entry in listed if entry["status"] == "complete"]


def _no_snapshot_on(exc: SnapshotNotFound) -> Problem:
    nearest = [day.isoformat() for day in exc.nearest]
    return not_found(str(exc), nearest_dates=nearest)


async def _top_lists(request: Request, username: str, day: dt.date) -> list[dict[str, Any]]:
    lists = []
    for item_type in ITEM_TYPES:
        for time_range in TIME_RANGES:
            variant = documents.top_items_variant(item_type, time_range)
            found = await snapshot_document(request, username, day, variant)
            lists.append(
                {
                    "type": item_type,
                    "time_range": TIME_RANGE_NAMES[time_range],
                    "items": found["items"],
                }
            )
    return lists


def _clusters(
    found: list[dict[str, Any]], tracks: dict[str, dict[str, Any]], note: str | None
) -> dict[str, Any]:
    shown = [
        {**cluster, "tracks": [tracks[t] for t in cluster["track_ids"] if t in tracks]}
        for cluster in found
    ]
    shapes = [(f"{c['label']} ({c['size']})", c["centroid"]) for c in found]
    radar = charts.radar("clusters", "Cluster centroids", shapes)
    return {"list": shown, "radar": radar, "note": note}


def _changes_view(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The changes with a radar of the clustered tracks' mean before and after."""
    if payload is None:
        return None
    mean = payload["taste"]["mean"]
    shapes = [
        (f"{payload['from']} (before)", {f: moved["from"] for f, moved in mean.items()}),
        (payload["to"], {f: moved["to"] for f, moved in mean.items()}),
    ]
    title = "How the mean of your clustered tracks moved"
    return {**payload, "radar": charts.radar("taste-shift", title, shapes) if mean else None}


def _source_mix(recommended: dict[str, Any]) -> dict[str, Any] | None:
    mix = recommended.get("source_mix") or {}
    if not mix:
        return None
    title = "Picks by candidate source"
    return charts.bars("sources", title, list(mix), list(mix.values()), "picks", horizontal=True)


def _last_listening_day(statistics: dict[str, Any], day: dt.date) -> dt.date | None:
    last_play = statistics["history"].get("last_play")
    if not last_play:
        return None
    return min(dt.date.fromisoformat(last_play[:10]), day)


def _when(username: str, last: dt.date) -> dict[str, Any]:
    """/stats's heatmap, days and gaps for the 30 local days to `last` (not its top lists
    or discoveries, which the page does not show)."""
    user_id, timezone = user_timezone(username)
    zone = zone_named(timezone)
    span = StatsRange(user_id, zone, last - dt.timedelta(days=DEFAULT_DAYS - 1), last)
    hours, per_day = when(span)
    return {
        "heatmap": hours,
        "days": per_day,
        "gaps": gaps(span),
        "from": span.first_day.isoformat(),
        "to": last.isoformat(),
        "timezone": zone.key,
    }


@dataclasses.dataclass(frozen=True)
class _Reads:
    """What the page reads beyond the stored documents."""

    tracks: dict[str, dict[str, Any]]
    changes: dict[str, Any] | None
    listening: dict[str, Any] | None


def _reads(username: str, day: dt.date, member_ids: list[str], last: dt.date | None) -> _Reads:
    """The cluster members' tracks, the changes since the snapshot before `day` (None for
    the first one) and the listening up to `last`: one trip to the database's thread."""
    try:
        _, payload = find_changes(username, None, day)
    except changes.NoEarlierSnapshot:
        payload = None
    listening = _when(username, last) if last is not None else None
    return _Reads(changes.track_items(member_ids), payload, listening)


def _listening_view(figures: dict[str, Any] | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    per_day = figures["days"]
    return {
        **figures,
        "plays": sum(entry["plays"] for entry in per_day),
        "minutes": sum(entry["minutes"] for entry in per_day),
        "heatmap_chart": charts.heatmap(
            "heatmap", "Minutes by weekday and hour", figures["heatmap"]
        ),
        "days_chart": charts.bars(
            "days",
            "Minutes per day",
            [entry["date"] for entry in per_day],
            [entry["minutes"] for entry in per_day],
            "minutes",
        ),
    }


def _taste(statistics: dict[str, Any]) -> dict[str, Any]:
    taste = statistics["taste"]
    return {"features": taste, "chart": charts.profile_bars("taste", "Taste profile", taste)}


def recap_years(statistics: dict[str, Any]) -> list[int]:
    """Years the stored history covers, newest first: each has a recap page."""
    history = statistics["history"]
    if not history.get("first_play") or not history.get("last_play"):
        return []
    first, last = int(history["first_play"][:4]), int(history["last_play"][:4])
    return list(range(last, first - 1, -1))


async def _snapshot_context(
    request: Request, username: str, date: dt.date | None
) -> dict[str, Any]:
    try:
        recommended = await snapshot_document(request, username, date, documents.RECOMMENDATIONS)
    except SnapshotNotFound as exc:
        raise _no_snapshot_on(exc) from None
    day = dt.date.fromisoformat(recommended["date"])
    statistics = await snapshot_document(request, username, day, documents.STATISTICS)
    clustered = await snapshot_document(request, username, day, documents.CLUSTERS)
    member_ids = [t for cluster in clustered["clusters"] for t in cluster["track_ids"]]
    last = _last_listening_day(statistics, day)
    found = await database_of(request).run(_reads, username, day, member_ids, last)
    return {
        "date": day.isoformat(),
        "recommended": recommended,
        "top_lists": await _top_lists(request, username, day),
        "clusters": _clusters(clustered["clusters"], found.tracks, clustered["note"]),
        "changes": _changes_view(found.changes),
        "sources": _source_mix(recommended),
        "change_kinds": KINDS,
        "statistics": statistics,
        "taste": _taste(statistics),
        "listening": _listening_view(found.listening),
        "recap_years": recap_years(statistics),
    }


@page
@operation(
    "A person's page: a snapshot's top items, clusters, recommendations, changes, "
    "listening and taste, as charts and tables",
    USERNAME,
    DATE,
    responses=PAGE_RESPONSES,
    protected=False,
    tag="pages",
    strict=False,
)
async def user_page(request: Request, username: str, date: dt.date | None) -> Response:
    await require_page_viewer(request, username)
    dates = await snapshot_dates(request, username)
    context: dict[str, Any] = {"username": username, "dates": dates, "snapshot": None}
    if dates or date is not None:
        context["snapshot"] = await _snapshot_context(request, username, date)
    return render_page(request, "user.html", context)
