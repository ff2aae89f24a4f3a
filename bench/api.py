"""api: the service's snapshot reads under wrk against the ceiling of its own stack.

Users x dates of snapshots on PostgreSQL, written by the product's write path (bench/api_data).
wrk (the Debian package) drives 64 connections at `serve --workers N` and, in the same run,
at the ceiling (bench/api_ceiling: the same bytes from a dict under the same uvicorn
settings) on three workloads:

- hot: GET /user-recommendations/{random user} (the latest snapshot);
- archive: the same with ?date= a random one of the user's dates;
- mix: half latest, half archive, every request accepting gzip, half of them with the
  If-None-Match of a copy the client holds (a 304).

Targets (issue 10): hot >= 0.9 x the ceiling's requests/s, archive >= 0.5 x, p99 <= 1.5 x
the ceiling's p99, no errors, and at most 100 MB plus READ_CACHE_MB per serving process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import cast

from bench.api_data import ApiShape, generate, username
from bench.api_server import running
from bench.dataset import postgres_unavailable
from bench.measure import Report, Target, peak_rss_mb
from db.database import Database
from db.documents import RECOMMENDATIONS
from db.models import SnapshotDocument, User

NAME = "api"
WORKLOADS = ("hot", "archive", "mix")
HOT_TARGET = 0.9
ARCHIVE_TARGET = 0.5
P99_LIMIT = 1.5
MEMORY_MB = 100
CACHE_MB = 64
MIX_SAMPLE = 4000


def unmet() -> str | None:
    """What this machine lacks for the benchmark, said as what to install; None when nothing."""
    if shutil.which("wrk") is None:
        return "needs wrk, its load generator: apt-get install wrk (Debian)"
    unavailable = postgres_unavailable()
    return f"needs a PostgreSQL server (BENCH_POSTGRES_URL): {unavailable}" if unavailable else None


@dataclasses.dataclass(frozen=True)
class Params:
    shape: ApiShape = dataclasses.field(default_factory=ApiShape)
    workers: tuple[int, ...] = (1, 2)
    connections: int = 64
    threads: int = 2
    seconds: int = 5
    rounds: int = 3
    warmup_seconds: int = 2
    # Archive traffic before the archive is measured: enough requests for each worker's cache
    # to reach the steady state of a service that has been up a while (a 2 s warm-up fills
    # a few percent of 30,000 documents, so the figure would be a cold start's).
    archive_fill_seconds: int = 60
    # A database of its own (the smoke test's); by default one kept per shape and reused.
    url: str | None = None


TINY = Params(
    shape=ApiShape(users=3, dates=2, tracks=200, recommendations=5, clusters=2, top_items=3),
    workers=(1,),
    connections=4,
    threads=1,
    seconds=1,
    rounds=1,
    warmup_seconds=1,
    archive_fill_seconds=1,
)


@dataclasses.dataclass(frozen=True)
class Run:
    """What wrk measured for one server and workload."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


LUA = """
local users = {users}
local dates = {dates}
local sample = {sample}
local workload = "{workload}"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed * 7919 + os.time())
end

local function user_path()
  return string.format("/user-recommendations/listener%05d", math.random(0, users - 1))
end

local walked = 0

request = function()
  if workload == "walk" then
    -- Every user's latest in turn: fills each worker's cache before "hot" is measured.
    walked = walked + 1
    return wrk.format("GET", string.format("/user-recommendations/listener%05d",
      (walked + seed * 101) % users))
  elseif workload == "hot" then
    return wrk.format("GET", user_path())
  elseif workload == "archive" then
    return wrk.format("GET", user_path() .. "?date=" .. dates[math.random(#dates)])
  end
  local entry = sample[math.random(#sample)]
  local headers = {{["Accept-Encoding"] = "gzip"}}
  if math.random() < 0.5 then
    headers["If-None-Match"] = entry[2]
  end
  return wrk.format("GET", entry[1], headers)
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"seconds\\": %f, \\"p50\\": %f, \\"p99\\": %f, "
    .. "\\"errors\\": %d}}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3,
    errors.connect + errors.read + errors.write + errors.status + errors.timeout))
end
"""


