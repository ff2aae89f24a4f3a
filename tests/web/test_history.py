from __future__ import annotations

import datetime as dt

import httpx
import pytest

from db.database import Database
from db.models import AudioFeatures, Play
from spotify_models import AUDIO_FEATURE_NAMES
from tests.factories import make_snapshot, make_track, make_user

DAY = dt.date(2026, 11, 20)


def _seed(database: Database) -> None:
    def write() -> None:
        user = make_user("ann")
        make_track("t1", ["a1"], "al1")
        make_track("t2", ["a1", "a2"], "al1")
        make_track("t3", ["a3"], "al2")
        other = make_user("bob")
        for track_id, when in [
            ("t1", dt.datetime(2026, 11, 18, 9)),
            ("t2", dt.datetime(2026, 11, 19, 9)),
            ("t1", dt.datetime(2026, 11, 20, 23, 59)),
            ("t3", dt.datetime(2026, 11, 21, 0, 30)),
        ]:
            Play.create(user=user, track=track_id, played_at=when)
        Play.create(user=other, track="t3", played_at=dt.datetime(2026, 11, 19))
        for track_id, energy in (("t1", 0.2), ("t2", 0.6)):
            values = dict.fromkeys(AUDIO_FEATURE_NAMES, 1.0) | {"energy": energy}
            AudioFeatures.create(track=track_id, source="csv", **values)
        make_snapshot(user, DAY, top_tracks={"short_term": ["t1", "t2"]}, recommendations=["t3"])

    database.run_sync(write)


@pytest.fixture
async def seeded(database: Database, api: httpx.AsyncClient) -> httpx.AsyncClient:
    _seed(database)
    return api


async def test_history_lists_the_users_plays_newest_first(seeded: httpx.AsyncClient) -> None:
    body = (await seeded.get("/users/ann/history")).json()
    assert [(p["track"]["id"], p["played_at"]) for p in body["plays"]] == [
        ("t3", "2026-11-21T00:30:00Z"),
        ("t1", "2026-11-20T23:59:00Z"),
        ("t2", "2026-11-19T09:00:00Z"),
        ("t1", "2026-11-18T09:00:00Z"),
    ]
    assert body["plays"][2]["track"]["artists"] == [
        {"id": "a1", "name": "Artist a1"},
        {"id": "a2", "name": "Artist a2"},
    ]


async def test_history_window_is_inclusive_and_limited(seeded: httpx.AsyncClient) -> None:
    params = {"since": "2026-11-19", "until": "2026-11-20", "limit": "1"}
    body = (await seeded.get("/users/ann/history", params=params)).json()
    assert [p["played_at"] for p in body["plays"]] == ["2026-11-20T23:59:00Z"]
    body = (await seeded.get("/users/ann/history", params=params | {"limit": "10"})).json()
    assert len(body["plays"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": "0"}, id="limit-zero"),
        pytest.param({"limit": "1001"}, id="limit-too-big"),
        pytest.param({"limit": "ten"}, id="limit-word"),
        pytest.param({"limit": "\u0661"}, id="limit-arabic-digit"),
        pytest.param({"since": "2026-11-31"}, id="since-not-a-day"),
        pytest.param({"since": "2026-11-21", "until": "2026-11-20"}, id="since-after-until"),
    ],
)
async def test_bad_history_parameters_are_400(
    seeded: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await seeded.get("/users/ann/history", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_statistics_of_a_snapshot(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/users/ann/statistics", params={"date": DAY.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert (body["tracks"], body["tracks_with_features"]) == (2, 2)
    assert body["taste"]["energy"] == pytest.approx(0.4)
    # History up to the snapshot's date: the play after midnight does not count yet.
    assert body["history"]["plays"] == 3
    assert body["history"]["distinct_tracks"] == 2
    assert body["history"]["first_play"] == "2026-11-18T09:00:00Z"
    assert body["top_artists_by_plays"] == [
        {"id": "a1", "name": "Artist a1", "plays": 3},
        {"id": "a2", "name": "Artist a2", "plays": 1},
    ]
    assert response.headers["etag"]


async def test_unknown_user_history_is_404(seeded: httpx.AsyncClient) -> None:
    assert (await seeded.get("/users/nobody/history")).status_code == 404
    assert (await seeded.get("/users/nobody/statistics")).status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"until": "9999-12-31"}, 4, id="until-year-9999"),
        pytest.param({"since": "0001-01-01"}, 4, id="since-year-1"),
        pytest.param({"since": "0001-01-01", "until": "9999-12-31"}, 4, id="every-day"),
        pytest.param({"since": "9999-12-31"}, 0, id="since-year-9999"),
        pytest.param({"until": "0001-01-01"}, 0, id="until-year-1"),
    ],
)
async def test_far_away_days_are_clamped_not_overflowed(
    seeded: httpx.AsyncClient, params: dict[str, str], expected: int
) -> None:
    response = await seeded.get("/users/ann/history", params=params)
    assert response.status_code == 200, response.text
    assert len(response.json()["plays"]) == expected


@pytest.mark.parametrize(
    ("limit", "says"),
    [
        pytest.param("9" * 5000, "a whole number from 1 to 1000", id="5000-digits"),
        pytest.param("1" + "0" * 4400, "a whole number from 1 to 1000", id="4401-digits"),
    ],
)
async def test_a_huge_limit_is_refused_in_our_words(
    seeded: httpx.AsyncClient, limit: str, says: str
) -> None:
    response = await seeded.get("/users/ann/history", params={"limit": limit})
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert "digits" not in response.text
    assert len(response.text) < 1000
