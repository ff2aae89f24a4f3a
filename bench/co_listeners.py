"""co-listeners: what a night's `co-listeners` source costs per user, at 100 and 1,000 users.

The data is bench/api's, written by the product's write path (`db.snapshots.write_snapshot`,
through `bench.api_data.generate`): users x dates of snapshots over a 5,000-track catalogue,
each with 3 x 20 top tracks, 20 recent and 20 saved, so almost every two users share a track
(the densest case for co-listening). Each size has a SQLite file of its own, kept in the
temporary directory and reused, as bench/api keeps its database.

A night is timed as the pipeline runs it: one fresh source per run, asked once per user with
that user's own tracks (their latest snapshot's), in order. Per-user cost is the night's
co-listener time divided by its users; the target is that it does not grow with the number
of users (the largest size's over the smallest's).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from bench.api_data import ApiShape, generate
from bench.measure import Report, Target, ms
from db.database import Database
from db.snapshots import latest_listening
from jobs.recommend.co_listeners import CoListenersSource, load_co_listening
from jobs.recommend.co_listening import CoListening
from jobs.recommend.protocol import Taste

NAME = "co-listeners"
# Per-user cost at the largest size may be at most this many times that at the smallest.
MAX_GROWTH = 1.5
WANTED = 150  # Taste's default: the source keeps the 300 best supported


@dataclasses.dataclass(frozen=True)
class Params:
    users: tuple[int, ...] = (100, 1000)
    dates: int = 2  # an earlier snapshot too, so "latest" is a choice
    rounds: int = 3
    keep: bool = True  # keep each size's file for the next run


TINY = Params(users=(2, 4), dates=2, rounds=1, keep=False)


def _shape(users: int, params: Params) -> ApiShape:
    # Only the listening matters here; small documents keep generation short.
    return ApiShape(
        users=users, dates=params.dates, recommendations=10, clusters=1, cluster_members=5
    )


@contextlib.contextmanager
def _folder(params: Params) -> Iterator[Path]:
    if params.keep:
        yield Path(tempfile.gettempdir())
        return
    with tempfile.TemporaryDirectory(prefix="bench-co-listeners-") as folder:
        yield Path(folder)


def _tastes() -> list[Taste]:
    """Each user's own tracks, as the night's pipeline hands them to the source."""
    own: dict[int, set[str]] = defaultdict(set)
    for user_id, track_id in latest_listening():
        own[user_id].add(track_id)
    return [Taste(u, frozenset(tracks), {}, {}, wanted=WANTED) for u, tracks in own.items()]


async def _night(database: Database, tastes: list[Taste]) -> float:
    source = CoListenersSource(database)
    start = time.perf_counter()
    for taste in tastes:
        await source.candidates(taste)
    return time.perf_counter() - start


@dataclasses.dataclass(frozen=True)
class Measured:
    users: int
    night: float  # median seconds of a night's co-listener work, index read included
    read: float  # seconds to read the index
    look_up: float  # seconds of one user's look-up in the index, the catalogue left out
    index_bytes: int


def _look_ups(index: CoListening, tastes: list[Taste]) -> float:
    start = time.perf_counter()
    for taste in tastes:
        index.co_listened(taste.user_id, taste.own_track_ids, WANTED * 2)
    return (time.perf_counter() - start) / len(tastes)


def _read(database: Database) -> tuple[float, CoListening]:
    start = time.perf_counter()
    index = database.run_sync(load_co_listening)
    return time.perf_counter() - start, index


def _measure(url: str, params: Params) -> Measured:
    database = Database(url, pool_size=2)
    try:
        tastes = database.run_sync(_tastes)
        # The first night warms the caches.
        nights = [asyncio.run(_night(database, tastes)) for _ in range(params.rounds + 1)][1:]
        reads = [_read(database) for _ in range(params.rounds)]
        index = reads[-1][1]
        look_ups = [_look_ups(index, tastes) for _ in range(params.rounds)]
    finally:
        database.close()
    return Measured(
        len(tastes),
        statistics.median(nights),
        statistics.median(read for read, _ in reads),
        statistics.median(look_ups),
        index.nbytes,
    )


def _size(users: int, params: Params, folder: Path) -> tuple[float, tuple[str, ...]]:
    path = folder / f"insight-bench-co-listeners-u{users}-d{params.dates}.db"
    path.touch()  # generate() migrates an existing database, as the service does
    url = f"sqlite:///{path}"
    generate(_shape(users, params), url=url, writers=1)
    m = _measure(url, params)
    row = (
        str(m.users),
        str(params.dates),
        f"{m.night:.2f}",
        ms(m.night / m.users),
        f"{m.read:.3f}",
        ms(m.look_up),
        f"{m.index_bytes / m.users:.0f}",
    )
    return m.night / m.users, row


def run(params: Params = Params()) -> Report:
    """Each size's night, per user, and how per-user cost grows with the users."""
    report = Report(
        NAME,
        f"a night's co-listener look-ups, one per user, SQLite, median of {params.rounds} nights",
        ("users", "dates", "night s", "ms/user", "index read s", "look-up ms", "index bytes/user"),
    )
    per_user = {}
    with _folder(params) as folder:
        for users in params.users:
            per_user[users], row = _size(users, params, folder)
            report.rows.append(row)
    smallest, largest = min(per_user), max(per_user)
    report.targets.append(
        Target(
            f"per-user cost at {smallest} users / at {largest} users "
            f"(at most {MAX_GROWTH}x growth)",
            per_user[smallest] / per_user[largest],
            1 / MAX_GROWTH,
        )
    )
    report.notes.append(
        "per-user cost = a night's co-listener time / its users: the index read once, then "
        "per user a look-up and the catalogue's names of what it found; look-up ms is the "
        "index alone; the data is bench/api's write path, kept in the temporary directory"
    )
    return report