def _lua_list(values: Sequence[str]) -> str:
    return "{" + ", ".join(json.dumps(value) for value in values) + "}"


def _mix_sample(url: str, shape: ApiShape) -> list[tuple[str, str]]:
    """(path, ETag) pairs: half of the users' latest, half of random dates."""
    database = Database(url, pool_size=1)

    def read() -> dict[tuple[str, str], str]:
        query = (
            SnapshotDocument.select(User.username, SnapshotDocument.date, SnapshotDocument.etag)
            .join(User)
            .where(SnapshotDocument.variant == RECOMMENDATIONS)
            .tuples()
        )
        rows = cast(Iterable[tuple[str, dt.date, str]], query)
        return {(name, date.isoformat()): etag for name, date, etag in rows}

    try:
        etags = database.run_sync(read)
    finally:
        database.close()
    rng = random.Random(11)
    dates = [date.isoformat() for date in shape.dates_served()]
    sample = []
    for index in range(MIX_SAMPLE):
        name = username(rng.randrange(shape.users))
        if index % 2:
            date = rng.choice(dates)
            sample.append((f"/user-recommendations/{name}?date={date}", etags[(name, date)]))
        else:
            sample.append((f"/user-recommendations/{name}", etags[(name, dates[0])]))
    return sample


def _script(workload: str, shape: ApiShape, sample: list[tuple[str, str]], directory: Path) -> Path:
    entries = "{" + ", ".join(_lua_list(pair) for pair in sample) + "}"
    text = LUA.format(
        users=shape.users,
        dates=_lua_list([date.isoformat() for date in shape.dates_served()]),
        sample=entries,
        workload=workload,
    )
    path = directory / f"{workload}.lua"
    path.write_text(text)
    return path


def _wrk(base: str, script: Path, params: Params, seconds: int) -> Run:
    command = [
        "wrk",
        f"-t{params.threads}",
        f"-c{params.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(text for text in done.stdout.splitlines() if text.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    return Run(
        requests_per_second=result["requests"] / result["seconds"],
        p50_ms=result["p50"],
        p99_ms=result["p99"],
        errors=int(result["errors"]),
        requests=int(result["requests"]),
    )


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            pending.extend(int(child) for child in children.read_text().split())
    return found


