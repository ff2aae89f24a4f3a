"""Paging objects, offset-based and cursor-based, as Spotify builds them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request

from spotify_emulator.errors import int_param

T = TypeVar("T")


def limits(
    request: Request, default: int, maximum: int, max_offset: int | None = None
) -> tuple[int, int]:
    """The `limit` and `offset` of a request, checked against the endpoint's caps."""
    limit = int_param(request, "limit", default, 1, maximum)
    offset = int_param(request, "offset", 0, 0, max_offset)
    return limit, offset


def offset_page(
    request: Request,
    items: Sequence[T],
    render: Callable[[T], Any],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A paging object over `items` with Spotify's href/next/previous links."""
    total = len(items)
    url = request.url

    def link(at: int) -> str:
        return str(url.include_query_params(offset=at, limit=limit))

    return {
        "href": str(url),
        "items": [render(item) for item in items[offset : offset + limit]],
        "limit": limit,
        "next": link(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }
