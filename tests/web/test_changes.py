from __future__ import annotations

import datetime as dt

import httpx
import pytest

from db.database import Database
from jobs.clustering import CLUSTER_FEATURES
from tests.factories import make_snapshot, make_track, make_user

FIRST, SECOND, THIRD = dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)


def _centroid(energy: float) -> dict[str, float]:
    return dict.fromkeys(CLUSTER_FEATURES, 0.5) | {"energy": energy, "tempo": 120.0}


def _seed(database: Database) -> None:
    def write() -> None:
        ann = make_user("ann")
        make_user("solo")
        for track_id in ("t1", "t2", "t3", "t4"):
            make_track(track_id, ["a1"] if track_id != "t4" else ["a2"])
        make_snapshot(
            ann,
            FIRST,
            top_tracks={"short_term": ["t4", "t1"]},
            clusters=[("mellow", ["t1"], _centroid(0.1))],
        )
        make_snapshot(
            ann,
            SECOND,
            top_tracks={"short_term": ["t1", "t2", "t3"], "long_term": ["t1"]},
            top_artists={"short_term": ["a1", "a2"]},
            clusters=[("mellow", ["t1", "t2"], _centroid(0.2)), ("loud", ["t3"], _centroid(0.9))],
        )
        make_snapshot(
            ann,
            THIRD,
            top_tracks={"short_term": ["t3", "t1", "t4"], "long_term": ["t1"]},
            top_artists={"short_term": ["a2"]},
            clusters=[("mellow", ["t1"], _centroid(0.3)), ("loud", ["t3", "t4"], _centroid(0.8))],
        )
        make_snapshot(make_user("once"), THIRD)

    database.run_sync(write)


@pytest.fixture
async def seeded(database: Database, api: httpx.AsyncClient) -> httpx.AsyncClient:
    _seed(database)
    return api


def _ids(entries: list[dict[str, object]]) -> list[object]:
    return [(e["id"], e["rank"], e["previous_rank"], e["change"]) for e in entries]


async def test_changes_default_to_the_latest_snapshot_and_the_one_before(
    seeded: httpx.AsyncClient,
) -> None:
    response = await seeded.get("/users/ann/changes")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (SECOND.isoformat(), THIRD.isoformat())
    short = body["lists"]["tracks"]["short_term"]
    assert _ids(short["new"]) == [("t4", 3, None, None)]
    assert _ids(short["risers"]) == [("t3", 1, 3, 2)]
    assert _ids(short["fallers"]) == [("t1", 2, 1, -1)]
    assert _ids(short["dropped"]) == [("t2", None, 2, None)]
    assert short["new"][0]["name"] == "Track t4"
    assert short["new"][0]["artists"] == [{"id": "a2", "name": "Artist a2"}]
    assert body["lists"]["tracks"]["long_term"]["unchanged"] == 1
    artists = body["lists"]["artists"]["short_term"]
    assert _ids(artists["risers"]) == [("a2", 1, 2, 1)]
    assert _ids(artists["dropped"]) == [("a1", None, 1, None)]
    assert body["lists"]["artists"]["medium_term"] == {
        "new": [],
        "risers": [],
        "fallers": [],
        "dropped": [],
        "unchanged": 0,
    }


async def test_changes_say_how_the_clusters_moved(seeded: httpx.AsyncClient) -> None:
    body = (await seeded.get("/users/ann/changes")).json()
    taste = body["taste"]
    assert [(m["from"]["label"], m["to"]["label"]) for m in taste["moves"]] == [
        ("mellow", "mellow"),
        ("loud", "loud"),
    ]
    assert [m["shift"]["energy"] for m in taste["moves"]] == [0.1, -0.1]
    # Mean energy: (2*0.2 + 1*0.9)/3 -> (1*0.3 + 2*0.8)/3.
    assert taste["mean"]["energy"]["from"] == pytest.approx(1.3 / 3, abs=1e-4)
    assert taste["mean"]["energy"]["to"] == pytest.approx(1.9 / 3, abs=1e-4)


async def test_changes_between_chosen_dates(seeded: httpx.AsyncClient) -> None:
    params = {"from": FIRST.isoformat(), "to": THIRD.isoformat()}
    response = await seeded.get("/users/ann/changes", params=params)
    body = response.json()
    assert (body["from"], body["to"]) == (FIRST.isoformat(), THIRD.isoformat())
    short = body["lists"]["tracks"]["short_term"]
    assert _ids(short["new"]) == [("t3", 1, None, None)]
    assert _ids(short["fallers"]) == [("t4", 3, 1, -2)]
    assert [c["label"] for c in body["taste"]["appeared"]] == ["loud"]
    # Both dates given: neither snapshot changes, so the answer may be kept.
    assert "max-age" in response.headers["cache-control"]
    again = await seeded.get(
        "/users/ann/changes", params=params, headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


async def test_only_to_compares_with_the_snapshot_before_it(seeded: httpx.AsyncClient) -> None:
    body = (await seeded.get("/users/ann/changes", params={"to": SECOND.isoformat()})).json()
    assert (body["from"], body["to"]) == (FIRST.isoformat(), SECOND.isoformat())


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        pytest.param("/users/ann/changes", {"from": "2026-11-31"}, 400, id="not-a-day"),
        pytest.param(
            "/users/ann/changes",
            {"from": THIRD.isoformat(), "to": SECOND.isoformat()},
            400,
            id="from-after-to",
        ),
        pytest.param(
            "/users/ann/changes", {"from": THIRD.isoformat()}, 400, id="from-is-the-latest"
        ),
        pytest.param("/users/ann/changes", {"to": "2026-11-25"}, 404, id="no-snapshot-that-day"),
        pytest.param("/users/ann/changes", {"to": FIRST.isoformat()}, 404, id="nothing-before"),
        pytest.param("/users/once/changes", {}, 404, id="one-snapshot"),
        pytest.param("/users/solo/changes", {}, 404, id="no-snapshot"),
        pytest.param("/users/nobody/changes", {}, 404, id="unknown-user"),
    ],
)
async def test_bad_changes_requests_are_problems(
    seeded: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    response = await seeded.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


async def test_missing_date_names_the_nearest(seeded: httpx.AsyncClient) -> None:
    body = (await seeded.get("/users/ann/changes", params={"to": "2026-11-25"})).json()
    assert THIRD.isoformat() in body["nearest_dates"]


async def test_changes_need_an_api_key_when_keys_are_set(
    database: Database, app_client: object
) -> None:
    from starlette.datastructures import Secret

    _seed(database)
    client = await app_client(api_keys=(Secret("k1"),))  # type: ignore[operator]
    assert (await client.get("/users/ann/changes")).status_code == 401
    keyed = await client.get("/users/ann/changes", headers={"Authorization": "Bearer k1"})
    assert keyed.status_code == 200


async def test_openapi_documents_changes(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    names = [p["name"] for p in paths["/users/{username}/changes"]["get"]["parameters"]]
    assert names == ["username", "from", "to"]