def _peak_mb(pid: int) -> float:
    """The largest peak RSS among the server's processes that serve (not its helpers)."""
    peaks = []
    for process in _descendants(pid):
        try:
            command = Path(f"/proc/{process}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in command:
            peaks.append(peak_rss_mb(process))
    return max(peaks, default=0.0)


def _median_run(runs: list[Run]) -> Run:
    def middle(values: list[float]) -> float:
        return statistics.median(values)

    return Run(
        requests_per_second=middle([r.requests_per_second for r in runs]),
        p50_ms=middle([r.p50_ms for r in runs]),
        p99_ms=middle([r.p99_ms for r in runs]),
        errors=sum(r.errors for r in runs),
        requests=sum(r.requests for r in runs),
    )


def _measure_both(
    url: str, workers: int, scripts: dict[str, Path], params: Params
) -> tuple[dict[str, tuple[Run, Run]], float]:
    """Both servers up at once, measured in turns, so the machine's drift hits both alike."""
    pairs: dict[str, tuple[Run, Run]] = {}
    with (
        running("service", url, workers) as (service, pid),
        running("ceiling", url, workers) as (ceiling, _),
    ):
        for base in (service, ceiling):
            _wrk(base, scripts["walk"], params, params.warmup_seconds * 3)
        for workload in WORKLOADS:
            if workload == "archive":
                _wrk(service, scripts[workload], params, params.archive_fill_seconds)
            for base in (service, ceiling):
                _wrk(base, scripts[workload], params, params.warmup_seconds)
            rounds: tuple[list[Run], list[Run]] = ([], [])
            for _ in range(params.rounds):
                for runs, base in zip(rounds, (service, ceiling), strict=True):
                    runs.append(_wrk(base, scripts[workload], params, params.seconds))
            pairs[workload] = (_median_run(rounds[0]), _median_run(rounds[1]))
        peak = _peak_mb(pid)
    return pairs, peak


def _row(workers: int, workload: str, service: Run, ceiling: Run) -> tuple[str, ...]:
    ratio = service.requests_per_second / ceiling.requests_per_second
    return (
        f"{workers} / {workload}",
        f"{service.requests_per_second:,.0f}",
        f"{service.p50_ms:.1f}",
        f"{service.p99_ms:.1f}",
        str(service.errors),
        f"{ceiling.requests_per_second:,.0f}",
        f"{ceiling.p50_ms:.1f}",
        f"{ceiling.p99_ms:.1f}",
        str(ceiling.errors),
        f"{ratio:.2f}",
    )


def _targets(workers: int, runs: dict[str, tuple[Run, Run]], peak: float, report: Report) -> None:
    for workload, minimum in (("hot", HOT_TARGET), ("archive", ARCHIVE_TARGET)):
        service, ceiling = runs[workload]
        ratio = service.requests_per_second / ceiling.requests_per_second
        report.targets.append(
            Target(f"{workers} worker(s), {workload}: req/s ÷ ceiling", ratio, minimum)
        )
    for workload, (service, ceiling) in runs.items():
        # A ratio the target wants at least 1: the p99 allowance over the service's p99.
        allowance = P99_LIMIT * ceiling.p99_ms / max(service.p99_ms, 1e-3)
        report.targets.append(
            Target(f"{workers} worker(s), {workload}: 1.5 x ceiling p99 ÷ p99", allowance, 1.0)
        )
        report.targets.append(
            Target(
                f"{workers} worker(s), {workload}: no errors (1 ÷ (1 + errors))",
                1 / (1 + service.errors),
                1.0,
            )
        )
    report.targets.append(
        Target(
            f"{workers} worker(s): (100 MB + cache) ÷ peak RSS per process",
            (MEMORY_MB + CACHE_MB) / max(peak, 1e-3),
            1.0,
        )
    )


def run(params: Params = Params()) -> Report:
    """Measure the service and its ceiling at each worker count on each workload."""
    shape = params.shape
    report = Report(
        NAME,
        f"{shape.users} users x {shape.dates} dates on PostgreSQL, GET /user-recommendations "
        f"({shape.recommendations} picks), wrk -t{params.threads} -c{params.connections} "
        f"-d{params.seconds}s, median of {params.rounds} rounds taken in turns with the "
        f"ceiling, after a {params.warmup_seconds} s warm-up ({params.archive_fill_seconds} s of "
        "archive traffic before the archive)",
        (
            "workers / workload",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "ceiling req/s",
            "ceiling p50",
            "ceiling p99",
            "ceiling errors",
            "ratio",
        ),
    )
    reason = unmet()
    if reason:
        report.notes.append(f"skipped: {reason}")
        return report
    url = generate(shape, url=params.url)
    sample = _mix_sample(url, shape)
    with tempfile.TemporaryDirectory() as directory:
        scripts = {w: _script(w, shape, sample, Path(directory)) for w in (*WORKLOADS, "walk")}
        for workers in params.workers:
            pairs, peak = _measure_both(url, workers, scripts, params)
            report.rows.extend(_row(workers, w, *pairs[w]) for w in WORKLOADS)
            _targets(workers, pairs, peak, report)
            report.notes.append(f"{workers} worker(s): peak RSS of a serving process {peak:.0f} MB")
    return report
