"""The app's catalogue calls: the request each sends (paths, 2026 limits, paging, batches)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from spotify_client import Album, ArtistRef, QuotaExceeded, SpotifyClient
from tests.spotify_client.conftest import (
    API,
    artist_json,
    ids_of,
    page,
    paged,
    params_of,
    track_json,
)

FEATURES = {
    "danceability": 0.5,
    "energy": 0.7,
    "key": 5,
    "loudness": -6.2,
    "mode": 1,
    "speechiness": 0.04,
    "acousticness": 0.1,
    "instrumentalness": 0.0,
    "liveness": 0.12,
    "valence": 0.6,
    "tempo": 120.0,
    "time_signature": 4,
}


def _searched(
    spotify: respx.MockRouter, kind: str, make: Callable[[str], dict[str, Any]], count: int
) -> respx.Route:
    """Spotify's /search holding `count` results of `kind` ("tracks", "artists"), paged."""
    serve = paged(make, count)
    return spotify.get(f"{API}/search").mock(
        side_effect=lambda request: httpx.Response(200, json={kind: serve(request).json()})
    )


async def test_search_tracks_pages_ten_at_a_time(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    route = _searched(spotify, "tracks", track_json, 100)
    tracks = await client.search_tracks("daft punk", limit=25)
    assert [t.id for t in tracks] == [f"x{n}" for n in range(25)]
    assert params_of(route) == [
        {"q": "daft punk", "type": "track", "limit": "10", "offset": "0"},
        {"q": "daft punk", "type": "track", "limit": "10", "offset": "10"},
        {"q": "daft punk", "type": "track", "limit": "5", "offset": "20"},
    ]


async def test_search_artists_stops_at_the_last_page(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    route = _searched(spotify, "artists", artist_json, 12)
    artists = await client.search_artists("x", limit=50)
    assert len(artists) == 12
    assert [p["limit"] for p in params_of(route)] == ["10", "10"]
    assert {p["type"] for p in params_of(route)} == {"artist"}


async def test_search_artists_starts_at_the_offset_asked_for(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    route = _searched(spotify, "artists", artist_json, 40)
    artists = await client.search_artists("x", limit=10, offset=20)
    assert [a.id for a in artists] == [f"x{n}" for n in range(20, 30)]
    assert params_of(route) == [{"q": "x", "type": "artist", "limit": "10", "offset": "20"}]


async def test_removed_fields_become_none(client: SpotifyClient, spotify: respx.MockRouter) -> None:
    spotify.get(f"{API}/tracks/t1").respond(json=track_json())
    spotify.get(f"{API}/artists/a1").respond(json=artist_json())
    track = await client.track("t1")
    artist = await client.artist("a1")
    assert track.popularity is None
    assert track.isrc == "GBABC2000001"
    assert track.artists == (ArtistRef("a1", "Artist a1"),)
    assert track.album is not None
    assert track.album.release_date == "2020-01-01"
    assert (artist.genres, artist.popularity, artist.image_url) == (None, None, None)


async def test_extended_quota_fields_are_kept(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    spotify.get(f"{API}/tracks/t1").respond(json=track_json(popularity=77, explicit=True))
    spotify.get(f"{API}/artists/a1").respond(
        json=artist_json(
            genres=["house"], popularity=80, images=[{"url": "https://i/1.jpg"}], followers={}
        )
    )
    track = await client.track("t1")
    artist = await client.artist("a1")
    assert (track.popularity, track.explicit) == (77, True)
    assert (artist.genres, artist.popularity, artist.image_url) == (
        ("house",),
        80,
        "https://i/1.jpg",
    )


async def test_artist_albums_pages_ten_at_a_time(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/artists/a1/albums").mock(
        side_effect=paged(lambda i: {"id": i, "name": i, "artists": []}, 50)
    )
    albums = await client.artist_albums("a1", limit=20, include_groups="album")
    assert len(albums) == 20
    assert [(p["limit"], p["offset"], p["include_groups"]) for p in params_of(route)] == [
        ("10", "0", "album"),
        ("10", "10", "album"),
    ]


async def test_album_tracks_carry_the_album(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    album = Album("al9", "Nine", (), "1999", None)
    simplified = {k: v for k, v in track_json().items() if k != "album"}
    route = spotify.get(f"{API}/albums/al9/tracks").respond(json=page([simplified]))
    tracks = await client.album_tracks(album, limit=80)
    assert tracks[0].album == album
    assert params_of(route) == [{"limit": "50", "offset": "0"}]


async def test_batch_tracks_in_chunks_of_fifty_keep_order_and_skip_unknown(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    def batch(request: httpx.Request) -> httpx.Response:
        ids = ids_of(request)
        return httpx.Response(
            200, json={"tracks": [None if i == "t7" else track_json(i) for i in ids]}
        )

    route = spotify.get(f"{API}/tracks").mock(side_effect=batch)
    ids = [f"t{n}" for n in range(120)]
    tracks = await client.tracks([*ids, "t3"])
    assert [len(ids_of(call.request)) for call in route.calls] == [50, 50, 20]
    assert [t.id for t in tracks] == [i for i in ids if i != "t7"]


@pytest.mark.parametrize("status", [pytest.param(403, id="403"), pytest.param(404, id="404")])
async def test_closed_batch_falls_back_to_single_lookups(
    client: SpotifyClient, spotify: respx.MockRouter, status: int
) -> None:
    batch = spotify.get(f"{API}/tracks").respond(status)
    single = spotify.get(url__regex=rf"{API}/tracks/(?P<track_id>\w+)").mock(
        side_effect=lambda request, track_id: (
            httpx.Response(404)
            if track_id == "gone"
            else httpx.Response(200, json=track_json(track_id))
        )
    )
    first = await client.tracks(["t1", "gone", "t2"])
    assert [t.id for t in first] == ["t1", "t2"]
    assert not client.can("batch_tracks")
    second = await client.tracks(["t3"])
    assert [t.id for t in second] == ["t3"]
    assert batch.call_count == 1
    assert single.call_count == 4


async def test_failure_during_single_fallback_surfaces_as_itself(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    spotify.get(f"{API}/tracks").respond(403)
    spotify.get(url__regex=rf"{API}/tracks/(?P<track_id>\w+)").mock(
        side_effect=lambda request, track_id: (
            httpx.Response(429, json={"error": {"reason": "QUOTA_EXCEEDED"}})
            if track_id == "t3"
            else httpx.Response(200, json=track_json(track_id))
        )
    )
    with pytest.raises(QuotaExceeded):
        await client.tracks([f"t{n}" for n in range(6)])


async def test_closed_batch_artists_fall_back_to_single_lookups(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    batch = spotify.get(f"{API}/artists").respond(403)
    spotify.get(url__regex=rf"{API}/artists/(?P<artist_id>\w+)").mock(
        side_effect=lambda request, artist_id: httpx.Response(200, json=artist_json(artist_id))
    )
    artists = await client.artists(["a2", "a1"])
    assert [a.id for a in artists] == ["a2", "a1"]
    assert not client.can("batch_artists")
    assert batch.call_count == 1


async def test_batch_artists_request(client: SpotifyClient, spotify: respx.MockRouter) -> None:
    route = spotify.get(f"{API}/artists").respond(
        json={"artists": [artist_json("a1", genres=["jazz"], popularity=40)]}
    )
    artists = await client.artists(["a1"])
    assert route.calls.last.request.url.params["ids"] == "a1"
    assert artists[0].genres == ("jazz",)
    assert artists[0].popularity == 40


async def test_audio_features_in_chunks_of_a_hundred(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        entries = [None if i == "t5" else {**FEATURES, "id": i} for i in ids_of(request)]
        return httpx.Response(200, json={"audio_features": entries})

    route = spotify.get(f"{API}/audio-features").mock(side_effect=answer)
    found = await client.audio_features([f"t{n}" for n in range(150)])
    assert [len(ids_of(call.request)) for call in route.calls] == [100, 50]
    assert len(found) == 149
    assert "t5" not in found
    assert found["t1"].as_dict() == {name: float(value) for name, value in FEATURES.items()}
    assert isinstance(found["t1"].key, int)


async def test_recommendations_request(client: SpotifyClient, spotify: respx.MockRouter) -> None:
    route = spotify.get(f"{API}/recommendations").respond(json={"tracks": [track_json("r1")]})
    tracks = await client.recommendations(seed_tracks=["t1", "t2"], seed_artists=["a1"], limit=500)
    params = route.calls.last.request.url.params
    assert params["seed_tracks"] == "t1,t2"
    assert params["seed_artists"] == "a1"
    assert params["limit"] == "100"
    assert [t.id for t in tracks] == ["r1"]


@pytest.mark.parametrize(
    ("tracks", "artists"),
    [
        pytest.param([], [], id="no-seed"),
        pytest.param(["t1", "t2", "t3"], ["a1", "a2", "a3"], id="six-seeds"),
    ],
)
async def test_recommendations_need_one_to_five_seeds(
    client: SpotifyClient, tracks: list[str], artists: list[str]
) -> None:
    with pytest.raises(ValueError, match="seeds"):
        await client.recommendations(seed_tracks=tracks, seed_artists=artists)
