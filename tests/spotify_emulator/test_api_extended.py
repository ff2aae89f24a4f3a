"""Extended-only endpoints: working in extended mode, refused as in 2026 in development mode."""

from __future__ import annotations

import pytest

from spotify_emulator import World
from tests.spotify_emulator.helpers import Connect, app_headers


@pytest.mark.parametrize(
    ("path", "params", "development_status"),
    [
        pytest.param("/v1/recommendations", {"seed_tracks": "{track}"}, 404, id="recommendations"),
        pytest.param("/v1/audio-features", {"ids": "{track}"}, 403, id="audio-features"),
        pytest.param("/v1/audio-features/{track}", {}, 403, id="audio-features-id"),
        pytest.param("/v1/tracks", {"ids": "{track}"}, 403, id="batch-tracks"),
        pytest.param("/v1/artists", {"ids": "{artist}"}, 403, id="batch-artists"),
        pytest.param("/v1/albums", {"ids": "{album}"}, 403, id="batch-albums"),
        pytest.param("/v1/artists/{artist}/top-tracks", {}, 403, id="top-tracks"),
        pytest.param("/v1/artists/{artist}/related-artists", {}, 403, id="related-artists"),
    ],
)
async def test_removed_in_development_mode_work_in_extended(
    connect: Connect, world: World, path: str, params: dict[str, str], development_status: int
) -> None:
    ids = {"track": next(iter(world.tracks)), "artist": next(iter(world.artists))}
    ids["album"] = next(iter(world.albums))
    path = path.format(**ids)
    params = {key: value.format(**ids) for key, value in params.items()}
    async with connect("development") as client:
        refused = await client.get(path, params=params, headers=await app_headers(client, world))
    async with connect("extended") as client:
        allowed = await client.get(path, params=params, headers=await app_headers(client, world))
    assert refused.status_code == development_status
    assert refused.json()["error"]["status"] == development_status
    assert allowed.status_code == 200


async def test_recommendations_answer_the_world_truth(connect: Connect, world: World) -> None:
    user = world.users[0]
    seeds = {
        "seed_tracks": ",".join(user.top_tracks["short_term"][:2]),
        "seed_artists": user.top_artists["short_term"][0],
        "limit": "25",
    }
    async with connect("extended") as client:
        body = (
            await client.get(
                "/v1/recommendations", params=seeds, headers=await app_headers(client, world)
            )
        ).json()
    expected = world.recommendations_for(
        user.top_tracks["short_term"][:2], [user.top_artists["short_term"][0]], 25
    )
    assert [t["id"] for t in body["tracks"]] == expected
    assert [s["type"] for s in body["seeds"]] == ["TRACK", "TRACK", "ARTIST"]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="no-seeds"),
        pytest.param({"seed_genres": "folk,house,rap,ambient,trap,edm"}, id="six-seeds"),
        pytest.param({"seed_genres": "folk", "limit": "101"}, id="limit-over-100"),
        pytest.param({"seed_tracks": "0000000000000000000000"}, id="unknown-seed"),
    ],
)
async def test_recommendations_refuse_bad_requests(
    connect: Connect, world: World, params: dict[str, str]
) -> None:
    async with connect("extended") as client:
        answer = await client.get(
            "/v1/recommendations", params=params, headers=await app_headers(client, world)
        )
    assert answer.status_code == 400


async def test_genre_seed_recommends_that_sound(connect: Connect, world: World) -> None:
    async with connect("extended") as client:
        body = (
            await client.get(
                "/v1/recommendations",
                params={"seed_genres": "ambient"},
                headers=await app_headers(client, world),
            )
        ).json()
    archetypes = {world.artists[t["artists"][0]["id"]].archetype for t in body["tracks"]}
    assert archetypes == {"ambient"}


async def test_audio_features_batch(connect: Connect, world: World) -> None:
    ids = [*list(world.tracks)[:3], "0000000000000000000000"]
    async with connect("extended") as client:
        body = (
            await client.get(
                "/v1/audio-features",
                params={"ids": ",".join(ids)},
                headers=await app_headers(client, world),
            )
        ).json()
    first = body["audio_features"][0]
    assert {k: first[k] for k in world.features[ids[0]]} == world.features[ids[0]]
    assert first["id"] == ids[0]
    assert body["audio_features"][3] is None


@pytest.mark.parametrize(
    ("path", "maximum"),
    [
        pytest.param("/v1/audio-features", 100, id="audio-features"),
        pytest.param("/v1/tracks", 50, id="tracks"),
        pytest.param("/v1/artists", 50, id="artists"),
        pytest.param("/v1/albums", 20, id="albums"),
    ],
)
async def test_batch_caps(connect: Connect, world: World, path: str, maximum: int) -> None:
    tables = {"/v1/artists": list(world.artists), "/v1/albums": list(world.albums)}
    ids = tables.get(path, list(world.tracks))
    async with connect("extended") as client:
        headers = await app_headers(client, world)
        ok = await client.get(path, params={"ids": ",".join(ids[:maximum])}, headers=headers)
        over = await client.get(path, params={"ids": ",".join(ids[: maximum + 1])}, headers=headers)
    assert ok.status_code == 200
    assert over.status_code == 400


async def test_top_tracks_and_related_artists_match_the_world(
    connect: Connect, world: World
) -> None:
    artist = list(world.artists.values())[9]
    async with connect("extended") as client:
        headers = await app_headers(client, world)
        top = (await client.get(f"/v1/artists/{artist.id}/top-tracks", headers=headers)).json()
        related = (
            await client.get(f"/v1/artists/{artist.id}/related-artists", headers=headers)
        ).json()
    assert [t["id"] for t in top["tracks"]] == world.top_tracks_of_artist(artist.id)
    assert [a["id"] for a in related["artists"]] == world.related_artists(artist.id)
    assert artist.id not in [a["id"] for a in related["artists"]]


async def test_batch_albums_are_full_albums(connect: Connect, world: World) -> None:
    ids = list(world.albums)[:2]
    async with connect("extended") as client:
        body = (
            await client.get(
                "/v1/albums",
                params={"ids": ",".join(ids)},
                headers=await app_headers(client, world),
            )
        ).json()
    assert [a["id"] for a in body["albums"]] == ids
    assert [t["id"] for t in body["albums"][0]["tracks"]["items"]] == world.albums[ids[0]].track_ids
    assert body["albums"][0]["label"] == world.albums[ids[0]].label
