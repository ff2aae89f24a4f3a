"""Endpoints closed to the app: discovered once, remembered, and batch fallbacks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx

from spotify_client import (
    EndpointUnavailable,
    MemoryCapabilityStore,
    NotFound,
    QuotaExceeded,
    SpotifyClient,
)
from tests.spotify_client.conftest import API, EPOCH, artist_json, track_json

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


def _ids(request: httpx.Request) -> list[str]:
    return request.url.params["ids"].split(",")


@pytest.mark.parametrize(
    ("capability", "path", "status", "call"),
    [
        pytest.param("recommendations", "/recommendations", 404, "recs", id="recommendations-404"),
        pytest.param("recommendations", "/recommendations", 403, "recs", id="recommendations-403"),
        pytest.param("audio_features", "/audio-features", 403, "features", id="features-403"),
    ],
)
async def test_closed_endpoint_is_marked_persisted_and_not_probed_again(
    client: SpotifyClient,
    spotify: respx.MockRouter,
    store: MemoryCapabilityStore,
    capability: str,
    path: str,
    status: int,
    call: str,
) -> None:
    route = spotify.get(f"{API}{path}").respond(status, json={"error": {"status": status}})
    calls = {
        "recs": lambda: client.recommendations(seed_tracks=["t1"]),
        "features": lambda: client.audio_features(["t1"]),
    }
    assert client.can(capability)
    for _ in range(2):
        with pytest.raises(EndpointUnavailable) as raised:
            await calls[call]()
        assert raised.value.capability == capability
    assert not client.can(capability)
    assert route.call_count == 1
    assert store.marks == {capability: (False, EPOCH + dt.timedelta(days=1))}


async def test_a_fresh_client_loading_the_store_does_not_probe(
    make_client: Any, spotify: respx.MockRouter, store: MemoryCapabilityStore
) -> None:
    await store.save("recommendations", False, EPOCH + dt.timedelta(hours=3))
    await store.save("audio_features", False, EPOCH - dt.timedelta(seconds=1))  # expired
    route = spotify.get(f"{API}/recommendations").respond(json={"tracks": []})
    features = spotify.get(f"{API}/audio-features").respond(json={"audio_features": []})
    client: SpotifyClient = make_client()
    await client.load_capabilities()
    assert not client.can("recommendations")
    assert client.can("audio_features")
    with pytest.raises(EndpointUnavailable):
        await client.recommendations(seed_artists=["a1"])
    assert await client.audio_features(["t1"]) == {}
    assert route.call_count == 0
    assert features.call_count == 1


async def test_unknown_id_is_not_found_and_closes_nothing(
    client: SpotifyClient, spotify: respx.MockRouter, store: MemoryCapabilityStore
) -> None:
    spotify.get(f"{API}/tracks/nope").respond(404, json={"error": {"message": "Not found"}})
    spotify.get(f"{API}/artists/nope").respond(404)
    with pytest.raises(NotFound, match="Not found"):
        await client.track("nope")
    with pytest.raises(NotFound):
        await client.artist("nope")
    assert store.marks == {}
    assert all(client.can(name) for name in ("batch_tracks", "batch_artists"))


async def test_batch_tracks_in_chunks_of_fifty_keep_order_and_skip_unknown(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    def batch(request: httpx.Request) -> httpx.Response:
        ids = _ids(request)
        return httpx.Response(
            200, json={"tracks": [None if i == "t7" else track_json(i) for i in ids]}
        )

    route = spotify.get(f"{API}/tracks").mock(side_effect=batch)
    ids = [f"t{n}" for n in range(120)]
    tracks = await client.tracks([*ids, "t3"])
    assert [len(_ids(call.request)) for call in route.calls] == [50, 50, 20]
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
        entries = [None if i == "t5" else {**FEATURES, "id": i} for i in _ids(request)]
        return httpx.Response(200, json={"audio_features": entries})

    route = spotify.get(f"{API}/audio-features").mock(side_effect=answer)
    found = await client.audio_features([f"t{n}" for n in range(150)])
    assert [len(_ids(call.request)) for call in route.calls] == [100, 50]
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
