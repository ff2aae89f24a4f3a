from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from db import catalogue, documents
from db.database import Database
from db.documents import render_snapshot
from db.models import Play, Recommendation, Snapshot, User
from spotify_models import Artist as SpotifyArtist
from tests.factories import make_snapshot, make_track, make_user, store_features

DAY = dt.date(2026, 11, 20)
PROBLEM = "application/problem+json"


def _seed(database: Database) -> None:
    def write() -> None:
        user = make_user("ann", token="gAAAA-secret-cipher")
        make_track("t1", ["a1", "a2"], "al1")
        make_track("t2", ["a2"], "al2")
        make_track("t3", ["a3"], "al2")
        make_snapshot(
            user,
            DAY,
            recommendations=["t3", "t1"],
            top_tracks={"short_term": ["t2", "t1"], "long_term": ["t1"]},
            top_artists={"medium_term": ["a2", "a1"]},
            clusters=[
                ("high energy", ["t1", "t2"], {"energy": 0.8}),
                ("acoustic", ["t3"], {"energy": 0.2}),
            ],
            source="spotify",
            features_source="csv",
        )
        make_snapshot(user, DAY - dt.timedelta(days=3), recommendations=["t2"])
        make_snapshot(user, DAY - dt.timedelta(days=10), recommendations=["t2"])

    database.run_sync(write)


@pytest.fixture
async def seeded(database: Database, api: httpx.AsyncClient) -> httpx.AsyncClient:
    _seed(database)
    return api


