"""conditional: a 304 from If-None-Match against a full 200 of the same snapshot.

The ETag is stored with the snapshot's rendered document (one look-up; the bench app keeps
no read cache), so a 304 differs from the 200 only by the body it does not send. Timed
in-process through the ASGI interface: the app's own cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path

from bench.app import build_bench_app
from bench.asgi import AsgiCaller, running
from bench.dataset import KINDS, Shape, populate, postgres_unavailable, recommendations_path
from bench.dataset import scratch_url as scratch_database
from bench.measure import Report, Target, ms, per_call_seconds_async

NAME = "conditional"
TARGET = 2.0  # a 304 at least twice as cheap as the 200


@dataclasses.dataclass(frozen=True)
class Params:
    kinds: tuple[str, ...] = KINDS
    shape: Shape = dataclasses.field(default_factory=lambda: Shape(users=3))
    calls: int = 100
    rounds: int = 3


TINY = Params(
    kinds=("sqlite",),
    shape=Shape(users=1, recommendations=5, clusters=2, cluster_members=3, tracks=30),
    calls=3,
    rounds=1,
)


class ConditionalError(RuntimeError):
    """The endpoint did not answer 200 then 304 as the benchmark expects."""


async def _expect(caller: AsgiCaller, path: str, status: int, headers: dict[str, str]) -> str:
    got, answer, body = await caller.get(path, headers)
    if got != status:
        raise ConditionalError(f"GET {path} answered {got}, expected {status}: {body[:200]!r}")
    return answer.get("etag", "")


async def _measure(url: str, path: str, params: Params) -> tuple[float, float, int]:
    async with running(build_bench_app("threads", url, pool_size=4)) as caller:
        _, _, body = await caller.get(path)
        etag = await _expect(caller, path, 200, {})
        conditional = {"If-None-Match": etag}
        await _expect(caller, path, 304, conditional)
        full = await per_call_seconds_async(
            lambda: _expect(caller, path, 200, {}), params.calls, params.rounds
        )
        cached = await per_call_seconds_async(
            lambda: _expect(caller, path, 304, conditional), params.calls, params.rounds
        )
    return full, cached, len(body)


def run(params: Params = Params()) -> Report:
    """Time 200 and 304 answers of the recommendations endpoint on each database."""
    report = Report(
        NAME,
        f"GET /user-recommendations/{{u}}?date= ({params.shape.recommendations} recommendations, "
        f"{params.shape.clusters} clusters) with and without a matching If-None-Match; "
        f"median of {params.rounds} rounds of {params.calls} sequential calls",
        ("database", "200 ms", "304 ms", "200 body bytes"),
    )
    for kind in params.kinds:
        reason = postgres_unavailable() if kind == "postgresql" else None
        if reason:
            report.notes.append(f"postgresql skipped: {reason}")
            continue
        with (
            tempfile.TemporaryDirectory() as directory,
            scratch_database(kind, Path(directory)) as url,
        ):
            path = recommendations_path(populate(url, params.shape)[0])
            full, cached, size = asyncio.run(_measure(url, path, params))
        report.rows.append((kind, ms(full), ms(cached), str(size)))
        report.targets.append(Target(f"{kind}: 200 time / 304 time", full / cached, TARGET))
    return report
