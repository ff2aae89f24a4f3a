"""VirtualTime: the clock jumps to the next wake-up, in order, and never runs backwards."""

from __future__ import annotations

import asyncio

from spotify_client import VirtualTime
from tests.spotify_client.conftest import EPOCH


async def _woken(vtime: VirtualTime, delays: list[float]) -> list[tuple[float, float]]:
    """(delay, virtual time at waking) of sleepers started together, in the order they woke."""
    woken: list[tuple[float, float]] = []

    async def sleeper(delay: float) -> None:
        await vtime.sleep(delay)
        woken.append((delay, vtime.now))

    await asyncio.gather(*(sleeper(delay) for delay in delays))
    return woken


async def test_the_clock_jumps_to_each_wake_up_in_turn(vtime: VirtualTime) -> None:
    assert await _woken(vtime, [30.0, 0.5, 2.0]) == [(0.5, 0.5), (2.0, 2.0), (30.0, 30.0)]
    assert vtime.wall() == EPOCH.replace(second=30)
    assert vtime.sleeps == [30.0, 0.5, 2.0]


async def test_a_negative_sleep_wakes_now_without_turning_the_clock_back(
    vtime: VirtualTime,
) -> None:
    vtime.advance(10.0)
    assert await _woken(vtime, [0.0, -5.0, 1.0]) == [(0.0, 10.0), (-5.0, 10.0), (1.0, 11.0)]