async def test_recommendations_have_the_documented_shape(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/user-recommendations/ann", params={"date": DAY.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "ann"
    assert body["date"] == "2026-11-20"
    assert body["generated_at"].endswith("Z")
    assert (body["source"], body["features_source"]) == ("spotify", "csv")
    assert [r["rank"] for r in body["recommendations"]] == [1, 2]
    first = body["recommendations"][0]
    assert first["track"] == {
        "id": "t3",
        "name": "Track t3",
        "uri": "spotify:track:t3",
        "duration_ms": 180_000,
        "artists": [{"id": "a3", "name": "Artist a3"}],
        "album": {"id": "al2", "name": "Album al2"},
    }
    assert first["reason"] == "because 1"
    assert body["recommendations"][1]["track"]["artists"] == [
        {"id": "a1", "name": "Artist a1"},
        {"id": "a2", "name": "Artist a2"},
    ]
    assert body["clusters"] == [
        {
            "id": 0,
            "label": "high energy",
            "size": 2,
            "centroid": {"energy": 0.8},
            "track_ids": ["t1", "t2"],
        },
        {"id": 1, "label": "acoustic", "size": 1, "centroid": {"energy": 0.2}, "track_ids": ["t3"]},
    ]


async def test_no_date_means_the_latest_snapshot(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/user-recommendations/ann")
    assert response.json()["date"] == DAY.isoformat()
    assert response.headers["cache-control"] == "no-cache"


async def test_a_date_without_snapshot_names_the_nearest_dates(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/user-recommendations/ann", params={"date": "2026-11-16"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["nearest_dates"] == ["2026-11-10", "2026-11-17", "2026-11-20"]
    assert "2026-11-17" in body["detail"]


async def test_unknown_user_is_a_404_problem(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/user-recommendations/nobody")
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"
    assert response.json()["status"] == 404


async def test_user_without_snapshots_is_a_404(database: Database, api: httpx.AsyncClient) -> None:
    database.run_sync(make_user, "bea")
    response = await api.get("/users/bea/clusters")
    assert response.status_code == 404
    assert response.json()["detail"] == "bea has no snapshot yet"


@pytest.mark.parametrize(
    "date",
    [
        pytest.param("2026-02-30", id="not-a-calendar-day"),
        pytest.param("2026-13-01", id="month-13"),
        pytest.param("2026-1-05", id="short-month"),
        pytest.param("20261120", id="compact"),
        pytest.param("yesterday", id="word"),
        pytest.param("", id="empty"),
        pytest.param("2026-11-20' OR '1'='1", id="sql"),
        pytest.param("\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff10", id="fullwidth-digits"),
        pytest.param("9" * 5000, id="5000-chars"),
    ],
)
async def test_malformed_dates_are_400_problems(seeded: httpx.AsyncClient, date: str) -> None:
    for path in ("/user-recommendations/ann", "/users/ann/top-items", "/users/ann/clusters"):
        response = await seeded.get(path, params={"date": date})
        assert response.status_code == 400, path
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["invalid_params"][0]["name"] == "date"
        assert len(response.text) < 1000


async def test_a_repeated_parameter_is_refused(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/user-recommendations/ann?date=2026-11-20&date=2026-11-17")
    assert response.status_code == 400
    assert response.json()["detail"] == "date: may be given only once"


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("x" * 5000, id="5000-chars"),
        pytest.param("ñandú", id="unicode"),
        pytest.param("ann%00", id="nul"),
        pytest.param("ann' OR 1=1 --", id="sql"),
        pytest.param("...", id="dots"),  # ".." itself is resolved by the client to "/"
    ],
)
async def test_odd_usernames_are_client_errors(seeded: httpx.AsyncClient, username: str) -> None:
    for path in (f"/user-recommendations/{username}", f"/users/{username}/snapshots"):
        response = await seeded.get(path)
        assert response.status_code in (400, 404), path
        assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/user-recommendations/../../etc/passwd", id="traversal"),
        pytest.param("/users/ann/top-items/extra", id="extra-segment"),
        pytest.param("/nowhere", id="unknown-route"),
    ],
)
async def test_unknown_paths_are_404_problems(seeded: httpx.AsyncClient, path: str) -> None:
    response = await seeded.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_wrong_method_is_a_405_problem(seeded: httpx.AsyncClient) -> None:
    response = await seeded.post("/users/ann/snapshots")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_top_items_in_spotify_order(seeded: httpx.AsyncClient) -> None:
    params = {"date": DAY.isoformat(), "type": "tracks", "time_range": "short_term"}
    body = (await seeded.get("/users/ann/top-items", params=params)).json()
    assert (body["type"], body["time_range"]) == ("tracks", "short_term")
    assert [(item["rank"], item["id"]) for item in body["items"]] == [(1, "t2"), (2, "t1")]
    artists = (await seeded.get("/users/ann/top-items", params={"type": "artists"})).json()
    assert artists["time_range"] == "medium_term"
    assert [(item["rank"], item["name"]) for item in artists["items"]] == [
        (1, "Artist a2"),
        (2, "Artist a1"),
    ]


async def test_top_artists_serve_genres_as_a_list(
    database: Database, seeded: httpx.AsyncClient
) -> None:
    """An extended-quota app's artists carry genres; they come back as the list Spotify sent."""
    genres = ("indie folk", "chamber pop")
    artist = SpotifyArtist(id="a2", name="Artist a2", genres=genres, popularity=5, image_url=None)
    database.run_sync(catalogue.upsert_artists, [artist])
    tomorrow = DAY + dt.timedelta(days=1)
    database.run_sync(
        lambda: make_snapshot(
            User.get(username="ann"), tomorrow, top_artists={"medium_term": ["a2"]}
        )
    )
    body = (await seeded.get("/users/ann/top-items", params={"type": "artists"})).json()
    assert body["items"][0]["genres"] == ["indie folk", "chamber pop"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("type", "albums", id="type"),
        pytest.param("time_range", "forever", id="time-range"),
        pytest.param("time_range", "SHORT_TERM", id="case"),
    ],
)
async def test_unknown_enum_values_are_400(
    seeded: httpx.AsyncClient, name: str, value: str
) -> None:
    response = await seeded.get("/users/ann/top-items", params={name: value})
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == name


