"""Paging helpers: id chunks, offset pages and cursor pages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spotify_client import chunks
from spotify_client._paging import cursor_pages, offset_pages


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        pytest.param([], 3, [], id="empty"),
        pytest.param(["a", "b"], 3, [["a", "b"]], id="one-short"),
        pytest.param(["a", "b", "c"], 3, [["a", "b", "c"]], id="one-full"),
        pytest.param(["a", "b", "c", "d"], 3, [["a", "b", "c"], ["d"]], id="last-shorter"),
    ],
)
def test_chunks(items: list[str], size: int, expected: list[list[str]]) -> None:
    assert [list(chunk) for chunk in chunks(items, size)] == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(), max_size=30), st.integers(min_value=1, max_value=8))
def test_chunks_cover_the_items_in_order_within_the_size(items: list[int], size: int) -> None:
    parts = list(chunks(items, size))
    assert [item for part in parts for item in part] == items
    assert all(1 <= len(part) <= size for part in parts)
    assert all(len(part) == size for part in parts[:-1])


async def test_offset_pages_stop_past_the_largest_offset() -> None:
    asked: list[dict[str, Any]] = []

    async def fetch(paging: dict[str, Any]) -> tuple[list[Any], bool]:
        asked.append(paging)
        return [paging["offset"]] * paging["limit"], True

    items = await offset_pages(fetch, 100, 10, max_offset=20)
    assert [p["offset"] for p in asked] == [0, 10, 20]
    assert len(items) == 30


async def test_cursor_pages_leave_the_callers_parameters_alone() -> None:
    asked: list[dict[str, Any]] = []
    cursors = iter(["c1", None])

    async def fetch(params: dict[str, Any]) -> tuple[list[Any], str | None]:
        asked.append(dict(params))
        return ["item"], next(cursors)

    params = {"after": 5}
    assert await cursor_pages(fetch, 70, "after", params) == ["item", "item"]
    assert asked == [{"after": 5, "limit": 50}, {"after": "c1", "limit": 50}]
    assert params == {"after": 5}
