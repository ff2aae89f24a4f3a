"""The app each db-access variant serves: the real endpoints over a swappable database object."""

from __future__ import annotations

import asyncio
import contextlib
import time
import types
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.async_path import AsyncPeeweeDatabase
from bench.measure import percentile
from db.database import Database
from web import health, history, snapshots, stats
from web.problems import EXCEPTION_HANDLERS
from web.read_cache import ReadCache

T = TypeVar("T")
VARIANTS = ("threads", "blocking", "pwasyncio")
PROBE_INTERVAL = 0.002


class OnLoopDatabase(Database):
    """Baseline (b): sync Peewee straight on the event loop, what the service must not do."""

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.run_sync(fn, *args, **kwargs)


def open_variant(variant: str, url: str, pool_size: int) -> Any:
    """The database object of one variant; all offer `run(fn, *args)` and `.peewee`."""
    if variant == "threads":
        return Database(url, pool_size)
    if variant == "blocking":
        return OnLoopDatabase(url, pool_size)
    if variant == "pwasyncio":
        return AsyncPeeweeDatabase(url, pool_size)
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")


async def _close(database: Any) -> None:
    if isinstance(database, AsyncPeeweeDatabase):
        await database.aclose()
    else:
        database.close()


class LoopProbe:
    """How late the loop wakes a task that sleeps PROBE_INTERVAL: its responsiveness."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(PROBE_INTERVAL)
            self.lags.append(time.perf_counter() - start - PROBE_INTERVAL)

    def take(self) -> dict[str, float]:
        lags, self.lags = self.lags, []
        if not lags:
            return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
        return {
            "count": len(lags),
            "p50": percentile(lags, 0.5),
            "p99": percentile(lags, 0.99),
            "max": max(lags),
        }


def build_bench_app(variant: str, url: str, pool_size: int) -> Starlette:
    """The service's snapshot, history and stats endpoints and /health, plus probe routes."""
    probe = LoopProbe()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        database = open_variant(variant, url, pool_size)
        watcher = asyncio.create_task(probe.watch())
        try:
            # No budget: every request looks its document up, so the variants' database access
            # is what differs (the served-from-memory path is bench/api's subject).
            yield {"database": database, "read_cache": ReadCache(database, 0)}
        finally:
            watcher.cancel()
            await _close(database)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    async def loop_lag(request: Request) -> Response:
        return JSONResponse(probe.take())

    async def cpu(request: Request) -> Response:
        # CPU of every thread of the server, so a benchmark can charge requests their work.
        return JSONResponse({"seconds": time.process_time()})

    app = Starlette(
        routes=[
            Route("/user-recommendations/{username}", snapshots.user_recommendations),
            Route("/users/{username}/history", history.plays),
            Route("/users/{username}/stats", stats.stats),
            Route("/health", health.health),
            Route("/bench/ping", ping),
            Route("/bench/loop-lag", loop_lag, methods=["POST"]),
            Route("/bench/cpu", cpu, methods=["POST"]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = types.SimpleNamespace(api_keys=(), admin_token=None)
    return app
