"""Catalogue endpoints: object shapes, removed fields in development mode, 2026 limits, search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from spotify_emulator import World
from tests.spotify_emulator.helpers import Connect, app_headers

TRACK_KEYS = {
    "id",
    "name",
    "uri",
    "type",
    "href",
    "duration_ms",
    "explicit",
    "artists",
    "album",
    "external_ids",
    "track_number",
    "disc_number",
}
REMOVED_TRACK = {"popularity", "available_markets", "preview_url"}
REMOVED_ARTIST = {"popularity", "followers", "genres"}
REMOVED_ALBUM = {"popularity", "label"}


@pytest.mark.parametrize("mode", ["development", "extended"])
async def test_track_shape(connect: Connect, world: World, mode: str) -> None:
    track = next(t for t in world.tracks.values() if len(t.artist_ids) > 1)
    async with connect(mode) as client:
        body = (
            await client.get(f"/v1/tracks/{track.id}", headers=await app_headers(client, world))
        ).json()
    assert set(body) >= TRACK_KEYS
    assert body["uri"] == f"spotify:track:{track.id}"
    assert body["external_ids"] == {"isrc": track.isrc}
    assert [a["id"] for a in body["artists"]] == track.artist_ids
    assert set(body["artists"][0]) >= {"id", "name", "uri", "type"}
    assert body["album"]["id"] == track.album_id
    assert body["album"]["release_date"] == world.albums[track.album_id].release_date
    assert body["album"]["images"][0]["url"].startswith("https://")
    assert (set(body) >= REMOVED_TRACK) is (mode == "extended")
    assert bool(REMOVED_TRACK & set(body)) is (mode == "extended")


@pytest.mark.parametrize(
    ("mode", "expect_removed"),
    [
        pytest.param("development", False, id="development"),
        pytest.param("extended", True, id="extended"),
    ],
)
async def test_artist_and_album_removed_fields(
    connect: Connect, world: World, mode: str, expect_removed: bool
) -> None:
    album = next(iter(world.albums.values()))
    async with connect(mode) as client:
        headers = await app_headers(client, world)
        artist = (await client.get(f"/v1/artists/{album.artist_ids[0]}", headers=headers)).json()
        full = (await client.get(f"/v1/albums/{album.id}", headers=headers)).json()
    assert (set(artist) >= REMOVED_ARTIST) is expect_removed
    assert bool(REMOVED_ARTIST & set(artist)) is expect_removed
    assert (set(full) >= REMOVED_ALBUM) is expect_removed
    assert bool(REMOVED_ALBUM & set(full)) is expect_removed
    assert [t["id"] for t in full["tracks"]["items"]] == album.track_ids


async def test_album_tracks_paging(connect: Connect, world: World) -> None:
    album = max(world.albums.values(), key=lambda a: len(a.track_ids))
    async with connect() as client:
        headers = await app_headers(client, world)
        first = (
            await client.get(f"/v1/albums/{album.id}/tracks", params={"limit": 3}, headers=headers)
        ).json()
        rest = (await client.get(first["next"], headers=headers)).json()
    assert first["total"] == len(album.track_ids)
    assert [t["id"] for t in first["items"] + rest["items"]][:6] == album.track_ids[:6]
    assert rest["offset"] == 3


@pytest.mark.parametrize(
    ("mode", "limit", "status"),
    [
        pytest.param("development", 10, 200, id="development-10"),
        pytest.param("development", 11, 400, id="development-11"),
        pytest.param("extended", 50, 200, id="extended-50"),
        pytest.param("extended", 51, 400, id="extended-51"),
    ],
)
async def test_artist_albums_limit(
    connect: Connect, world: World, mode: str, limit: int, status: int
) -> None:
    artist = next(iter(world.artists.values()))
    async with connect(mode) as client:
        answer = await client.get(
            f"/v1/artists/{artist.id}/albums",
            params={"limit": limit},
            headers=await app_headers(client, world),
        )
    assert answer.status_code == status
    if status == 200:
        assert {a["id"] for a in answer.json()["items"]} == set(artist.album_ids)
    else:
        assert answer.json() == {"error": {"status": 400, "message": "Invalid limit"}}


@pytest.mark.parametrize(
    ("mode", "params", "status"),
    [
        pytest.param("development", {"limit": 10}, 200, id="development-limit-10"),
        pytest.param("development", {"limit": 11}, 400, id="development-limit-11"),
        pytest.param("extended", {"limit": 50}, 200, id="extended-limit-50"),
        pytest.param("development", {"offset": 1000}, 200, id="offset-1000"),
        pytest.param("development", {"offset": 1001}, 400, id="offset-1001"),
    ],
)
async def test_search_limits(
    connect: Connect, world: World, mode: str, params: dict[str, int], status: int
) -> None:
    async with connect(mode) as client:
        answer = await client.get(
            "/v1/search",
            params={"q": "a", "type": "track", **params},
            headers=await app_headers(client, world),
        )
    assert answer.status_code == status


async def test_search_defaults_to_five_in_development_mode(connect: Connect, world: World) -> None:
    async with connect() as client:
        body = (
            await client.get(
                "/v1/search",
                params={"q": "a", "type": "track,artist"},
                headers=await app_headers(client, world),
            )
        ).json()
    assert body["tracks"]["limit"] == 5
    assert len(body["artists"]["items"]) == 5


async def test_search_by_isrc_finds_the_track(connect: Connect, world: World) -> None:
    track = list(world.tracks.values())[123]
    async with connect() as client:
        body = (
            await client.get(
                "/v1/search",
                params={"q": f"isrc:{track.isrc}", "type": "track"},
                headers=await app_headers(client, world),
            )
        ).json()
    assert [t["id"] for t in body["tracks"]["items"]] == [track.id]


async def test_search_by_artist_and_track_name(connect: Connect, world: World) -> None:
    track = list(world.tracks.values())[42]
    artist = world.artists[track.artist_ids[0]]
    query = f'track:"{track.name}" artist:"{artist.name}"'
    async with connect() as client:
        body = (
            await client.get(
                "/v1/search",
                params={"q": query, "type": "track", "limit": 10},
                headers=await app_headers(client, world),
            )
        ).json()
    assert track.id in [t["id"] for t in body["tracks"]["items"]]
    assert all(artist.id in [a["id"] for a in t["artists"]] for t in body["tracks"]["items"])


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"type": "track"}, id="no-query"),
        pytest.param({"q": "a"}, id="no-type"),
        pytest.param({"q": "a", "type": "podcast"}, id="bad-type"),
    ],
)
async def test_search_refuses_bad_requests(
    connect: Connect, world: World, params: dict[str, str]
) -> None:
    async with connect() as client:
        answer = await client.get(
            "/v1/search", params=params, headers=await app_headers(client, world)
        )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v1/tracks/0000000000000000000000", id="track"),
        pytest.param("/v1/artists/0000000000000000000000", id="artist"),
        pytest.param("/v1/albums/0000000000000000000000", id="album"),
        pytest.param("/v1/albums/0000000000000000000000/tracks", id="album-tracks"),
    ],
)
async def test_unknown_ids_are_404(connect: Connect, world: World, path: str) -> None:
    async with connect() as client:
        answer = await client.get(path, headers=await app_headers(client, world))
    assert answer.status_code == 404
    assert answer.json() == {"error": {"status": 404, "message": "Resource not found"}}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer BQnot-a-token"}, id="unknown-token"),
    ],
)
async def test_bad_bearer_is_401(connect: Connect, world: World, headers: dict[str, str]) -> None:
    track_id = next(iter(world.tracks))
    async with connect() as client:
        answer = await client.get(f"/v1/tracks/{track_id}", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == 401


async def test_featured_artists_show_in_album_track_lists(connect: Connect, world: World) -> None:
    featured = [t for t in world.tracks.values() if len(t.artist_ids) > 1]
    track = featured[0]
    async with connect() as client:
        headers = await app_headers(client, world)
        listed = (
            await client.get(
                f"/v1/albums/{track.album_id}/tracks", params={"limit": 50}, headers=headers
            )
        ).json()["items"]
        guest = await client.get(f"/v1/artists/{track.artist_ids[1]}", headers=headers)
    assert len(featured) > 100  # about one track in ten has a guest
    entry = next(item for item in listed if item["id"] == track.id)
    assert [a["id"] for a in entry["artists"]] == track.artist_ids
    assert guest.status_code == 200
    assert guest.json()["name"] == world.artists[track.artist_ids[1]].name
    assert all(a in world.artists for t in featured for a in t.artist_ids)


async def _search_all(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, kind: str
) -> list[dict[str, Any]]:
    """Every result of a search, paging ten at a time (the development-mode cap)."""
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = (
            await client.get(
                "/v1/search",
                params={"q": query, "type": kind, "limit": 10, "offset": offset},
                headers=headers,
            )
        ).json()[f"{kind}s"]
        items += body["items"]
        if body["next"] is None or offset >= 1000:
            return items
        offset += 10


async def test_search_genre_and_year_filters_narrow_tracks(connect: Connect, world: World) -> None:
    artist = next(a for a in world.artists.values() if " " in a.genres[0])
    genre = artist.genres[0]
    year = world.albums[artist.album_ids[0]].release_date[:4]
    query = f'genre:"{genre}" year:{year}'
    expected = {
        t.id
        for t in world.tracks.values()
        if world.albums[t.album_id].release_date[:4] == year
        and any(genre in world.artists[a].genres for a in t.artist_ids)
    }
    async with connect() as client:
        found = await _search_all(client, await app_headers(client, world), query, "track")
    assert {t["id"] for t in found} == expected
    assert expected


async def test_search_year_range_and_artist_genre(connect: Connect, world: World) -> None:
    async with connect() as client:
        headers = await app_headers(client, world)
        albums = await _search_all(client, headers, "year:2005-2006", "album")
        artists = await _search_all(client, headers, "genre:trap", "artist")
        unreadable = await _search_all(client, headers, "year:soon", "album")
    assert {a["id"] for a in albums} == {
        a.id for a in world.albums.values() if a.release_date[:4] in ("2005", "2006")
    }
    assert {a["id"] for a in artists} == {
        a.id for a in world.artists.values() if "trap" in a.genres
    }
    assert unreadable == []
