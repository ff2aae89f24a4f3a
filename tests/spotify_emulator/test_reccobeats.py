"""The ReccoBeats-compatible audio-features endpoint."""

from __future__ import annotations

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
