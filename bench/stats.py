"""stats: GET /users/{u}/stats's figures over a 10-year imported history (~150,000 plays).

The baseline is the same figures aggregated in Python: read every play of the range with its
track, artist and album keys (the same joins, one row per play), and every earlier play's
artist for the discoveries, then count per track, artist, album, local day and hour with
zoneinfo. The statistics aggregate in SQL instead; the ratio says what that saves, for a
month, a year and the whole history, in the zone of a listener with DST.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench.dataset import postgres_unavailable, scratch_url
from bench.history_import import Params, write_export
from bench.measure import Report, Target
from db.database import Database
from db.listening_stats import StatsRange, listening_statistics, read_plays
from db.migrations import migrate
from db.models import ALL_MODELS, User
from jobs.history_import import import_history

NAME = "stats"
ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
LAST_DAY = dt.date(2025, 12, 31)
RANGES = (("30 days", 30), ("1 year", 365), ("10 years", 3653))


@dataclasses.dataclass(frozen=True)
class StatsParams:
    history: Params = dataclasses.field(default_factory=Params)
    repeats: int = 3


TINY = StatsParams(Params(entries=600, per_file=600, tracks=80, artists=12, episodes=6), 1)


def _best(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def _in_python(span: StatsRange) -> int:
    """The baseline: the range's plays and the history's first plays, counted in Python."""
    plays = read_plays(span)
    earlier = read_plays(dataclasses.replace(span, first_day=dt.date(2000, 1, 1)))
    tallies: dict[tuple[str, object], list[float]] = defaultdict(lambda: [0, 0.0])
    for played_at, ms, track, artist, album in plays:
        local = played_at.replace(tzinfo=dt.UTC).astimezone(span.zone)
        for key in (("track", track), ("artist", artist), ("album", album)):
            tallies[key][0] += 1
            tallies[key][1] += ms
        for key in (("day", local.date()), ("hour", (local.weekday(), local.hour))):
            tallies[key][0] += 1
            tallies[key][1] += ms
    first: dict[object, dt.datetime] = {}
    for played_at, _, _, artist, _ in earlier:
        first[artist] = min(first.get(artist, played_at), played_at)
    discovered = [artist for artist, at in first.items() if at >= span.start]
    tops = {
        kind: sorted((k for k in tallies if k[0] == kind), key=lambda k: -tallies[k][0])[:10]
        for kind in ("track", "artist", "album")
    }
    return len(plays) + len(discovered) + len(tops)


def _measure(database: Database, span: StatsRange, repeats: int) -> tuple[float, float, int]:
    stats_s = _best(repeats, lambda: database.run_sync(listening_statistics, span))
    python_s = _best(repeats, lambda: database.run_sync(_in_python, span))
    return stats_s, python_s, len(database.run_sync(read_plays, span))


def _rows_for(url: str, paths: list[Path], params: StatsParams) -> list[tuple[str, str, str, str]]:
    database = Database(url, pool_size=2, create=True)
    try:
        with database.peewee.connection_context():
            database.peewee.drop_tables(ALL_MODELS, safe=True, cascade=database.is_postgres)
            migrate(database.peewee)
            user_id = User.create(username="bench").id
        import_history(database, "bench", paths, show_progress=False)
        rows = []
        for label, days in RANGES:
            first = LAST_DAY - dt.timedelta(days=days - 1)
            span = StatsRange(user_id, ZONE, first, LAST_DAY)
            stats_s, fetch_s, plays = _measure(database, span, params.repeats)
            rows.append((label, str(plays), f"{stats_s:.3f}", f"{fetch_s:.3f}"))
        return rows
    finally:
        database.close()


def run(params: StatsParams = StatsParams()) -> Report:
    """Import the synthetic export once per database, then time the statistics per range."""
    report = Report(
        NAME,
        f"{params.history.entries} imported entries over 10 years, zone {ZONE.key}",
        ("database", "range", "plays", "stats s", "in Python s", "in Python / stats"),
    )
    history = dataclasses.replace(params.history, years=10)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        paths = write_export(directory, history)
        for kind in history.kinds:
            reason = postgres_unavailable() if kind == "postgresql" else None
            if reason:
                report.notes.append(f"postgresql skipped: {reason}")
                continue
            with scratch_url(kind, directory) as url:
                for label, plays, stats_s, fetch_s in _rows_for(url, paths, params):
                    ratio = float(fetch_s) / max(float(stats_s), 1e-6)
                    report.rows.append((kind, label, plays, stats_s, fetch_s, f"{ratio:.2f}x"))
                    if label == "10 years":
                        target = f"{kind}: counting in Python / in SQL, 10 years"
                        report.targets.append(Target(target, ratio, 1.0))
    return report
