"""Timing helpers, ratio targets and the report every benchmark prints."""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

ROUNDING = 1e-9


@dataclasses.dataclass(frozen=True)
class Target:
    """A speed target: `measured` must be at least `minimum` (a ratio, bigger is better)."""

    name: str
    measured: float
    minimum: float

    @property
    def met(self) -> bool:
        # A ratio of means of exact shares can fall a rounding error short of its target
        # (100 users at exactly 40% new artists average 0.3999999999999999): that is met.
        return self.measured >= self.minimum * (1 - ROUNDING)

    def verdict(self) -> str:
        word = "PASS" if self.met else "MISS"
        return f"{word}  {self.name}: {self.measured:.2f}x (target >= {self.minimum:g}x)"


@dataclasses.dataclass
class Report:
    """One benchmark's table, its targets and any notes (skipped parts, decisions)."""

    name: str
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]] = dataclasses.field(default_factory=list)
    targets: list[Target] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(target.met for target in self.targets)

    def render(self) -> str:
        """The report as text: title, table, verdicts, notes."""
        lines = [f"== {self.name}: {self.title}", *format_table(self.headers, self.rows)]
        lines += [target.verdict() for target in self.targets]
        lines += [f"note: {note}" for note in self.notes]
        overall = "all targets met" if self.passed else "TARGET MISSED"
        lines.append(f"verdict: {overall}")
        return "\n".join(lines)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned first column, right-aligned numbers, as plain text lines."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join((first, *rest)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def per_call_seconds(fn: Callable[[], object], calls: int, rounds: int, warmup: int = 1) -> float:
    """Median over `rounds` of the mean time of one call, after `warmup` discarded rounds."""
    samples = []
    for index in range(warmup + rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if index >= warmup:
            samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


async def per_call_seconds_async(
    fn: Callable[[], Awaitable[object]], calls: int, rounds: int, warmup: int = 1
) -> float:
    """`per_call_seconds` for a coroutine function."""
    samples = []
    for index in range(warmup + rounds):
        start = time.perf_counter()
        for _ in range(calls):
            await fn()
        if index >= warmup:
            samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory in MB, from VmHWM; 0.0 when it has exited.

    Not getrusage's ru_maxrss: Linux keeps that across exec, so a child of a process that had
    grown to ~440 MB (`python -m bench` after the other benchmarks) reported ~440 MB whatever
    it used. VmHWM belongs to the process's memory map, which exec replaces.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
