"""Local files and podcast episodes where tracks are expected, and genres in extended mode."""

from __future__ import annotations

from typing import Any

import pytest

from spotify_emulator import Faults, World
from tests.spotify_emulator.helpers import Connect, app_headers, user_headers

ODD = Faults(local_files=True, episodes=True)


def _is_local_file(track: dict[str, Any]) -> bool:
    return bool(track["is_local"])


def _assert_local_shape(track: dict[str, Any]) -> None:
    assert track["is_local"] is True
    assert track["id"] is None
    assert track["type"] == "track"
    assert all(artist["id"] is None and artist["name"] for artist in track["artists"])
    assert track["album"]["id"] is None
    assert track["album"]["name"]
    scheme, kind, artist, album, title, seconds = track["uri"].split(":")
    assert (scheme, kind) == ("spotify", "local")
    assert all((artist, album, title))
    assert int(seconds) == track["duration_ms"] // 1000


def _assert_episode_shape(item: dict[str, Any], world: World) -> None:
    assert item["type"] == "episode"
    assert "album" not in item
    assert item["id"] in world.episodes
    assert item["uri"] == f"spotify:episode:{item['id']}"
    assert item["show"]["type"] == "show"
    assert item["show"]["id"] == world.episodes[item["id"]].show_id


async def test_saved_tracks_hold_local_files(connect: Connect, world: World) -> None:
    user = world.users[0]
    async with connect(faults=Faults(local_files=True)) as client:
        body = (
            await client.get(
                "/v1/me/tracks",
                params={"limit": 50},
                headers=await user_headers(client, world, user),
            )
        ).json()
    tracks = [item["track"] for item in body["items"]]
    local = [t for t in tracks if t["is_local"]]
    assert body["total"] == len(user.saved) + 3
    assert len(local) == 3
    assert [i for i, t in enumerate(tracks) if t["is_local"]] == [1, 17, 33]
    for track in local:
        _assert_local_shape(track)
    assert [t["id"] for t in tracks if not t["is_local"]] == user.saved
    added = [item["added_at"] for item in body["items"]]
    assert added == sorted(added, reverse=True)


async def test_no_odd_items_unless_switched_on(connect: Connect, world: World) -> None:
    user = world.users[0]
    async with connect() as client:
        headers = await user_headers(client, world, user)
        saved = (await client.get("/v1/me/tracks", params={"limit": 50}, headers=headers)).json()
        recent = (
            await client.get("/v1/me/player/recently-played", params={"limit": 50}, headers=headers)
        ).json()
    assert not any(item["track"]["is_local"] for item in saved["items"])
    assert {item["track"]["type"] for item in recent["items"]} == {"track"}


async def test_recently_played_mixes_in_local_files_and_episodes(
    connect: Connect, world: World
) -> None:
    user = world.users[1]
    async with connect(faults=ODD) as client:
        body = (
            await client.get(
                "/v1/me/player/recently-played",
                params={"limit": 50},
                headers=await user_headers(client, world, user),
            )
        ).json()
    items = [item["track"] for item in body["items"]]
    episodes = [t for t in items if t["type"] == "episode"]
    local = [t for t in items if t["type"] == "track" and t["is_local"]]
    assert len(items) == 50  # still only the last 50 plays
    assert len(episodes) == 2
    assert len(local) == 2
    for episode in episodes:
        _assert_episode_shape(episode, world)
        assert episode["show"]["id"] in user.show_ids
    for track in local:
        _assert_local_shape(track)
    played = [item["played_at"] for item in body["items"]]
    assert played == sorted(played, reverse=True)


async def test_playlist_items_hold_a_local_file_and_an_episode(
    connect: Connect, world: World
) -> None:
    user = world.users[2]
    async with connect(faults=ODD) as client:
        headers = await user_headers(client, world, user)
        items = (
            await client.get(
                f"/v1/playlists/{user.playlist_id}/items", params={"limit": 50}, headers=headers
            )
        ).json()
        playlist = (await client.get(f"/v1/playlists/{user.playlist_id}", headers=headers)).json()
    entries = items["items"]
    assert (
        items["total"]
        == playlist["items"]["total"]
        == len(world.playlists[user.playlist_id].track_ids) + 2
    )
    assert entries[3]["is_local"] is True
    _assert_local_shape(entries[3]["item"])
    assert entries[7]["is_local"] is False
    _assert_episode_shape(entries[7]["item"], world)
    tracks = [
        e["item"]["id"] for e in entries if e["item"]["type"] == "track" and not e["is_local"]
    ]
    assert tracks == world.playlists[user.playlist_id].track_ids


@pytest.mark.parametrize(
    ("mode", "has_genres"),
    [pytest.param("extended", True, id="extended"), pytest.param("development", False, id="dev")],
)
async def test_every_artist_carries_genres_in_extended_mode_only(
    connect: Connect, world: World, mode: str, has_genres: bool
) -> None:
    user = world.users[0]
    async with connect(mode) as client:
        top = (
            await client.get(
                "/v1/me/top/artists",
                params={"limit": 50},
                headers=await user_headers(client, world, user),
            )
        ).json()["items"]
        headers = await app_headers(client, world)
        one = [
            (await client.get(f"/v1/artists/{a}", headers=headers)).json()
            for a in list(world.artists)[:20]
        ]
    for artist in [*top, *one]:
        if has_genres:
            assert isinstance(artist["genres"], list)
            assert artist["genres"]
            assert all(isinstance(g, str) for g in artist["genres"])
        else:
            assert "genres" not in artist
    if has_genres:
        assert all(world.artists[a].genres for a in world.artists)
