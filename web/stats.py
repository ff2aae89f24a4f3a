"""Live statistics over any range of days, and the yearly recap, from the stored history.

Unlike a snapshot's frozen `/statistics`, these change as plays arrive: they are sent with
a short cache lifetime and an ETag of the figures read, so a client may ask again cheaply.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from db.listening_stats import StatsRange, listening_statistics
from db.local_time import zone_named
from db.recap import year_range, yearly_recap
from db.users import UnknownUser, user_timezone
from spotify_models import PLAUSIBLE_AHEAD, PLAUSIBLE_SINCE
from web.caching import NOT_MODIFIED, json_with_etag, shared_scope
from web.lifespan_state import database_of
from web.params import (
    USERNAME,
    Param,
    bounded_int,
    one_of,
    operation,
    parse_range_day,
)
from web.problems import bad_parameter, not_found

DEFAULT_DAYS = 30
MAX_DAYS = 25 * 366
EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(2999, 12, 31)
LIVE_MAX_AGE = 60
clock: Callable[[], dt.datetime] = functools.partial(dt.datetime.now, dt.UTC)

FIRST_DAY = Param(
    "from",
    "query",
    "First local day, YYYY-MM-DD; 29 days before `to` when omitted (30 days in all). Any "
    "real date: a range reaching before Spotify's first day (2006-01-01 UTC) begins then.",
    parse_range_day,
    {"type": "string", "format": "date"},
    argument="first_day",
)
LAST_DAY = Param(
    "to",
    "query",
    "Last local day, YYYY-MM-DD, included; today in the time zone when omitted. Any real "
    "date: a range reaching past tomorrow (the last day a play can end on) ends then.",
    parse_range_day,
    {"type": "string", "format": "date"},
    argument="last_day",
)
TIMEZONE = Param(
    "tz",
    "query",
    "IANA time zone in which days, hours and weekdays are counted; the user's own "
    "(`users set USERNAME --timezone`, UTC until set) when omitted.",
    zone_named,
    {"type": "string", "examples": ["Europe/Berlin"]},
    argument="zone",
)
INCLUDE_SHORT = Param(
    "include_short",
    "query",
    "Whether music plays under 30 seconds count (they are kept in the history, flagged).",
    lambda raw: one_of("true", "false")(raw) == "true",
    {"type": "boolean", "default": False},
    default=False,
)
YEAR = Param(
    "year",
    "query",
    "Calendar year (local), e.g. 2025; the current year when omitted.",
    bounded_int(EARLIEST.year, LATEST.year),
    {"type": "integer", "minimum": EARLIEST.year, "maximum": LATEST.year},
)
LIVE_RESPONSES = {
    200: "The figures.",
    304: NOT_MODIFIED,
    400: "A parameter is malformed, or the range is reversed or too long.",
    401: "An API key is required and was missing or wrong.",
    404: "Unknown user.",
}


def _today(zone: zoneinfo.ZoneInfo) -> dt.date:
    return clock().astimezone(zone).date()


def playable_days(zone: zoneinfo.ZoneInfo) -> tuple[dt.date, dt.date]:
    """The first and last local days a stored play can end on (spotify_models' contract)."""
    return (
        PLAUSIBLE_SINCE.astimezone(zone).date(),
        (clock() + PLAUSIBLE_AHEAD).astimezone(zone).date(),
    )


def counted_range(
    first_day: dt.date | None, last_day: dt.date | None, zone: zoneinfo.ZoneInfo
) -> tuple[dt.date, dt.date]:
    """The days /stats counts: the range asked for, defaults filled in, cut to the days a play
    can be on (a range wholly outside them is counted as asked: it is empty either way).

    The span limit applies to what is counted, so `from=0001-01-01` means the whole history.
    """
    if first_day and last_day and first_day > last_day:
        raise bad_parameter("from", f"{first_day} is after to ({last_day})")
    low, high = playable_days(zone)
    last = last_day or max(_today(zone), first_day or low)
    if first_day is None:
        last = min(last, high)  # the 30 days up to `to=9999-12-31` are the last 30 playable
    first = first_day or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first <= high and last >= low:
        first, last = max(first, low), min(last, high)
    if (last - first).days + 1 > MAX_DAYS:
        raise bad_parameter("to", f"the range may span at most {MAX_DAYS} days")
    return first, last


async def user_and_zone(request: Request, username: str) -> tuple[int, zoneinfo.ZoneInfo]:
    """The user's id and own time zone; a 404 for an unknown user."""
    try:
        user_id, timezone = await database_of(request).run(user_timezone, username)
    except UnknownUser as exc:
        raise not_found(str(exc)) from None
    return user_id, zone_named(timezone)


def _live(request: Request, body: dict[str, Any]) -> Response:
    """The body with an ETag of its figures; 304 when the client has them already."""
    return json_with_etag(request, body, f"{shared_scope(request)}, max-age={LIVE_MAX_AGE}")


@operation(
    "Listening statistics over any range of days, from the stored history (live, not a "
    "snapshot): music and podcasts, top lists, hour x weekday heatmap, minutes per day, "
    "longest streak, discoveries and the gaps in the history",
    USERNAME,
    FIRST_DAY,
    LAST_DAY,
    TIMEZONE,
    INCLUDE_SHORT,
    responses=LIVE_RESPONSES,
    tag="history",
)
async def stats(
    request: Request,
    username: str,
    first_day: dt.date | None,
    last_day: dt.date | None,
    zone: zoneinfo.ZoneInfo | None,
    include_short: bool,
) -> Response:
    body = await statistics_over(request, username, first_day, last_day, zone, include_short)
    return _live(request, body)


async def statistics_over(
    request: Request,
    username: str,
    first_day: dt.date | None,
    last_day: dt.date | None,
    zone: zoneinfo.ZoneInfo | None,
    include_short: bool = False,
) -> dict[str, Any]:
    """GET /users/{u}/stats's body (pages show it too); raises a Problem on a bad range."""
    user_id, own_zone = await user_and_zone(request, username)
    zone = zone or own_zone
    first, last = counted_range(first_day, last_day, zone)
    span = StatsRange(user_id, zone, first, last, include_short)
    figures = await database_of(request).run(listening_statistics, span)
    return {
        "username": username,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": zone.key,
        "include_short": include_short,
        **figures,
    }


@operation(
    "A Wrapped-style summary of a year from the stored history: minutes, top five of each "
    "kind, top month, most-played day, discoveries and the year's cluster labels",
    USERNAME,
    YEAR,
    TIMEZONE,
    responses=LIVE_RESPONSES,
    tag="history",
)
async def recap(
    request: Request, username: str, year: int | None, zone: zoneinfo.ZoneInfo | None
) -> Response:
    return _live(request, await recap_of(request, username, year, zone))


async def recap_of(
    request: Request, username: str, year: int | None, zone: zoneinfo.ZoneInfo | None
) -> dict[str, Any]:
    """GET /users/{u}/recap's body (the recap page shows it too)."""
    user_id, own_zone = await user_and_zone(request, username)
    zone = zone or own_zone
    year = year or _today(zone).year
    summary = await database_of(request).run(yearly_recap, year_range(user_id, zone, year), year)
    return {"username": username, "year": year, "timezone": zone.key, **summary}
