"""Plays that accrue with the clock, read the way a history poller reads them."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import httpx
import pytest

from spotify_emulator import World
from tests.spotify_emulator.helpers import Connect, VirtualClock, app_of, user_headers

RECENT = "/v1/me/player/recently-played"


def _ms(played_at: str) -> int:
    moment = dt.datetime.fromisoformat(played_at.replace("Z", "+00:00"))
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


async def _poll(
    client: httpx.AsyncClient, headers: dict[str, str], after: int, limit: int = 50
) -> list[dict[str, Any]]:
    """Everything after the cursor, following `next` as a poller does; oldest first."""
    items: list[dict[str, Any]] = []
    url: str | None = f"{RECENT}?after={after}&limit={limit}"
    while url:
        body = (await client.get(url, headers=headers)).json()
        # Pages run oldest to newest; each page lists its plays newest first.
        items += reversed(body["items"])
        url = body["next"]
    return items


async def test_plays_accrue_with_the_clock(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    user = world.users[0]
    async with connect() as client:
        state = app_of(client).state.emulator
        newest = state.recent(user.id)[0][1]
        state.simulate_listening(200, [user.id])  # a play every 7.2 minutes
        clock.advance(3600)
        headers = await user_headers(client, world, user)  # access tokens live an hour
        polled = await _poll(client, headers, _ms(newest.isoformat().replace("+00:00", "Z")))
        truth = state.recent(user.id)
    assert len(polled) == 8  # 3600 / 432 s
    assert [p["track"]["id"] for p in polled] == [t for t, _ in reversed(truth[:8])]
    ends = [_ms(p["played_at"]) for p in polled]
    assert [b - a for a, b in itertools.pairwise(ends)] == [432_000] * 7
    assert all(p["track"]["id"] in user.known_track_ids for p in polled)


async def test_a_poller_that_waits_too_long_sees_only_the_last_50(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    user = world.users[1]
    async with connect() as client:
        state = app_of(client).state.emulator
        state.simulate_listening(240, [user.id])  # a play every 6 minutes: 240 a day
        clock.advance(3600)
        first = await _poll(client, await user_headers(client, world, user), 0)
        last_seen = _ms(first[-1]["played_at"])
        clock.advance(12 * 3600)  # 120 more plays: 70 of them fall out of the window
        headers = await user_headers(client, world, user)
        second = await _poll(client, headers, last_seen, limit=20)
        truth = state.recent(user.id)
    assert len(second) == 50
    assert [p["track"]["id"] for p in second] == [t for t, _ in reversed(truth[:50])]
    # The gap is visible: the oldest play returned is far newer than the last one seen.
    assert _ms(second[0]["played_at"]) - last_seen == 71 * 360_000
    assert len({p["played_at"] for p in second}) == 50


async def test_listening_is_deterministic_and_stops(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    runs = []
    for _ in range(2):
        async with connect() as client:
            state = app_of(client).state.emulator
            state.simulate_listening(100)
            clock.advance(86_400)
            runs.append(state.recent(world.users[2].id))
            state.simulate_listening(0)
            clock.advance(86_400)
            assert state.recent(world.users[2].id) == runs[-1]
    assert runs[0][:100] != []
    assert [t for t, _ in runs[0][:100]] == [t for t, _ in runs[1][:100]]
    assert len(runs[0]) == len(world.users[2].recent) + 100


async def test_listening_over_http(connect: Connect, world: World, clock: VirtualClock) -> None:
    user = world.users[3]
    async with connect() as client:
        started = await client.post(
            "/_emulator/listening", json={"plays_per_day": 1440, "user_ids": [user.id]}
        )
        clock.advance(600)
        plays = app_of(client).state.emulator.recent(user.id)
    assert started.status_code == 204
    assert len(plays) == len(user.recent) + 10


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing"),
        pytest.param({"plays_per_day": "many"}, id="not-a-number"),
        pytest.param({"plays_per_day": -1}, id="negative"),
        pytest.param({"plays_per_day": 10, "user_ids": ["nobody"]}, id="unknown-user"),
    ],
)
async def test_bad_listening_requests_are_refused(connect: Connect, body: object) -> None:
    async with connect() as client:
        answer = await client.post("/_emulator/listening", json=body)
    assert answer.status_code == 400
