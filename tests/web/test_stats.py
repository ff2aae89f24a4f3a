"""GET /users/{u}/stats and /recap: parameters, defaults, caching, problems, the recap's figures.

The history is the one tests/db/test_listening_stats.py works out by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Secret

from db.database import Database
from db.models import Play, User
from db.users import set_user_timezone
from tests.db.test_listening_stats import _history
from tests.factories import make_snapshot, make_user
from web import stats

STATS = "/users/ann/stats"
RANGE = {"from": "2024-03-30", "to": "2024-03-31"}


@pytest.fixture
async def api_with_history(database: Database, api: httpx.AsyncClient) -> httpx.AsyncClient:
    def build() -> None:
        user = make_user("ann")
        _history(user.id)
        set_user_timezone("ann", "Europe/Berlin")

    database.run_sync(build)
    return api


async def test_a_range_in_the_users_own_zone(api_with_history: httpx.AsyncClient) -> None:
    answer = await api_with_history.get(STATS, params=RANGE)
    body = answer.json()

    assert answer.status_code == 200
    assert (body["from"], body["to"], body["timezone"]) == (
        "2024-03-30",
        "2024-03-31",
        "Europe/Berlin",
    )
    assert body["include_short"] is False
    assert body["music"]["plays"] == 6
    assert body["podcasts"]["minutes"] == 30.0
    assert [day["plays"] for day in body["days"]] == [3, 4]
    assert body["gaps"] == []


async def test_tz_and_include_short_change_the_count(api_with_history: httpx.AsyncClient) -> None:
    in_utc = (await api_with_history.get(STATS, params={**RANGE, "tz": "UTC"})).json()
    with_short = (
        await api_with_history.get(STATS, params={**RANGE, "include_short": "true"})
    ).json()

    assert in_utc["timezone"] == "UTC"
    assert [day["plays"] for day in in_utc["days"]] == [2, 5]
    assert with_short["music"]["plays"] == 7


async def test_the_default_range_is_the_last_30_days(
    database: Database, api_with_history: httpx.AsyncClient
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    database.run_sync(
        lambda: Play.create(user=User.get().id, track="T1", played_at=now, origin=Play.POLLED)
    )
    body = (await api_with_history.get(STATS)).json()

    first, last = dt.date.fromisoformat(body["from"]), dt.date.fromisoformat(body["to"])
    assert (last - first).days == 29
    assert len(body["days"]) == 30
    assert body["music"]["plays"] == 1


async def test_live_figures_carry_a_short_lifetime_and_an_etag_of_the_data(
    database: Database, api_with_history: httpx.AsyncClient
) -> None:
    first = await api_with_history.get(STATS, params=RANGE)
    etag = first.headers["etag"]
    unchanged = await api_with_history.get(STATS, params=RANGE, headers={"If-None-Match": etag})
    database.run_sync(
        lambda: Play.create(
            user=User.get().id, track="T2", played_at=dt.datetime(2024, 3, 30, 9), origin="polled"
        )
    )
    changed = await api_with_history.get(STATS, params=RANGE, headers={"If-None-Match": etag})

    assert first.headers["cache-control"] == "public, max-age=60"
    assert unchanged.status_code == 304
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["music"]["plays"] == 7


@pytest.mark.parametrize(
    ("params", "name"),
    [
        pytest.param({"from": "2024-04-01", "to": "2024-03-01"}, "from", id="reversed"),
        pytest.param({"from": "2024-02-30"}, "from", id="not-a-date"),
        pytest.param({"to": "yesterday"}, "to", id="not-a-date-either"),
        pytest.param({"tz": "Mars/Olympus"}, "tz", id="unknown-zone"),
        pytest.param({"tz": "../../etc/passwd"}, "tz", id="a-path"),
        pytest.param({"include_short": "maybe"}, "include_short", id="not-a-boolean"),
    ],
)
async def test_bad_ranges_are_problems_naming_the_parameter(
    api_with_history: httpx.AsyncClient, params: dict[str, str], name: str
) -> None:
    answer = await api_with_history.get(STATS, params=params)

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["invalid_params"][0]["name"] == name


# A Tuesday noon in Berlin: today is 2026-12-01 there, and tomorrow the last day a play can be on.
NOW = dt.datetime(2026, 12, 1, 11, tzinfo=dt.UTC)


async def _stats_at(
    monkeypatch: pytest.MonkeyPatch,
    api: httpx.AsyncClient,
    params: dict[str, str],
    now: dt.datetime = NOW,
) -> httpx.Response:
    """GET /stats as it answers at `now`."""
    monkeypatch.setattr(stats, "clock", lambda: now)
    return await api.get(STATS, params=params)


@pytest.mark.parametrize(
    ("params", "first", "last", "plays"),
    [
        pytest.param({"from": "0001-01-01"}, "2006-01-01", "2026-12-01", 9, id="from-year-1"),
        pytest.param(
            {"from": "0001-01-01", "to": "2024-03-30"}, "2006-01-01", "2024-03-30", 5, id="to-given"
        ),
        pytest.param(
            {"from": "2024-03-31", "to": "9999-12-31"}, "2024-03-31", "2026-12-02", 4, id="to-9999"
        ),
        pytest.param(
            {"from": "0001-01-01", "to": "9999-12-31"}, "2006-01-01", "2026-12-02", 9, id="both"
        ),
        pytest.param({"to": "9999-12-31"}, "2026-11-03", "2026-12-02", 0, id="only-to-9999"),
    ],
)
async def test_far_days_are_clamped_to_the_days_a_play_can_be_on(
    monkeypatch: pytest.MonkeyPatch,
    api_with_history: httpx.AsyncClient,
    params: dict[str, str],
    first: str,
    last: str,
    plays: int,
) -> None:
    answer = await _stats_at(monkeypatch, api_with_history, params)
    body = answer.json()

    assert answer.status_code == 200, body
    assert (body["from"], body["to"]) == (first, last)
    assert body["music"]["plays"] == plays
    assert body["days"][0]["date"] == first
    assert body["days"][-1]["date"] == last


async def test_a_far_day_clamps_to_the_zones_own_first_day(
    monkeypatch: pytest.MonkeyPatch, api_with_history: httpx.AsyncClient
) -> None:
    params = {"from": "0001-01-01", "to": "2006-01-31", "tz": "America/Los_Angeles"}
    body = (await _stats_at(monkeypatch, api_with_history, params)).json()

    # Spotify's first instant, 2006-01-01 00:00 UTC, is the evening of 2005-12-31 there.
    assert body["from"] == "2005-12-31"


@pytest.mark.parametrize(
    ("params", "days"),
    [
        pytest.param({"from": "1900-01-01", "to": "1900-01-02"}, 2, id="before-spotify"),
        # Days before 1900 count as 1900-01-01, as /history's `since` does (issue 11).
        pytest.param({"from": "0001-01-01", "to": "0001-01-02"}, 1, id="year-1"),
        pytest.param({"from": "2030-01-01", "to": "2030-01-02"}, 2, id="in-the-future"),
    ],
)
async def test_a_range_no_play_can_be_in_is_answered_empty(
    monkeypatch: pytest.MonkeyPatch,
    api_with_history: httpx.AsyncClient,
    params: dict[str, str],
    days: int,
) -> None:
    answer = await _stats_at(monkeypatch, api_with_history, params)
    body = answer.json()

    assert answer.status_code == 200, body
    assert body["music"]["plays"] == 0
    assert len(body["days"]) == days


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"from": "0001-01-01"}, id="clamped"),
        pytest.param({"from": "2010-01-01", "to": "2039-12-31"}, id="as-asked"),
    ],
)
async def test_a_range_of_playable_days_over_25_years_is_a_problem(
    monkeypatch: pytest.MonkeyPatch, api_with_history: httpx.AsyncClient, params: dict[str, str]
) -> None:
    later = dt.datetime(2040, 6, 1, tzinfo=dt.UTC)
    answer = await _stats_at(monkeypatch, api_with_history, params, later)

    assert answer.status_code == 400
    assert answer.json()["invalid_params"][0]["name"] == "to"
    assert "at most" in answer.json()["invalid_params"][0]["reason"]


@pytest.mark.parametrize("path", ["/users/zed/stats", "/users/zed/recap"])
async def test_an_unknown_user_is_a_404(api: httpx.AsyncClient, path: str) -> None:
    answer = await api.get(path)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "no user named 'zed'"


@pytest.mark.parametrize("path", [STATS, "/users/ann/recap"])
async def test_behind_api_keys_when_set(
    app_client: Callable[..., Any], database: Database, path: str
) -> None:
    database.run_sync(make_user, "ann")
    client = await app_client(api_keys=(Secret("k1"),))

    refused = await client.get(path)
    allowed = await client.get(path, headers={"Authorization": "Bearer k1"})

    assert refused.status_code == 401
    assert allowed.status_code == 200
    assert allowed.headers["cache-control"] == "private, max-age=60"


async def test_both_are_documented(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]

    stats = paths["/users/{username}/stats"]["get"]
    recap = paths["/users/{username}/recap"]["get"]
    assert [p["name"] for p in stats["parameters"]] == [
        "username",
        "from",
        "to",
        "tz",
        "include_short",
    ]
    assert [p["name"] for p in recap["parameters"]] == ["username", "year", "tz"]
    assert set(stats["responses"]) == {"200", "304", "400", "401", "403", "404"}
    assert stats["security"] == [{"apiKey": []}]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["from", "to", "tz", "include_short"]),
    value=st.text(max_size=30),
)
async def test_any_parameter_text_is_an_answer_or_a_problem_never_an_error(
    api_with_history: httpx.AsyncClient, name: str, value: str
) -> None:
    answer = await api_with_history.get(STATS, params={name: value})
    assert answer.status_code in (200, 400)


# -- the recap -------------------------------------------------------------------------


async def test_the_recap_of_a_year(database: Database, api_with_history: httpx.AsyncClient) -> None:
    def snapshots() -> None:
        user = User.get()
        mellow = ("mellow · acoustic", ["T1"], {"energy": 0.2})
        upbeat = ("upbeat", ["T2"], {"energy": 0.9})
        make_snapshot(user, dt.date(2024, 6, 1), clusters=[mellow, upbeat])
        make_snapshot(user, dt.date(2024, 12, 1), clusters=[mellow])
        make_snapshot(user, dt.date(2023, 12, 31), clusters=[("loud", ["T1"], {"energy": 1.0})])

    database.run_sync(snapshots)
    answer = await api_with_history.get("/users/ann/recap", params={"year": "2024"})
    body = answer.json()

    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=60"
    # 2024 in Berlin: P0 to P9 but the short P4, and the episode (see the db test's table).
    assert body["minutes"] == {"total": 52.5, "music": 22.5, "podcasts": 30.0}
    assert body["plays"] == {"music": 9, "podcasts": 1}
    assert [(t["id"], t["plays"], t["minutes"]) for t in body["top"]["tracks"]] == [
        ("T1", 3, 9.0),
        ("T3", 2, 4.2),
        ("T4", 2, 2.0),
        ("T2", 1, 4.0),
        ("T5", 1, 3.3),
    ]
    assert [(a["name"], a["plays"]) for a in body["top"]["artists"]] == [
        ("Alpha", 6),
        ("Beta", 2),
        ("Gamma", 1),
    ]
    assert body["top_month"] == {"month": "2024-03", "minutes": 49.8, "plays": 8}
    assert body["most_played_day"] == {"date": "2024-03-31", "minutes": 38.0, "plays": 4}
    assert body["discoveries"]["count"] == 3
    assert body["clusters"] == {
        "snapshots": 2,
        "labels": [
            {"label": "mellow · acoustic", "snapshots": 2},
            {"label": "upbeat", "snapshots": 1},
        ],
    }


async def test_a_year_without_plays(api_with_history: httpx.AsyncClient) -> None:
    body = (await api_with_history.get("/users/ann/recap", params={"year": "2020"})).json()

    assert body["minutes"] == {"total": 0.0, "music": 0.0, "podcasts": 0.0}
    assert body["top_month"] is None
    assert body["most_played_day"] is None
    assert body["top"]["tracks"] == []


@pytest.mark.parametrize("year", ["1800", "24", "twenty", "3000"])
async def test_a_bad_year_is_a_problem(api_with_history: httpx.AsyncClient, year: str) -> None:
    answer = await api_with_history.get("/users/ann/recap", params={"year": year})
    assert answer.status_code == 400
    assert answer.json()["invalid_params"][0]["name"] == "year"
