"""The pages for people: each renders for its owner, with its charts' data and tables, escapes
what users and Spotify name, follows the date picker, and answers bad input with a page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret

from db.database import Database
from db.models import Artist, AudioFeatures, Play, Track, User
from settings import Settings
from tests.factories import make_snapshot, make_track, make_user
from tests.web.signed_in import CSRF, session_cookie
from web.charts import TRACE_TYPES

SECRET = Secret("a-session-secret-of-the-page-tests-0123")
EARLIER, LATER = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
EVIL = "<script>alert(1)</script>"
MELLOW = {"danceability": 0.3, "energy": 0.2, "loudness": -14.0, "speechiness": 0.05,
          "acousticness": 0.9, "instrumentalness": 0.7, "liveness": 0.1, "valence": 0.3,
          "tempo": 90.0}  # fmt: skip
LOUD = {**MELLOW, "energy": 0.9, "loudness": -4.0, "acousticness": 0.1, "tempo": 140.0}

Client = Callable[..., Awaitable[httpx.AsyncClient]]


def _seed(database: Database) -> None:
    """ann: two snapshots (the later one with an evil track name and two clusters), plays."""

    def write() -> None:
        ann = make_user("ann")
        make_user("bob")
        make_user("newcomer")
        for track_id, artist in (("t1", "a1"), ("t2", "a2"), ("t3", "a1")):
            make_track(track_id, [artist])
        Track.update(name=EVIL).where(Track.id == "t2").execute()
        Artist.update(name="<b>Bold</b>").where(Artist.id == "a2").execute()
        for track_id, features in (("t1", MELLOW), ("t2", LOUD), ("t3", MELLOW)):
            AudioFeatures.create(
                track=track_id, key=1, mode=1, time_signature=4, source="csv", **features
            )
        # Plays before the snapshots: a snapshot's statistics hold the history up to it.
        for hour in (8, 9, 21):
            Play.create(user=ann, track="t1", played_at=dt.datetime(2026, 11, 18, hour, 5))
        make_snapshot(
            ann,
            EARLIER,
            recommendations=["t1"],
            top_tracks={"short_term": ["t1"]},
            clusters=[("early days", ["t1"], MELLOW)],
        )
        make_snapshot(
            ann,
            LATER,
            recommendations=["t2", "t1"],
            top_tracks={"short_term": ["t2", "t1"], "long_term": ["t3"]},
            top_artists={"short_term": ["a2", "a1"]},
            clusters=[("acoustic · mellow", ["t1", "t3"], MELLOW), ("loud", ["t2"], LOUD)],
        )

    database.run_sync(write)


@pytest.fixture
async def pages(app_client: Client, database: Database) -> httpx.AsyncClient:
    _seed(database)
    return await app_client(session_secret=SECRET)


def _as(settings: Settings, username: str) -> dict[str, str]:
    return session_cookie(dataclasses.replace(settings, session_secret=SECRET), username)


def _figures(page: str) -> dict[str, Any]:
    """Every chart's figure, by its block's id, read back as the browser's JSON.parse would."""
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', page, re.S)
    return {block_id: json.loads(body) for block_id, body in blocks}


