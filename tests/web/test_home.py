from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
from starlette.datastructures import Secret

from db.database import Database
from db.models import Track
from tests.factories import make_snapshot, make_track, make_user

DAY = dt.date(2026, 11, 20)


def _seed(database: Database) -> None:
    def write() -> None:
        user = make_user("ann")
        make_user("newcomer")
        make_track("t1", ["a1"])
        make_track("t2", ["a2"])
        Track.update(name="<script>alert(1)</script>").where(Track.id == "t2").execute()
        make_snapshot(user, DAY - dt.timedelta(days=1), recommendations=["t1"])
        make_snapshot(user, DAY, recommendations=["t2", "t1"])

    database.run_sync(write)


async def test_home_page_shows_each_users_latest_picks(
    database: Database, api: httpx.AsyncClient
) -> None:
    _seed(database)
    response = await api.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "ann" in page
    assert "/user-recommendations/ann?date=2026-11-20" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    assert page.index("&lt;script&gt;") < page.index("Track t1")
    assert "newcomer" not in page  # no snapshot yet: nothing to show


async def test_home_page_lists_nobody_when_reads_need_a_key(
    database: Database, app_client: Callable[..., Any]
) -> None:
    _seed(database)
    client = await app_client(api_keys=(Secret("k"),))
    response = await client.get("/")
    assert response.status_code == 200
    assert "ann" not in response.text
    assert "needs an API key" in response.text
