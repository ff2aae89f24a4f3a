"""The whole product over real HTTP: snapshot from the emulator, then read it from the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.clustering import CLUSTER_FEATURES
from settings import Settings
from spotify_emulator import EmulatedUser, World
from spotify_models import TIME_RANGES
from tests.e2e.conftest import DAY, TOP, ApiServer, Emulator, configure, take_snapshots

pytestmark = pytest.mark.slow


async def read(api: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await api.get(path, params={"date": DAY.isoformat(), **params})
    assert response.status_code == 200, response.text
    return response.json()


def visible_tracks(user: EmulatedUser) -> set[str]:
    """What Spotify shows of the user: first 50 top tracks per range, history, library."""
    visible = {t for tracks in user.top_tracks.values() for t in tracks[:TOP]}
    return visible | {t for t, _ in user.recent} | set(user.saved)


async def assert_top_items_match(api: httpx.AsyncClient, user: EmulatedUser, kind: str) -> None:
    by_range = {"tracks": user.top_tracks, "artists": user.top_artists}[kind]
    for time_range in TIME_RANGES:
        body = await read(api, f"/users/{user.id}/top-items", type=kind, time_range=time_range)
        expected = by_range[time_range][:TOP]
        assert [item["id"] for item in body["items"]] == expected, (kind, time_range)
        assert [item["rank"] for item in body["items"]] == list(range(1, len(expected) + 1))


async def assert_clusters_are_member_means(
    api: httpx.AsyncClient, user: EmulatedUser, world: World
) -> None:
    body = await read(api, f"/users/{user.id}/clusters")
    assert len(body["clusters"]) >= 2
    for cluster in body["clusters"]:
        assert cluster["size"] == len(cluster["track_ids"]) > 0
        assert set(cluster["centroid"]) == set(CLUSTER_FEATURES)
        for feature, value in cluster["centroid"].items():
            members = [float(world.features[t][feature]) for t in cluster["track_ids"]]
            assert value == pytest.approx(sum(members) / len(members), abs=1e-3), feature


async def assert_spotify_recommendations(
    api: httpx.AsyncClient, user: EmulatedUser, world: World
) -> None:
    body = await read(api, f"/user-recommendations/{user.id}")
    expected = world.recommendations_for(
        user.top_tracks["short_term"][:3], user.top_artists["short_term"][:2], limit=TOP
    )
    assert body["source"] == "spotify"
    assert [r["track"]["id"] for r in body["recommendations"]] == expected


async def assert_local_recommendations(api: httpx.AsyncClient, user: EmulatedUser) -> None:
    body = await read(api, f"/user-recommendations/{user.id}")
    ids = [r["track"]["id"] for r in body["recommendations"]]
    assert body["source"] == "local"
    assert body["features_source"] == "csv"
    assert len(ids) >= 20
    assert len(set(ids)) == len(ids)
    assert not set(ids) & visible_tracks(user)
    assert all(r["reason"] for r in body["recommendations"])


@pytest.mark.parametrize(
    "mode",
    [pytest.param("extended", id="extended-quota"), pytest.param("development", id="dev-mode")],
)
async def test_api_serves_what_spotify_reported(
    mode: str,
    settings: Settings,
    register_users: list[str],
    emulator: Callable[..., Emulator],
    world: World,
    encryption_key: str,
    features_csv: Path,
) -> None:
    server = emulator(mode)
    features: dict[str, Any] = (
        {"audio_features_sources": ("spotify",)}
        if mode == "extended"
        else {"audio_features_sources": ("spotify", "csv"), "audio_features_csv": features_csv}
    )
    configured = configure(settings, server, world, encryption_key, **features)

    summary = await take_snapshots(configured)

    assert summary.succeeded, summary.failed
    assert sorted(summary.ok) == sorted(register_users)
    with ApiServer(configured) as served:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as api:
            for user in world.users:
                await assert_top_items_match(api, user, "tracks")
                await assert_top_items_match(api, user, "artists")
                await assert_clusters_are_member_means(api, user, world)
                if mode == "extended":
                    await assert_spotify_recommendations(api, user, world)
                else:
                    await assert_local_recommendations(api, user)