async def test_clusters_and_snapshot_list(seeded: httpx.AsyncClient) -> None:
    clusters = (await seeded.get("/users/ann/clusters", params={"date": DAY.isoformat()})).json()
    assert [c["label"] for c in clusters["clusters"]] == ["high energy", "acoustic"]
    assert clusters["features_source"] == "csv"
    listed = (await seeded.get("/users/ann/snapshots")).json()
    assert [(s["date"], s["status"]) for s in listed["snapshots"]] == [
        ("2026-11-20", "complete"),
        ("2026-11-17", "complete"),
        ("2026-11-10", "complete"),
    ]


async def test_a_dated_snapshot_is_cacheable_and_answers_304(
    database: Database, seeded: httpx.AsyncClient
) -> None:
    url = "/user-recommendations/ann?date=2026-11-20"
    first = await seeded.get(url)
    assert first.headers["cache-control"] == "public, max-age=86400"
    etag = first.headers["etag"]
    again = await seeded.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other_view = await seeded.get("/users/ann/clusters?date=2026-11-20")
    assert other_view.headers["etag"] != etag


async def test_responses_carry_no_stored_secret(seeded: httpx.AsyncClient) -> None:
    for path in (
        "/user-recommendations/ann",
        "/users/ann/top-items?type=artists",
        "/users/ann/clusters",
        "/users/ann/snapshots",
    ):
        response = await seeded.get(path)
        assert response.status_code == 200
        assert "secret-cipher" not in response.text
        assert "refresh" not in response.text


async def test_recommendations_report_novelty_and_source_mix(
    database: Database, api: httpx.AsyncClient
) -> None:
    def write() -> None:
        user = make_user("bea")
        for track_id in ("t1", "t2", "t3", "t4"):
            make_track(track_id, [f"a-{track_id}"], "al1")
        snapshot = make_snapshot(user, DAY, recommendations=["t1", "t2", "t3", "t4"])
        marks = [("csv", True), ("artists", False), ("csv", True), ("co-listeners", True)]
        for rank, (source, new) in enumerate(marks, start=1):
            Recommendation.update(source=source, new_artist=new).where(
                (Recommendation.snapshot == snapshot) & (Recommendation.rank == rank)
            ).execute()
        render_snapshot(snapshot.id)

    database.run_sync(write)

    body = (await api.get("/user-recommendations/bea")).json()

    assert body["novelty"] == 0.75
    assert body["source_mix"] == {"csv": 2, "artists": 1, "co-listeners": 1}
    assert [(r["source"], r["new_artist"]) for r in body["recommendations"]][:2] == [
        ("csv", True),
        ("artists", False),
    ]


async def test_picks_from_before_sources_were_recorded_report_no_novelty(
    seeded: httpx.AsyncClient,
) -> None:
    body = (await seeded.get("/user-recommendations/ann", params={"date": DAY.isoformat()})).json()

    assert (body["novelty"], body["source_mix"]) == (None, {})


@pytest.mark.parametrize(
    ("path", "query", "unknown"),
    [
        pytest.param("/user-recommendations/ann", "Date=1999-01-01", ["Date"], id="case"),
        pytest.param("/users/ann/top-items", "type=artists&range=short_term", ["range"], id="typo"),
        pytest.param("/users/ann/snapshots", "b=1&a=2", ["a", "b"], id="two"),
        pytest.param("/users/ann/history", "from=2026-01-01", ["from"], id="history"),
        pytest.param("/health", "verbose=1", ["verbose"], id="health"),
    ],
)
async def test_unknown_query_parameters_are_400_naming_them(
    seeded: httpx.AsyncClient, path: str, query: str, unknown: list[str]
) -> None:
    response = await seeded.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert [p["name"] for p in response.json()["invalid_params"]] == unknown
    for name in unknown:
        assert name in response.json()["detail"]


