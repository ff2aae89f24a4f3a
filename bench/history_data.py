"""Listeners with an imported history: the data of the endpoints that still query per request.

Stored snapshot documents answer with one look-up; /history and /stats read and aggregate plays
on every call. These users get the same synthetic export through the product's own import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bench.history_import import Params, write_export
from db.database import Database
from db.migrations import migrate
from db.models import User
from jobs.history_import import import_history

# The synthetic export spans `years` from 2016-01-01 (bench/history_import.py).
EXPORT_START = dt.date(2016, 1, 1)
STATS_DAYS = 30  # /stats's default range, asked for explicitly: "today" is years later


@dataclasses.dataclass(frozen=True)
class HistoryShape:
    """How many listeners, each importing the same export of this many entries over a year."""

    users: int = 8
    entries: int = 3_000
    tracks: int = 1_000
    artists: int = 250


def _export_params(shape: HistoryShape) -> Params:
    return Params(
        entries=shape.entries,
        per_file=shape.entries,
        tracks=shape.tracks,
        artists=shape.artists,
        episodes=max(1, shape.entries // 100),
        years=1,
    )


def with_history(
    url: str, usernames: Sequence[str], shape: HistoryShape, directory: Path
) -> list[str]:
    """Give each user (created when missing) the export; answer the usernames."""
    paths = write_export(directory, _export_params(shape))
    database = Database(url, pool_size=2, create=True)
    try:
        with database.peewee.connection_context():
            migrate(database.peewee)
            for username in usernames:
                User.get_or_create(username=username)
        for username in usernames:
            import_history(database, username, paths, show_progress=False)
    finally:
        database.close()
    return list(usernames)


def listeners(shape: HistoryShape) -> list[str]:
    return [f"listener{index:03d}" for index in range(shape.users)]


def history_path(username: str) -> str:
    """A client reading the newest page of plays (the endpoint's default, 100 plays)."""
    return f"/users/{username}/history"


def stats_path(username: str) -> str:
    """/stats over the export's last 30 days."""
    last = EXPORT_START.replace(year=EXPORT_START.year + 1) - dt.timedelta(days=1)
    first = last - dt.timedelta(days=STATS_DAYS - 1)
    return f"/users/{username}/stats?from={first.isoformat()}&to={last.isoformat()}"
