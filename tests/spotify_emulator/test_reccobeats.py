"""The ReccoBeats-compatible audio-features and track recommendation endpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from spotify_emulator import Faults, World, reccobeats_id
from tests.spotify_emulator.helpers import Connect


async def test_answers_features_of_known_tracks_only(connect: Connect, world: World) -> None:
    ids = list(world.tracks)[:40]
    known = [t for t in ids if world.reccobeats_knows(t, 0.8)]
    async with connect() as client:
        body = (
            await client.get("/reccobeats/v1/audio-features", params={"ids": ",".join(ids)})
        ).json()
    content = body["content"]
    assert [item["href"] for item in content] == [
        f"https://open.spotify.com/track/{t}" for t in known
    ]
    assert [item["id"] for item in content] == [reccobeats_id(t) for t in known]
    assert 0 < len(known) < len(ids)
    first = content[0]
    assert {k: first[k] for k in world.features[known[0]]} == world.features[known[0]]


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [pytest.param(0.0, 0, id="knows-nothing"), pytest.param(1.0, 10, id="knows-everything")],
)
async def test_coverage_is_configurable(
    connect: Connect, world: World, coverage: float, expected: int
) -> None:
    ids = list(world.tracks)[100:110]
    async with connect(faults=Faults(reccobeats_coverage=coverage)) as client:
        body = (
            await client.get("/reccobeats/v1/audio-features", params={"ids": ",".join(ids)})
        ).json()
    assert len(body["content"]) == expected


@pytest.mark.parametrize(
    "count",
    [pytest.param(0, id="no-ids"), pytest.param(41, id="over-40")],
)
async def test_refuses_bad_batches(connect: Connect, world: World, count: int) -> None:
    ids = list(world.tracks)[:count]
    async with connect() as client:
        answer = await client.get("/reccobeats/v1/audio-features", params={"ids": ",".join(ids)})
    assert answer.status_code == 400


async def test_can_be_made_to_fail(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(targets=("/reccobeats",), fail_first=1)) as client:
        answer = await client.get(
            "/reccobeats/v1/audio-features", params={"ids": next(iter(world.tracks))}
        )
    assert answer.status_code == 503


async def _recommend(client: httpx.AsyncClient, **params: str | int) -> httpx.Response:
    return await client.get("/reccobeats/v1/track/recommendation", params=params)


def _spotify_id(item: dict[str, Any]) -> str:
    href = str(item["href"])
    assert href.startswith("https://open.spotify.com/track/")
    return href.rsplit("/", 1)[1]


async def test_recommendation_answers_tracks_near_the_seeds(connect: Connect, world: World) -> None:
    archetype = "ambient"
    seeds = [t for t in world.tracks if world.archetype_of_track(t) == archetype][:5]
    async with connect(faults=Faults(reccobeats_coverage=1.0)) as client:
        answer = await _recommend(client, seeds=",".join(seeds), size=30)
    content = answer.json()["content"]
    found = [_spotify_id(item) for item in content]
    assert answer.status_code == 200
    assert len(found) == 30
    assert not set(found) & set(seeds)
    assert found == world.reccobeats_recommendations_for(seeds, 30, 1.0)
    in_style = sum(world.archetype_of_track(t) == archetype for t in found)
    assert in_style >= 0.8 * len(found)
    primary = [world.tracks[t].artist_ids[0] for t in found]
    assert max(primary.count(a) for a in primary) <= 2


async def test_recommendation_items_have_reccobeats_shape(connect: Connect, world: World) -> None:
    seed = next(iter(world.tracks))
    async with connect(faults=Faults(reccobeats_coverage=1.0)) as client:
        item = (await _recommend(client, seeds=seed, size=1)).json()["content"][0]
    track = world.tracks[_spotify_id(item)]
    assert item["id"] == reccobeats_id(track.id)
    assert item["trackTitle"] == track.name
    assert item["durationMs"] == track.duration_ms
    assert item["isrc"] == track.isrc
    assert [a["href"] for a in item["artists"]] == [
        f"https://open.spotify.com/artist/{a}" for a in track.artist_ids
    ]
    assert [a["name"] for a in item["artists"]] == [world.artists[a].name for a in track.artist_ids]
    assert {"ean", "upc", "availableCountries", "popularity"} <= set(item)


async def test_recommendation_takes_reccobeats_ids_and_skips_unknown_seeds(
    connect: Connect, world: World
) -> None:
    seeds = list(world.tracks)[100:103]
    async with connect(faults=Faults(reccobeats_coverage=1.0)) as client:
        by_spotify = (await _recommend(client, seeds=",".join(seeds), size=10)).json()
        by_uuid = (
            await _recommend(client, seeds=",".join(reccobeats_id(s) for s in seeds), size=10)
        ).json()
        with_unknown = (
            await _recommend(client, seeds=",".join([*seeds, "0" * 22]), size=10)
        ).json()
        unknown = await _recommend(client, seeds="0" * 22)
    assert by_spotify == by_uuid == with_unknown
    assert unknown.status_code == 200
    assert unknown.json() == {"content": []}


async def test_recommendation_only_offers_tracks_reccobeats_knows(
    connect: Connect, world: World
) -> None:
    seeds = [t for t in world.tracks if world.reccobeats_knows(t, 0.5)][:3]
    async with connect(faults=Faults(reccobeats_coverage=0.5)) as client:
        content = (await _recommend(client, seeds=",".join(seeds), size=50)).json()["content"]
    assert len(content) == 50
    assert all(world.reccobeats_knows(_spotify_id(item), 0.5) for item in content)


async def test_recommendation_targets_steer_the_sound(connect: Connect, world: World) -> None:
    seeds = list(world.tracks)[:2]
    async with connect(faults=Faults(reccobeats_coverage=1.0)) as client:
        plain = (await _recommend(client, seeds=",".join(seeds), size=20)).json()["content"]
        fast = (await _recommend(client, seeds=",".join(seeds), size=20, tempo=180)).json()[
            "content"
        ]

    def mean_tempo(items: list[dict[str, Any]]) -> float:
        return sum(float(world.features[_spotify_id(i)]["tempo"]) for i in items) / len(items)

    assert mean_tempo(fast) > mean_tempo(plain) + 10


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="no-seeds"),
        pytest.param({"seeds": ",".join(["a"] * 6)}, id="six-seeds"),
        pytest.param({"size": 0}, id="size-zero"),
        pytest.param({"size": 101}, id="size-over-100"),
        pytest.param({"size": "ten"}, id="size-not-a-number"),
        pytest.param({"energy": "loud"}, id="target-not-a-number"),
        pytest.param({"energy": "nan"}, id="target-nan"),
    ],
)
async def test_recommendation_refuses_bad_parameters(
    connect: Connect, world: World, params: dict[str, str | int]
) -> None:
    query: dict[str, str | int] = {"seeds": next(iter(world.tracks)), **params}
    if params == {}:
        query = {}
    async with connect() as client:
        answer = await _recommend(client, **query)
    assert answer.status_code == 400
    assert answer.json()["status"] == 400