async def test_an_unknown_parameter_name_is_not_echoed_at_length(
    seeded: httpx.AsyncClient,
) -> None:
    response = await seeded.get(f"/users/ann/snapshots?{'x' * 5000}=1")
    assert response.status_code == 400
    assert len(response.text) < 1000


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/users/" + "x" * 5000 + "/snapshots", id="400"),
        pytest.param("/nowhere/" + "x" * 5000, id="404"),
    ],
)
async def test_a_problem_does_not_echo_a_long_path(seeded: httpx.AsyncClient, path: str) -> None:
    response = await seeded.get(path)
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == PROBLEM
    assert len(response.text) < 1000


async def test_a_problem_names_a_short_path_as_its_instance(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/users/nobody/snapshots")
    assert response.json()["instance"] == "/users/nobody/snapshots"


async def test_gzip_is_sent_from_the_stored_copy_when_the_client_accepts_it(
    database: Database, seeded: httpx.AsyncClient
) -> None:
    url = "/users/ann/clusters?date=2026-11-20"
    stored = database.run_sync(documents.find_document, "ann", DAY, documents.CLUSTERS)
    zipped = await seeded.get(url, headers={"Accept-Encoding": "br, gzip;q=0.5"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["content-length"] == str(len(stored.gzip))
    assert zipped.content == stored.body  # httpx undid the stored gzip
    plain = await seeded.get(url, headers={"Accept-Encoding": "identity, gzip;q=0"})
    assert "content-encoding" not in plain.headers
    assert plain.content == stored.body
    assert plain.headers["etag"] == zipped.headers["etag"]


async def test_a_gzip_client_with_a_current_copy_gets_304(seeded: httpx.AsyncClient) -> None:
    url = "/users/ann/top-items?date=2026-11-20&type=tracks&time_range=short_term"
    first = await seeded.get(url, headers={"Accept-Encoding": "gzip"})
    again = await seeded.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert "content-encoding" not in again.headers


@pytest.mark.parametrize(
    "query", [pytest.param("", id="latest"), pytest.param("?date=2026-11-20", id="dated")]
)
async def test_a_plain_client_with_a_current_copy_gets_304_without_an_inflation(
    seeded: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    # The stored gzip copy is inflated only for a body that is sent: a 304 sends none.
    url = f"/user-recommendations/ann{query}"
    etag = (await seeded.get(url, headers={"Accept-Encoding": "gzip"})).headers["etag"]
    inflated: list[bytes] = []
    inflate = documents.inflate

    def counting(copy: bytes) -> bytes:
        inflated.append(copy)
        return inflate(copy)

    monkeypatch.setattr(documents, "inflate", counting)
    again = await seeded.get(url, headers={"Accept-Encoding": "identity", "If-None-Match": etag})
    assert again.status_code == 304
    assert inflated == []


async def test_a_dated_statistics_answer_never_changes(
    database: Database, seeded: httpx.AsyncClient, app_client: Callable[..., Any]
) -> None:
    """Issue 11, defect 6: features and plays stored later do not alter a dated answer."""
    url = "/users/ann/statistics?date=2026-11-20"
    before = await seeded.get(url)
    assert before.json()["tracks_with_features"] == 0

    def later() -> None:
        for track_id in ("t1", "t2"):
            store_features(track_id)
        Play.create(user=User.get(username="ann"), track="t1", played_at=dt.datetime(2026, 11, 19))

    database.run_sync(later)
    fresh_process = await app_client()
    after = await fresh_process.get(url)
    assert after.content == before.content
    assert after.headers["etag"] == before.headers["etag"]


async def test_a_forced_redo_is_served_with_a_new_etag(
    database: Database, seeded: httpx.AsyncClient, app_client: Callable[..., Any]
) -> None:
    url = "/user-recommendations/ann?date=2026-11-20"
    etag = (await seeded.get(url)).headers["etag"]

    def redo() -> None:
        Snapshot.delete().where(Snapshot.date == DAY).execute()
        make_snapshot(User.get(username="ann"), DAY, recommendations=["t1"])

    database.run_sync(redo)
    regenerated = await (await app_client()).get(url, headers={"If-None-Match": etag})
    assert regenerated.status_code == 200
    assert regenerated.headers["etag"] != etag
