"""A bounded HTTP load generator for 127.0.0.1: N concurrent clients, plus a latency probe."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

PROBE_PERIOD = 0.01


class LoadError(RuntimeError):
    """The server answered something other than 200 under load: the numbers would lie."""


@dataclasses.dataclass
class LoadResult:
    """What one round of load saw from the client side."""

    requests: int
    seconds: float
    latencies: list[float]
    probe_latencies: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _loopback_only(base_url: str) -> None:
    if urlsplit(base_url).hostname != "127.0.0.1":
        raise ValueError(f"load is only ever sent to 127.0.0.1, not {base_url}")


async def run_load(
    base_url: str,
    paths: Sequence[str],
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    probe_path: str | None = None,
) -> LoadResult:
    """Send at most `max_requests` GETs for at most `max_seconds`, `concurrency` at a time."""
    _loopback_only(base_url)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client,
        httpx.AsyncClient(base_url=base_url, timeout=30.0) as prober,
    ):
        state = _Round(paths, max_requests, time.perf_counter() + max_seconds)
        stop = asyncio.Event()
        probe = asyncio.create_task(_probe(prober, probe_path, stop)) if probe_path else None
        start = time.perf_counter()
        await asyncio.gather(*(state.worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - start
        stop.set()
        probe_latencies = await probe if probe else []
    return LoadResult(state.done, seconds, state.latencies, probe_latencies)


class _Round:
    def __init__(self, paths: Sequence[str], max_requests: int, deadline: float) -> None:
        self.paths = paths
        self.max_requests = max_requests
        self.deadline = deadline
        self.issued = 0
        self.done = 0
        self.latencies: list[float] = []

    async def worker(self, client: httpx.AsyncClient) -> None:
        while self.issued < self.max_requests and time.perf_counter() < self.deadline:
            path = self.paths[self.issued % len(self.paths)]
            self.issued += 1
            start = time.perf_counter()
            response = await client.get(path)
            self.latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise LoadError(
                    f"GET {path} answered {response.status_code}: {response.text[:200]}"
                )
            self.done += 1


async def _probe(client: httpx.AsyncClient, path: str, stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []
    while not stop.is_set():
        start = time.perf_counter()
        response = await client.get(path)
        latencies.append(time.perf_counter() - start)
        response.raise_for_status()
        await asyncio.sleep(PROBE_PERIOD)
    return latencies
