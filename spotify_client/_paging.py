"""Paging: offset pages, cursor pages and id chunks, within the 2026 Web API's caps."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from spotify_models import as_list, as_object

logger = logging.getLogger(__name__)

T = TypeVar("T")
# One page request: paging parameters in, the page's raw items and "more follow" out.
Fetch = Callable[[dict[str, Any]], Awaitable[tuple[list[Any], bool]]]
# One cursor page request: parameters in, the raw items and the next cursor (if any) out.
FetchCursor = Callable[[dict[str, Any]], Awaitable[tuple[list[Any], str | None]]]

# Parameter limits of the 2026 Web API; a larger `limit` is paged here, never sent.
SEARCH_PAGE = 10
SEARCH_MAX_OFFSET = 1000
ARTIST_ALBUMS_PAGE = 10
PAGE = 50
# Spotify's play cursors are Unix milliseconds; anything else is no cursor at all.
_MILLISECONDS = re.compile(r"[0-9]{1,16}")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (the last one may be shorter)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def offset_page(body: Any, container: str | None) -> tuple[list[Any], bool]:
    """The items of an offset page and whether another page follows."""
    page = as_object(body)
    if container is not None:
        page = as_object(page.get(container), container)
    return as_list(page.get("items"), "items"), bool(page.get("next"))


async def offset_pages(
    fetch: Fetch,
    limit: int,
    page_size: int,
    *,
    max_offset: int | None = None,
    start: int = 0,
    until: Callable[[Any], bool] | None = None,
) -> list[Any]:
    """Up to `limit` raw items from offset `start`, requested `page_size` at a time (the 2026
    caps).

    With `until`, paging stops at the first item it accepts, which is left out.
    """
    items: list[Any] = []
    offset = start
    while len(items) < limit and (max_offset is None or offset <= max_offset):
        count = min(page_size, limit - len(items))
        batch, more = await fetch({"limit": count, "offset": offset})
        stop = next((i for i, item in enumerate(batch) if until and until(item)), None)
        items.extend(batch if stop is None else batch[:stop])
        offset += len(batch)
        if stop is not None or not more or len(batch) < count:
            break
    return items[:limit]


def cursor_page(body: Any, direction: str) -> tuple[list[Any], str | None]:
    """The items of a cursor page and the cursor to the next one, if any.

    A cursor that is not milliseconds ends the paging: sent back, Spotify would refuse it
    (400), and the plays already read would be lost with the user's whole snapshot.
    """
    page = as_object(body)
    items = as_list(page.get("items"), "items")
    cursors = page.get("cursors")
    cursor = cursors.get(direction) if isinstance(cursors, Mapping) and page.get("next") else None
    return items, _milliseconds(cursor, direction)


def _milliseconds(cursor: Any, direction: str) -> str | None:
    if cursor is None:
        return None
    text = str(cursor) if isinstance(cursor, int) and not isinstance(cursor, bool) else cursor
    if isinstance(text, str) and _MILLISECONDS.fullmatch(text):
        return text
    logger.info("cursor %r is not milliseconds; paging ends here", direction)
    return None


async def cursor_pages(
    fetch: FetchCursor, limit: int, direction: str, params: dict[str, Any]
) -> list[Any]:
    """Up to `limit` raw items, following the `direction` cursor from `params` on."""
    items: list[Any] = []
    params = dict(params)
    while len(items) < limit:
        params["limit"] = min(PAGE, limit - len(items))
        batch, cursor = await fetch(params)
        items.extend(batch)
        if not batch or cursor is None:
            break
        params = {direction: cursor}
    return items


def items_of(key: str) -> Callable[[Any], list[Any]]:
    """A parser of a batch answer: the list under `key`."""

    def parse(body: Any) -> list[Any]:
        return as_list(as_object(body).get(key), key)

    return parse
