"""`python -m bench [NAME ...]`: run benchmarks, print their tables, exit 1 on a missed target."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence

from bench import (
    analysis,
    api,
    artist_profile,
    conditional,
    db_access,
    features_csv,
    history_import,
    pages,
    read_queries,
    recommend,
    snapshot,
    stats,
)
from bench.measure import Report

BENCHMARKS: dict[str, Callable[[], Report]] = {
    db_access.NAME: db_access.run,
    conditional.NAME: conditional.run,
    read_queries.NAME: read_queries.run,
    features_csv.NAME: features_csv.run,
    recommend.NAME: recommend.run,
    history_import.NAME: history_import.run,
    artist_profile.NAME: artist_profile.run,
    api.NAME: api.run,
    stats.NAME: stats.run,
    pages.NAME: pages.run,
    analysis.NAME: analysis.run,
    # The sizes: hours at 180 requests / 30 s. `python -m bench.snapshot --users ...`
    # runs other sizes and rates.
    snapshot.NAME: snapshot.run,
}


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks in order; 0 when every target is met."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    logging.basicConfig(level=logging.WARNING)
    failed = []
    for name in args.names or list(BENCHMARKS):
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
