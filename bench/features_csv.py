"""features-csv: look-ups through CsvFeatureSource's index against scanning the file each time.

The index is built once per process (the snapshot service keeps it across runs), so a
snapshot's look-ups cost dictionary hits; the baseline reads the CSV until it meets the id.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import random
import tempfile
import time
from pathlib import Path

from bench.measure import Report, Target, ms, per_call_seconds, us
from jobs.features import CsvFeatureSource
from spotify_emulator.csv_export import HEADER
from spotify_models import AUDIO_FEATURE_NAMES, FEATURE_RANGES

NAME = "features-csv"
TARGET = 100.0  # index look-up at least 100x cheaper than a scan


@dataclasses.dataclass(frozen=True)
class Params:
    rows: int = 100_000
    batch: int = 50  # ids a snapshot asks for at once
    index_rounds: int = 5
    scans: int = 4
    scan_rounds: int = 3


TINY = Params(rows=300, batch=5, index_rounds=1, scans=2, scan_rounds=1)


def write_csv(path: Path, rows: int, seed: int = 11) -> list[str]:
    """A synthetic CSV in the Spotify Tracks Dataset layout; answer its track ids."""
    rng = random.Random(seed)
    ids = [f"{index:022d}" for index in range(rows)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, track_id in enumerate(ids):
            features = [_feature(rng, name) for name in AUDIO_FEATURE_NAMES]
            named = [index, track_id, "Artist", "Album", f"Track {index}", 50, 200_000, False]
            writer.writerow([*named, *features, "pop"])
    return ids


def _feature(rng: random.Random, name: str) -> float:
    # Within Spotify's ranges: the source leaves rows out of contract out of its index.
    low, high = FEATURE_RANGES[name]
    if isinstance(low, int):
        return rng.randint(low, int(high))
    return round(rng.uniform(low, high), 4)


def scan_lookup(path: Path, track_id: str) -> dict[str, float] | None:
    """The baseline: read the file from the top until the id's row."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["track_id"] == track_id:
                return {name: float(row[name]) for name in AUDIO_FEATURE_NAMES}
    return None


def _index_lookup_seconds(
    path: Path, batches: list[list[str]], params: Params
) -> tuple[float, float]:
    """(seconds to build the index, median seconds per looked-up id)."""
    source = CsvFeatureSource(path)
    start = time.perf_counter()
    asyncio.run(source.load())
    build = time.perf_counter() - start

    async def lookups() -> None:
        for batch in batches:
            found = await source.fetch(batch)
            if len(found) != len(batch):
                raise AssertionError("the index lost ids present in the CSV")

    per_round = per_call_seconds(lambda: asyncio.run(lookups()), 1, params.index_rounds)
    return build, per_round / sum(len(b) for b in batches)


def _scan_seconds(path: Path, ids: list[str], params: Params) -> float:
    def scans() -> None:
        for track_id in ids:
            if scan_lookup(path, track_id) is None:
                raise AssertionError(f"scan missed {track_id}")

    return per_call_seconds(scans, 1, params.scan_rounds) / len(ids)


def run(params: Params = Params()) -> Report:
    """Build the index once, then compare per-id look-up cost with a scan per id."""
    report = Report(
        NAME,
        f"{params.rows} rows; index look-ups in batches of {params.batch}, "
        f"{params.scans} scans per round (ids spread over the file)",
        ("method", "per id us", "one-off build ms"),
    )
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "features.csv"
        ids = write_csv(path, params.rows)
        batches = [rng.sample(ids, params.batch) for _ in range(20)]
        build, indexed = _index_lookup_seconds(path, batches, params)
        scanned = _scan_seconds(path, rng.sample(ids, params.scans), params)
    report.rows.append(("index (CsvFeatureSource)", us(indexed), ms(build)))
    report.rows.append(("scan per look-up", us(scanned), "-"))
    report.targets.append(Target("scan / index, per id", scanned / indexed, TARGET))
    report.notes.append(f"the index pays for its build after {build / scanned:.1f} look-ups")
    return report
