"""`/u/{username}/recap/{year}`: the yearly recap of GET /users/{u}/recap as a page."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from web import charts
from web.access import require_page_viewer
from web.params import USERNAME, Param, bounded_int, operation
from web.stats import EARLIEST, LATEST, recap_of
from web.templating import page, render_page
from web.user_page import PAGE_RESPONSES

YEAR = Param(
    "year",
    "path",
    "Calendar year (in the user's time zone), e.g. 2025.",
    bounded_int(EARLIEST.year, LATEST.year),
    {"type": "integer", "minimum": EARLIEST.year, "maximum": LATEST.year},
    required=True,
)
TOP_CHARTS = (("artists", "Top artists"), ("tracks", "Top tracks"))


def _label(entry: dict[str, Any]) -> str:
    return str(entry.get("name") or entry.get("id") or "unknown")


def _top_charts(recap: dict[str, Any]) -> list[dict[str, Any]]:
    shown = []
    for kind, title in TOP_CHARTS:
        entries = recap["top"][kind]
        if entries:
            labels = [_label(entry) for entry in entries]
            plays = [entry["plays"] for entry in entries]
            shown.append(charts.bars(f"top-{kind}", title, labels, plays, "plays", horizontal=True))
    return shown


def _this_year(zone: str) -> int:
    # A recap of a year that has not begun would be empty by definition: no link to it.
    return dt.datetime.now(zoneinfo.ZoneInfo(zone)).year


@page
@operation(
    "A person's yearly recap as a page: minutes, top fives, top month and day, discoveries",
    USERNAME,
    YEAR,
    responses=PAGE_RESPONSES,
    protected=False,
    tag="pages",
    strict=False,
)
async def recap_page(request: Request, username: str, year: int) -> Response:
    await require_page_viewer(request, username)
    recap = await recap_of(request, username, year, None)
    played = recap["plays"]["music"] + recap["plays"]["podcasts"]
    context = {
        "username": username,
        "year": year,
        "recap": recap,
        "played": played,
        "next_year": year + 1 if year < _this_year(recap["timezone"]) else None,
        "top_charts": _top_charts(recap),
    }
    return render_page(request, "recap.html", context)
