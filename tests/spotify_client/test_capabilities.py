"""Endpoints closed to the app: discovered once, remembered, and not probed again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import respx

from spotify_client import (
    EndpointUnavailable,
    MemoryCapabilityStore,
    NotFound,
    SpotifyClient,
)
from tests.spotify_client.conftest import API, EPOCH


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
