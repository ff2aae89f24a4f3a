"""pace: the client's pacer against a rolling-window limit, in virtual time, in seconds.

A night against the real emulator takes 25 minutes per 1,000 users and is at the mercy of
the machine's load. This runs the client's own `Requester` (pacer, gate, backoff) against a
simulated Spotify that allows `limit` requests in any rolling `window` seconds and answers
after `latency`, on a virtual clock that jumps straight to the next wake-up: a night of
thousands of calls takes seconds, gives the same answer every time, and shows where the time
over the floor (calls / allowed rate) goes.

Usage: `python -m bench.pace [--calls 800,8000] [--limit 180] [--window 30] [--latency 0.05]
[--tasks 8] [--omit-retry-after]`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime as dt
import itertools
import math
import random
import sys
from collections.abc import Sequence

import httpx

from bench.measure import Report, Target
from spotify_client import VirtualTime

NAME = "pace"
EPOCH = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
MAX_WALL_OVER_FLOOR = 1.1
HEADERS: tuple[str, ...] = ("calls / window at start", "wall s", "floor s", "wall/floor")
HEADERS += ("429s", "violations", "pace req/s")


@dataclasses.dataclass(frozen=True)
class Params:
    calls: tuple[int, ...] = (800, 8000)  # the nights: ~8 calls x 100 and 1,000 users
    limit: int = 180
    window: float = 30.0
    latency: float = 0.05
    tasks: int = 8  # requests in flight at once, as SPOTIFY_MAX_CONCURRENCY
    omit_retry_after: bool = False


TINY = Params(calls=(120,), limit=20, window=2.0, latency=0.01, tasks=4)


class RollingLimit:
    """Spotify's side: `limit` accepted requests in any `window`, decided on arrival.

    Like the emulator, a 429 announces the whole seconds until the oldest accepted request
    leaves the window; a request arriving after a 429 was delivered and before its wait is
    over is a violation (there is no network delay here: arrival is sending).
    """

    def __init__(self, time: VirtualTime, params: Params, busy: bool) -> None:
        self.time = time
        self.params = params
        # A busy window: another process spent the allowance evenly over the last window.
        spacing = params.window / params.limit
        earlier = (-params.window + spacing * (n + 1) for n in range(params.limit))
        self.accepted: collections.deque[float] = collections.deque(earlier if busy else ())
        self.refused = 0
        self.violations = 0
        self.closed: list[tuple[float, float]] = []  # (delivered, wait over)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.time.now
        self.violations += any(start <= now < end for start, end in self.closed[-3:])
        window = self.params.window
        while self.accepted and self.accepted[0] <= now - window:
            self.accepted.popleft()
        refuse = len(self.accepted) >= self.params.limit
        if not refuse:
            self.accepted.append(now)
        await self.time.sleep(self.params.latency)
        if not refuse:
            return httpx.Response(200, json={})
        self.refused += 1
        wait = max(1, math.ceil(self.accepted[0] + window - now))
        if self.params.omit_retry_after:
            return httpx.Response(429)
        self.closed.append((self.time.now, now + wait))
        return httpx.Response(429, headers={"Retry-After": str(wait)})


@dataclasses.dataclass(frozen=True)
class Night:
    calls: int
    wall: float
    refused: int
    violations: int
    pace: float | None

    def floor(self, params: Params) -> float:
        """No client finishes sooner, but for the first window, which it may spend at once."""
        return self.calls / (params.limit / params.window)


async def night(calls: int, params: Params, busy: bool) -> Night:
    """`calls` requests from `params.tasks` tasks, each sending as soon as it may."""
    from spotify_client._pacer import PaceSettings
    from spotify_client._requester import Requester, RetryPolicy

    time = VirtualTime(EPOCH)
    server = RollingLimit(time, params, busy)
    ticker = asyncio.create_task(time.run())
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        requester = Requester(
            http,
            params.tasks,
            RetryPolicy(pace=PaceSettings(window=params.window), rate_limit_budget=math.inf),
            sleep=time.sleep,
            clock=time.clock,
            now=time.wall,
            rng=random.Random(7),
        )
        left = iter(range(calls))

        async def task() -> None:
            for _ in left:
                await requester.send(requester.build("GET", "https://api.test/v1/x"), None)

        await asyncio.gather(*(task() for _ in range(params.tasks)))
    ticker.cancel()
    return Night(calls, time.now, server.refused, server.violations, requester.pace)


def run(params: Params = Params()) -> Report:
    """One simulated night per size; wall time over the floor, 429s and violations."""
    report = Report(
        NAME,
        f"the pacer in virtual time against {params.limit} requests / {params.window:g} s, "
        f"{params.latency * 1000:.0f} ms latency, {params.tasks} in flight"
        + (", 429s without Retry-After" if params.omit_retry_after else ""),
        HEADERS,
    )
    for calls, busy in itertools.product(params.calls, (False, True)):
        result = asyncio.run(night(calls, params, busy))
        floor = result.floor(params)
        window = "busy" if busy else "empty"
        where = f"{calls} calls, {window} window at start"
        report.rows.append(
            (
                f"{calls} / {window}",
                f"{result.wall:.1f}",
                f"{floor:.1f}",
                f"{result.wall / floor:.3f}",
                str(result.refused),
                str(result.violations),
                f"{result.pace:.2f}" if result.pace else "-",
            )
        )
        ratio = floor / result.wall if result.wall else math.inf
        report.targets.append(Target(f"floor / wall ({where})", ratio, 1 / MAX_WALL_OVER_FLOOR))
        report.targets.append(
            Target(
                f"Retry-After honoured ({where}: {result.violations} violations)",
                float(result.violations == 0),
                1,
            )
        )
    report.notes.append(
        "virtual time: the client's Requester against a simulated rolling window; "
        "no CPU cost, no network delay, so this is the pacer's own share of the time"
    )
    report.notes.append(
        "busy window at start: another process spent the allowance evenly over the last "
        "window, as a night started right after another (the snapshot bench's warm night)"
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pace", description=__doc__)
    parser.add_argument("--calls", default="800,8000", help="comma list of night sizes")
    parser.add_argument("--limit", type=int, default=Params.limit)
    parser.add_argument("--window", type=float, default=Params.window)
    parser.add_argument("--latency", type=float, default=Params.latency)
    parser.add_argument("--tasks", type=int, default=Params.tasks)
    parser.add_argument("--omit-retry-after", action="store_true")
    args = parser.parse_args(argv)
    params = Params(
        calls=tuple(int(n) for n in args.calls.split(",") if n.strip()),
        limit=args.limit,
        window=args.window,
        latency=args.latency,
        tasks=args.tasks,
        omit_retry_after=args.omit_retry_after,
    )
    report = run(params)
    print(report.render())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