def _table(page: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert found, f"no table {table_id}"
    return found.group(1)


async def test_the_owner_sees_every_section_with_charts_and_tables(
    pages: httpx.AsyncClient, settings: Settings
) -> None:
    response = await pages.get("/u/ann", headers=_as(settings, "ann"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f'<time datetime="{LATER}" id="snapshot-date">' in page
    figures = _figures(page)
    charted = {"clusters", "taste-shift", "heatmap", "days", "taste"}
    assert set(figures) == {f"{name}-figure" for name in charted}
    radar = figures["clusters-figure"]["data"]
    assert [trace["name"] for trace in radar] == ["acoustic · mellow (2)", "loud (1)"]
    assert all(t["type"] in TRACE_TYPES for f in figures.values() for t in f["data"])
    clusters = _table(page, "clusters-table")
    assert "acoustic · mellow (2)" in clusters
    assert "-14.0" in clusters
    heat = _table(page, "heatmap-table")
    assert re.search(r"<th scope=\"row\">Wednesday</th>(<td>\d+</td>){24}", heat)
    assert '<th scope="row">2026-11-18</th><td>9.0</td>' in _table(page, "days-table")
    assert "because 1" in page  # a recommendation's reason
    assert "From 2026-11-19 to 2026-11-20" in page  # changes since the previous snapshot
    shift = figures["taste-shift-figure"]["data"]
    assert [trace["name"] for trace in shift] == ["2026-11-19 (before)", "2026-11-20"]
    assert '<th scope="row">2026-11-19 (before)</th><td>0.3</td>' in _table(
        page, "taste-shift-table"
    )
    assert "energy" in _table(page, "taste-table")


async def test_names_from_users_and_spotify_are_escaped(
    pages: httpx.AsyncClient, settings: Settings
) -> None:
    page = (await pages.get("/u/ann", headers=_as(settings, "ann"))).text
    assert EVIL not in page
    assert "<b>Bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page
    # Only the page's own script elements: plotly, charts.js and the JSON blocks.
    scripts = re.findall(r"<script[^>]*>", page)
    assert all('type="application/json"' in s or "src=" in s for s in scripts), scripts


async def test_the_date_picker_lists_the_snapshots_and_shows_the_one_picked(
    pages: httpx.AsyncClient, settings: Settings
) -> None:
    latest = (await pages.get("/u/ann", headers=_as(settings, "ann"))).text
    assert re.findall(r'<option value="([0-9-]+)"', latest) == [str(LATER), str(EARLIER)]
    assert f'<option value="{LATER}" selected>' in latest
    earlier = (await pages.get(f"/u/ann?date={EARLIER}", headers=_as(settings, "ann"))).text
    assert f'<time datetime="{EARLIER}" id="snapshot-date">' in earlier
    assert f'<option value="{EARLIER}" selected>' in earlier
    assert "early days" in earlier
    assert "loud (1)" not in earlier
    assert "This is the first snapshot" in earlier


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        pytest.param("?date=2026-02-30", 400, "not a real calendar date", id="impossible-date"),
        pytest.param("?date=yesterday", 400, "YYYY-MM-DD", id="not-a-date"),
        pytest.param("?date=2026-11-01", 404, 'href="?date=2026-11-19"', id="no-snapshot"),
    ],
)
async def test_a_bad_date_is_a_page_not_a_problem_document(
    pages: httpx.AsyncClient, settings: Settings, query: str, status: int, says: str
) -> None:
    response = await pages.get(f"/u/ann{query}", headers=_as(settings, "ann"))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert says in response.text


async def test_a_user_without_snapshots_gets_a_message(
    pages: httpx.AsyncClient, settings: Settings
) -> None:
    response = await pages.get("/u/newcomer", headers=_as(settings, "newcomer"))
    assert response.status_code == 200
    assert "No snapshot of newcomer yet" in response.text
    assert "<script" not in response.text  # nothing to draw, no plotly to load


async def test_a_snapshot_without_clusters_or_history_says_so(
    pages: httpx.AsyncClient, settings: Settings, database: Database
) -> None:
    def bare() -> None:
        make_snapshot(User.get(User.username == "bob"), LATER, recommendations=["t1"])

    database.run_sync(bare)
    page = (await pages.get("/u/bob", headers=_as(settings, "bob"))).text
    assert "No clusters in this snapshot" in page
    assert "No listening history stored yet" in page
    assert "No audio features" in page


async def test_pages_are_private(pages: httpx.AsyncClient, settings: Settings) -> None:
    anonymous = await pages.get("/u/ann")
    assert anonymous.status_code == 401
    assert 'href="/auth/login"' in anonymous.text
    assert "because 1" not in anonymous.text
    other = await pages.get("/u/ann", headers=_as(settings, "bob"))
    assert other.status_code == 404
    assert "because 1" not in other.text
    recap = await pages.get("/u/ann/recap/2026", headers=_as(settings, "bob"))
    assert recap.status_code == 404


async def test_the_recap_page_charts_the_year(pages: httpx.AsyncClient, settings: Settings) -> None:
    response = await pages.get("/u/ann/recap/2026", headers=_as(settings, "ann"))
    assert response.status_code == 200
    figures = _figures(response.text)
    assert figures["top-tracks-figure"]["data"][0]["x"] == [3]
    assert '<th scope="row">Track t1</th><td>3</td>' in _table(response.text, "top-tracks-table")
    empty = await pages.get("/u/ann/recap/2019", headers=_as(settings, "ann"))
    assert empty.status_code == 200
    assert "No plays stored for 2019" in empty.text
    assert 'href="/u/ann/recap/2020"' in empty.text


async def test_the_recap_page_offers_no_year_that_has_not_begun(
    pages: httpx.AsyncClient, settings: Settings
) -> None:
    this_year = dt.datetime.now(dt.UTC).year
    response = await pages.get(f"/u/ann/recap/{this_year}", headers=_as(settings, "ann"))
    assert response.status_code == 200
    assert f'href="/u/ann/recap/{this_year - 1}"' in response.text
    assert f'href="/u/ann/recap/{this_year + 1}"' not in response.text
    bad = await pages.get("/u/ann/recap/twenty", headers=_as(settings, "ann"))
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/html")


async def test_home_shows_no_ones_data_and_links_the_signed_in_to_their_page(
    pages: httpx.AsyncClient, settings: Settings
) -> None:
    anonymous = (await pages.get("/")).text
    assert "ann" not in anonymous
    assert "Track t1" not in anonymous
    assert 'href="/auth/login"' in anonymous
    signed_in = (await pages.get("/", headers=_as(settings, "ann"))).text
    assert 'href="/u/ann"' in signed_in
    # Signing out is a form bound to the session by its CSRF token.
    assert '<form class="sign-out" method="post" action="/auth/logout">' in signed_in
    assert f'name="csrf_token" value="{CSRF}"' in signed_in
    assert "Track t1" not in signed_in
