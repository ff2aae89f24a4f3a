"""A benchmark's child reports its own peak memory, not the peak of the process that started it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GROWN_MB = 300


def test_a_child_started_by_a_grown_process_reports_its_own_peak() -> None:
    # `python -m bench` has grown to ~440 MB by the time it starts the snapshot child, and
    # Linux keeps getrusage's ru_maxrss across exec: the child reported its parent's peak
    # at every size, so the snapshot bench's RSS-flatness target could not fail.
    grown = bytearray(GROWN_MB * 2**20)
    grown[:: 2**12] = b"\x01" * len(grown[:: 2**12])  # every page touched: resident
    code = "from bench.measure import peak_rss_mb; print(peak_rss_mb())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert float(done.stdout) < GROWN_MB / 2
    del grown
