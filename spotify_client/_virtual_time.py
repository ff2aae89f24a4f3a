"""A stand-in for the client's `sleep`, `clock` and `now`, so waits are run, never waited.

It ships beside the client, as httpx ships `MockTransport`: the client's tests and the pacer's
benchmark (bench/pace.py) drive the same seams, and a benchmark may not import the tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools

# Loop turns with no wake-up taken before the clock moves: a margin for a request's chain
# of awaits (auth flow, transport, answer) to reach its next sleep. The client's tests pass
# from 3, and the pacer's benchmark prints the same table at 20 as at 50.
SETTLE_TURNS = 50


class VirtualTime:
    """A clock that moves only when every task is asleep, straight to the next wake-up."""

    def __init__(self, epoch: dt.datetime) -> None:
        self.epoch = epoch
        self.now = 0.0
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    def wall(self) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=self.now)

    async def sleep(self, delay: float) -> None:
        """Sleep `delay` virtual seconds; a negative one, like asyncio's, wakes at once."""
        self.sleeps.append(delay)
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self.now + max(0.0, delay), next(self._order), future))
        await future

    async def run(self) -> None:
        """Advance time whenever the loop has nothing else to do (a background task)."""
        while True:
            for _ in range(SETTLE_TURNS):
                await asyncio.sleep(0)
            if self._waiters:
                wake, _, future = heapq.heappop(self._waiters)
                self.now = max(self.now, wake)
                if not future.done():
                    future.set_result(None)

    def advance(self, seconds: float) -> None:
        """Move the clock without anyone sleeping (e.g. to expire a token)."""
        self.now += seconds
