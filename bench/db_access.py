"""db-access: the same read endpoint served three ways under concurrent load.

(a) threads: the current design, sync Peewee in worker threads (`Database.run`);
(b) blocking: sync Peewee on the event loop, the baseline we must not ship;
(c) pwasyncio: Peewee 4's asyncio layer (greenlets over asyncpg / aiosqlite).
Each serves GET /users/{u}/history (the newest 100 plays with their tracks and artists) from
its own uvicorn process: a read that queries and builds rows on every call, as everything but
the stored snapshot documents still does (history, /stats, the recap, pages, the jobs). A
stored document is one indexed look-up of bytes, too little work to tell the variants apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.app import VARIANTS
from bench.async_path import missing_packages
from bench.dataset import KINDS, postgres_unavailable
from bench.dataset import scratch_url as scratch_database
from bench.history_data import HistoryShape, history_path, listeners, with_history
from bench.load import run_load
from bench.measure import Report, Target, ms, percentile
from bench.server import serving

NAME = "db-access"
RESPONSIVENESS_TARGET = 2.0  # blocking's ping p99 over the chosen design's
DECISION_TARGET = 0.8  # threads' throughput over pwasyncio's: the choice must not cost more
OFF_LOOP_TARGET = 0.6  # threads' throughput over blocking's: what a free loop may cost at most


@dataclasses.dataclass(frozen=True)
class Params:
    kinds: tuple[str, ...] = KINDS
    variants: tuple[str, ...] = VARIANTS
    shape: HistoryShape = dataclasses.field(default_factory=HistoryShape)
    concurrency: int = 32
    pool_size: int = 8
    warmup_requests: int = 150
    round_requests: int = 2000
    round_seconds: float = 4.0
    rounds: int = 3


TINY = Params(
    kinds=("sqlite",),
    shape=HistoryShape(users=2, entries=150, tracks=40, artists=10),
    concurrency=4,
    warmup_requests=8,
    round_requests=24,
    round_seconds=5.0,
    rounds=1,
)


@dataclasses.dataclass(frozen=True)
class Stats:
    """Medians over the rounds of one variant on one database."""

    throughput: float
    p50: float
    p99: float
    probe_p50: float
    probe_p99: float
    loop_lag_p99: float

    @classmethod
    def median_of(cls, rounds: Sequence[Stats]) -> Stats:
        return cls(
            *(
                statistics.median(getattr(r, f.name) for r in rounds)
                for f in dataclasses.fields(cls)
            )
        )

    def cells(self) -> tuple[str, ...]:
        return (
            f"{self.throughput:.0f}",
            ms(self.p50),
            ms(self.p99),
            ms(self.probe_p50),
            ms(self.probe_p99),
            ms(self.loop_lag_p99),
        )


HEADERS = (
    "database / variant",
    "req/s",
    "p50 ms",
    "p99 ms",
    "ping p50",
    "ping p99",
    "loop lag p99",
)


async def _loop_lag(client: httpx.AsyncClient) -> float:
    response = await client.post("/bench/loop-lag")
    response.raise_for_status()
    return float(response.json()["p99"])


async def _one_round(base_url: str, paths: list[str], params: Params) -> Stats:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as control:
        await _loop_lag(control)
        load = await run_load(
            base_url,
            paths,
            concurrency=params.concurrency,
            max_requests=params.round_requests,
            max_seconds=params.round_seconds,
            probe_path="/bench/ping",
        )
        lag = await _loop_lag(control)
    probes = load.probe_latencies or [0.0]
    return Stats(
        throughput=load.throughput,
        p50=percentile(load.latencies, 0.5),
        p99=percentile(load.latencies, 0.99),
        probe_p50=percentile(probes, 0.5),
        probe_p99=percentile(probes, 0.99),
        loop_lag_p99=lag,
    )


async def measure_interleaved(
    servers: dict[str, str], paths: list[str], params: Params
) -> dict[str, Stats]:
    """Warm every server, then take rounds in turn (a b c a b c ...), medians per variant.

    Interleaving lets the shared machine's drift land on every variant alike.
    """
    for base_url in servers.values():
        await run_load(
            base_url,
            paths,
            concurrency=params.concurrency,
            max_requests=params.warmup_requests,
            max_seconds=params.round_seconds,
        )
    rounds: dict[str, list[Stats]] = {variant: [] for variant in servers}
    for _ in range(params.rounds):
        for variant, base_url in servers.items():
            rounds[variant].append(await _one_round(base_url, paths, params))
    return {variant: Stats.median_of(taken) for variant, taken in rounds.items()}


def _runnable(kind: str, params: Params, report: Report) -> list[str]:
    runnable = []
    for variant in params.variants:
        missing = missing_packages(kind) if variant == "pwasyncio" else []
        if missing:
            report.notes.append(f"{kind}/pwasyncio skipped: needs {', '.join(missing)}")
        else:
            runnable.append(variant)
    return runnable


def _measure_kind(kind: str, params: Params, report: Report) -> dict[str, Stats]:
    with (
        tempfile.TemporaryDirectory() as directory,
        scratch_database(kind, Path(directory)) as url,
        contextlib.ExitStack() as stack,
    ):
        users = with_history(url, listeners(params.shape), params.shape, Path(directory))
        paths = [history_path(user) for user in users]
        servers = {
            variant: stack.enter_context(serving(variant, url, params.pool_size))
            for variant in _runnable(kind, params, report)
        }
        measured = asyncio.run(measure_interleaved(servers, paths, params))
    for variant, stats in measured.items():
        report.rows.append((f"{kind} / {variant}", *stats.cells()))
    return measured


def _targets(kind: str, measured: dict[str, Stats], report: Report) -> None:
    threads, blocking = measured.get("threads"), measured.get("blocking")
    if threads and blocking:
        report.targets.append(
            Target(
                f"{kind}: ping p99 under load, blocking / threads",
                blocking.probe_p99 / max(threads.probe_p99, 1e-6),
                RESPONSIVENESS_TARGET,
            )
        )
    for other, minimum in (("pwasyncio", DECISION_TARGET), ("blocking", OFF_LOOP_TARGET)):
        if threads and (alternative := measured.get(other)):
            report.targets.append(
                Target(
                    f"{kind}: throughput, threads / {other}",
                    threads.throughput / max(alternative.throughput, 1e-6),
                    minimum,
                )
            )
    if measured:
        best = max(measured, key=lambda variant: measured[variant].throughput)
        report.notes.append(f"{kind}: highest throughput: {best}")


def run(params: Params = Params()) -> Report:
    """Serve the endpoint with each variant on each database; compare throughput and the loop."""
    report = Report(
        NAME,
        f"GET /users/{{u}}/history (newest 100 plays), {params.concurrency} concurrent clients, "
        f"{params.shape.users} users x {params.shape.entries} imported plays, "
        f"pool {params.pool_size}; medians of {params.rounds} rounds",
        HEADERS,
    )
    for kind in params.kinds:
        reason = postgres_unavailable() if kind == "postgresql" else None
        if reason:
            report.notes.append(f"postgresql skipped: {reason}")
            continue
        _targets(kind, _measure_kind(kind, params, report), report)
    report.notes.append(
        "ping = GET /bench/ping (no database) sent every 10 ms during the load; "
        "loop lag = how late a 2 ms sleep in the server wakes"
    )
    return report
