"""Several worker processes: the nightly scheduler is elected into exactly one of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import serving

ROOT = Path(__file__).resolve().parents[1]


def _elect_in_another_process(lock: Path) -> bool:
    code = f"import serving; print(serving.elect_scheduler({str(lock)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip() == "True"


def test_only_one_process_wins_the_scheduler_and_it_passes_on_with_its_holder(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "scheduler.lock"
    # Each child exits holding it: the lock dies with its holder.
    assert _elect_in_another_process(lock)
    assert _elect_in_another_process(lock)
    assert serving.elect_scheduler(str(lock))
    try:
        assert not _elect_in_another_process(lock)
        assert not serving.elect_scheduler(str(lock))
    finally:
        for handle in serving._held:
            handle.close()
        serving._held.clear()
