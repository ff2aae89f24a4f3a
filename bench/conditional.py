"""conditional: what a 304 (If-None-Match) saves against a full 200 of the same response.

Since snapshot documents (issue 10) a 200 of a snapshot costs the server what its 304 costs:
both look up the stored bytes and compare the stored ETag, and the 200 hands over bytes it
already has. /stats still builds its body per request and takes the ETag from it, so there a
304 costs the whole build too. What a 304 saves on both is the body on the wire, and it must
never cost the server more than the 200. Measured over HTTP against the bench server in its own
process: the bytes each answer takes (status line, headers, body), and the server's CPU per
request (every thread; the bench app keeps no read cache) in interleaved rounds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import tempfile
from pathlib import Path

import httpx

from bench.dataset import KINDS, Shape, populate, postgres_unavailable, recommendations_path
from bench.dataset import scratch_url as scratch_database
from bench.history_data import HistoryShape, stats_path, with_history
from bench.measure import Report, Target, us
from bench.server import serving
from bench.wire import WireClient, connected

NAME = "conditional"
BYTES_TARGET = 10.0  # a 304 is the head alone: at least 10x fewer bytes than the 200
CPU_TARGET = 0.8  # a 304 never costs the server more than the 200 (and 25% for the noise)
ACCEPT = {"Accept-Encoding": "gzip, deflate", "Accept": "application/json"}


@dataclasses.dataclass(frozen=True)
class Params:
    kinds: tuple[str, ...] = KINDS
    shape: Shape = dataclasses.field(default_factory=lambda: Shape(users=3))
    history: HistoryShape = dataclasses.field(default_factory=lambda: HistoryShape(users=1))
    calls: int = 100  # per round, of the snapshot's 200s and of its 304s
    stats_calls: int = 12  # of /stats's, which cost ten to fifty times as much
    rounds: int = 9  # short rounds, many of them, so the machine's drift lands on both alike


TINY = Params(
    kinds=("sqlite",),
    shape=Shape(users=1, recommendations=5, clusters=2, cluster_members=3, tracks=30),
    history=HistoryShape(users=1, entries=150, tracks=40, artists=10),
    calls=3,
    stats_calls=2,
    rounds=1,
)


class ConditionalError(RuntimeError):
    """The endpoint did not answer 200 then 304 as the benchmark expects."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """One response's cost: bytes on the wire and the server's CPU seconds per request."""

    wire_bytes: int
    cpu: float


async def _server_cpu(control: httpx.AsyncClient) -> float:
    response = await control.post("/bench/cpu")
    response.raise_for_status()
    return float(response.json()["seconds"])


async def _round(
    client: WireClient, control: httpx.AsyncClient, path: str, headers: dict[str, str], calls: int
) -> Answer:
    expected = 304 if "If-None-Match" in headers else 200
    start = await _server_cpu(control)
    for _ in range(calls):
        answer = await client.get(path, headers)
        if answer.status != expected:
            raise ConditionalError(f"GET {path} answered {answer.status}, expected {expected}")
    return Answer(answer.wire_bytes, (await _server_cpu(control) - start) / calls)


async def _measure(base_url: str, path: str, calls: int, rounds: int) -> tuple[Answer, Answer]:
    """The 200 and the 304 of `path`, rounds taken in turn so drift lands on both alike."""
    async with connected(base_url) as client, httpx.AsyncClient(base_url=base_url) as control:
        etag = (await client.get(path, ACCEPT)).headers.get("etag", "")
        conditional = {**ACCEPT, "If-None-Match": etag}
        taken: dict[str, list[Answer]] = {"200": [], "304": []}
        for index in range(rounds + 1):  # the first round warms up
            for key, headers in (("200", ACCEPT), ("304", conditional)):
                answer = await _round(client, control, path, headers, calls)
                if index:
                    taken[key].append(answer)
    full, cached = (
        Answer(runs[0].wire_bytes, statistics.median(a.cpu for a in runs))
        for runs in taken.values()
    )
    return full, cached


def _paths(url: str, params: Params, directory: Path) -> dict[str, tuple[str, int]]:
    """Each response's path and how many calls a round makes of it."""
    user = populate(url, params.shape)[0]
    with_history(url, [user], params.history, directory)
    return {
        "snapshot": (recommendations_path(user), params.calls),
        "/stats": (stats_path(user), params.stats_calls),
    }


def _measure_kind(kind: str, params: Params, report: Report) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        scratch_database(kind, Path(directory)) as url,
    ):
        paths = _paths(url, params, Path(directory))
        with serving("threads", url, 4) as base_url:
            measured = {
                label: asyncio.run(_measure(base_url, path, calls, params.rounds))
                for label, (path, calls) in paths.items()
            }
    for label, (full, cached) in measured.items():
        report.rows.append(
            (
                f"{kind} / {label}",
                str(full.wire_bytes),
                str(cached.wire_bytes),
                us(full.cpu),
                us(cached.cpu),
            )
        )
        wire = full.wire_bytes / cached.wire_bytes
        report.targets.append(Target(f"{kind} {label}: bytes, 200 / 304", wire, BYTES_TARGET))
        cpu = full.cpu / max(cached.cpu, 1e-9)
        report.targets.append(Target(f"{kind} {label}: server CPU, 200 / 304", cpu, CPU_TARGET))


def run(params: Params = Params()) -> Report:
    """Fetch and revalidate a snapshot and /stats on each database; compare bytes and CPU."""
    report = Report(
        NAME,
        f"GET /user-recommendations/{{u}}?date= ({params.shape.recommendations} "
        f"recommendations) and /users/{{u}}/stats (30 days of {params.history.entries} plays), "
        "gzip accepted, with and without a matching If-None-Match, over HTTP; median of "
        f"{params.rounds} rounds of {params.calls} sequential calls each ({params.stats_calls} "
        "of /stats)",
        ("database / response", "200 bytes", "304 bytes", "200 CPU us", "304 CPU us"),
    )
    for kind in params.kinds:
        reason = postgres_unavailable() if kind == "postgresql" else None
        if reason:
            report.notes.append(f"postgresql skipped: {reason}")
            continue
        _measure_kind(kind, params, report)
    report.notes.append("CPU = the server process's, all threads, per request")
    return report
