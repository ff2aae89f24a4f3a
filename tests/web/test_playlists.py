"""Playlists and their profiles against the emulated Spotify, both kinds of app, both databases."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable

import pytest
from starlette.datastructures import Secret

from db.database import Database
from db.models import User
from jobs.clustering import CLUSTER_FEATURES
from spotify_emulator import Faults
from tests.web.conftest import WORLD, Emulated

Make = Callable[..., Awaitable[Emulated]]
MODES = [pytest.param("development", id="dev-mode"), pytest.param("extended", id="extended")]
ANN, BOB = WORLD.users[0], WORLD.users[1]


@pytest.mark.parametrize("mode", MODES)
async def test_playlists_say_which_are_readable(emulated: Make, mode: str) -> None:
    env = await emulated(mode)
    response = await env.api.get(f"/users/{ANN.id}/playlists")
    assert response.status_code == 200, response.text
    listed = {p["id"]: p for p in response.json()["playlists"]}
    assert set(listed) == {ANN.playlist_id, BOB.playlist_id}
    own, followed = listed[ANN.playlist_id], listed[BOB.playlist_id]
    assert (own["owned"], own["readable"]) == (True, True)
    assert own["items"] == len(WORLD.playlists[ANN.playlist_id].track_ids)
    assert own["profile"].endswith(f"/users/{ANN.id}/playlists/{ANN.playlist_id}/profile")
    assert (followed["owned"], followed["readable"], followed["owner"]["id"]) == (
        False,
        False,
        BOB.id,
    )
    assert "profile" not in followed


@pytest.mark.parametrize("mode", MODES)
async def test_own_playlist_profile_and_clusters(emulated: Make, mode: str) -> None:
    env = await emulated(mode)
    playlist = WORLD.playlists[ANN.playlist_id]
    response = await env.api.get(f"/users/{ANN.id}/playlists/{playlist.id}/profile")
    assert response.status_code == 200, response.text
    body = response.json()
    tracks = set(playlist.track_ids)
    assert body["playlist"]["name"] == playlist.name
    assert body["tracks"] == len(tracks)
    features = body["features"]
    assert features["tracks_with_features"] == len(tracks)
    expected_sources = {"extended": {"spotify"}, "development": {"reccobeats", "csv"}}[mode]
    assert set(features["sources"]) <= expected_sources
    energy = [WORLD.features[t]["energy"] for t in tracks]
    assert features["profile"]["energy"]["mean"] == pytest.approx(
        statistics.fmean(energy), abs=1e-3
    )
    assert features["profile"]["energy"]["std"] == pytest.approx(
        statistics.pstdev(energy), abs=1e-3
    )
    clusters = body["clusters"]
    assert len(clusters) >= 2, body["note"]
    assert sorted(t for c in clusters for t in c["track_ids"]) == sorted(tracks)
    labels = [c["label"] for c in clusters]
    assert len(set(labels)) == len(labels)
    for cluster in clusters:
        assert cluster["size"] == len(cluster["track_ids"])
        for name in CLUSTER_FEATURES:
            members = [WORLD.features[t][name] for t in cluster["track_ids"]]
            assert cluster["centroid"][name] == pytest.approx(statistics.fmean(members), abs=1e-3)


@pytest.mark.parametrize("mode", MODES)
async def test_someone_elses_playlist_is_403_without_asking_for_its_items(
    emulated: Make, mode: str
) -> None:
    env = await emulated(mode)
    response = await env.api.get(f"/users/{ANN.id}/playlists/{BOB.playlist_id}/profile")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/playlist-not-readable"
    assert "owns or collaborates on" in problem["detail"]
    assert not [p for p in env.spotify_paths() if p.endswith("/items")]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/users/{ann}/playlists/0000000000000000000000/profile", 404, id="unknown"),
        pytest.param("/users/{ann}/playlists/not-an-id/profile", 400, id="malformed-id"),
        pytest.param("/users/nobody/playlists", 404, id="unknown-user"),
        pytest.param("/users/nobody/playlists/{own}/profile", 404, id="unknown-user-profile"),
    ],
)
async def test_bad_playlist_requests_are_problems(emulated: Make, path: str, status: int) -> None:
    env = await emulated("development")
    response = await env.api.get(path.format(ann=ANN.id, own=ANN.playlist_id))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_revoked_user_must_log_in_again(emulated: Make, database: Database) -> None:
    env = await emulated("development")
    env.server.revoke(ANN.id)
    response = await env.api.get(f"/users/{ANN.id}/playlists")
    assert response.status_code == 409
    assert ANN.id in response.json()["reauth_url"]
    status = database.run_sync(lambda: User.get(User.username == ANN.id).status)
    assert status == User.REAUTH_REQUIRED


async def test_a_user_off_the_allow_list_is_403(emulated: Make) -> None:
    env = await emulated("development")
    env.server.allow_list = {BOB.id}
    response = await env.api.get(f"/users/{ANN.id}/playlists")
    assert response.status_code == 403
    assert "allow-list" in response.json()["detail"]


async def test_without_an_encryption_key_tokens_cannot_be_read(emulated: Make) -> None:
    env = await emulated("development", token_encryption_keys=())
    response = await env.api.get(f"/users/{ANN.id}/playlists")
    assert response.status_code == 503
    assert "TOKEN_ENCRYPTION_KEY" in response.json()["detail"]


async def test_spotify_down_is_503(emulated: Make) -> None:
    env = await emulated("development", Faults(quota=0))
    response = await env.api.get(f"/users/{ANN.id}/playlists/{ANN.playlist_id}/profile")
    assert response.status_code == 503


async def test_playlist_endpoints_need_an_api_key_when_keys_are_set(emulated: Make) -> None:
    env = await emulated("development", api_keys=(Secret("k1"),))
    assert (await env.api.get(f"/users/{ANN.id}/playlists")).status_code == 401
    own = f"/users/{ANN.id}/playlists/{ANN.playlist_id}/profile"
    assert (await env.api.get(own)).status_code == 401
    keyed = await env.api.get(own, headers={"Authorization": "Bearer k1"})
    assert keyed.status_code == 200


async def test_a_client_holding_a_playlist_profile_gets_304(emulated: Make) -> None:
    env = await emulated("development")
    path = f"/users/{ANN.id}/playlists/{ANN.playlist_id}/profile"
    first = await env.api.get(path)
    etag = first.headers["etag"]

    again = await env.api.get(path, headers={"If-None-Match": f"W/{etag}"})
    other = await env.api.get(path, headers={"If-None-Match": '"something-else"'})
    listed = await env.api.get(f"/users/{ANN.id}/playlists")
    listed_again = await env.api.get(
        f"/users/{ANN.id}/playlists", headers={"If-None-Match": listed.headers["etag"]}
    )

    assert first.headers["cache-control"] == "public, no-cache"
    assert (again.status_code, again.content) == (304, b"")
    assert (other.status_code, other.json()) == (200, first.json())
    assert listed_again.status_code == 304
