"""`python -m bench [NAME ...]`: run benchmarks, print their tables, exit 1 on a missed target."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType

from bench import (
    analysis,
    api,
    artist_profile,
    co_listeners,
    conditional,
    db_access,
    features_csv,
    history_import,
    pace,
    pages,
    read_queries,
    recommend,
    snapshot,
    stats,
)
from bench.measure import Report

# Each module has NAME, TINY (the smoke tests' size) and run(params); the order is the run's.
MODULES: tuple[ModuleType, ...] = (
    db_access,
    conditional,
    read_queries,
    features_csv,
    recommend,
    co_listeners,
    history_import,
    artist_profile,
    api,
    stats,
    pages,
    analysis,
    pace,
    # The sizes: hours at 180 requests / 30 s. `python -m bench.snapshot --users ...`
    # runs other sizes and rates.
    snapshot,
)
BENCHMARKS: dict[str, Callable[[], Report]] = {module.NAME: module.run for module in MODULES}
# What a benchmark needs of the machine beyond the virtualenv, checked before anything runs: a
# full run takes hours, and a benchmark that skips itself has no target left to miss.
PREREQUISITES: dict[str, Callable[[], str | None]] = {api.NAME: api.unmet}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Speed targets, measured as ratios against a baseline in the same run.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    return parser


def _unmet(names: Sequence[str]) -> list[str]:
    """One line per chosen benchmark this machine cannot run, saying what to install."""
    lines = []
    for name in names:
        reason = PREREQUISITES[name]() if name in PREREQUISITES else None
        if reason:
            lines.append(f"bench {name} {reason}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks in order; 0 when every target is met, 2 when one cannot run."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    unmet = _unmet(names)
    if unmet:
        print("\n".join(unmet), file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    failed = []
    for name in names:
        start = time.perf_counter()
        report = BENCHMARKS[name]()
        print(report.render())
        print(f"({name} took {time.perf_counter() - start:.0f} s)\n", flush=True)
        if not report.passed:
            failed.append(name)
    if failed:
        print(f"targets missed in: {', '.join(failed)}")
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
