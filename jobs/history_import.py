"""Import a user's extended streaming history: file by file, idempotent, with a report.

Each file is parsed whole before anything of it is written, then written in one
transaction, so a malformed file adds nothing and an interrupted import leaves only whole
files behind. Running the same import again adds what is missing and counts the rest as
already present, which is how an interrupted import resumes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from db.database import Database
from db.history_import import analyze_plays, store_exported_plays
from db.queries import user_id_of
from streaming_history import ExportedPlay, MalformedExport, Skipped, export_files, parse_file

DUPLICATE = "a duplicate of an earlier row of the export"
# Plays an import adds before PostgreSQL's planner statistics are refreshed at its end.
# Smaller imports hardly move them; the ANALYZE samples a bounded number of rows either way.
ANALYZE_AFTER_PLAYS = 1000


@dataclasses.dataclass
class ImportReport:
    """What an import did: plays added, plays the history already had, entries skipped."""

    files: int = 0
    imported: int = 0
    already_present: int = 0
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)

    def lines(self) -> list[str]:
        """The report as a person reads it at the end of a CLI run."""
        lines = [
            f"{self.files} file(s): {self.imported} plays imported, "
            f"{self.already_present} already present, {sum(self.skipped.values())} skipped"
        ]
        lines += [f"  skipped {count}: {reason}" for reason, count in self.skipped.most_common()]
        return lines


def _missing(paths: Sequence[Path]) -> None:
    for path in paths:
        if not path.exists():
            raise MalformedExport(f"{path}: no such file or directory")


def _playable(
    parsed: Sequence[ExportedPlay | Skipped], seen: set[Any], report: ImportReport
) -> list[ExportedPlay]:
    """The file's plays, each once across the whole export; the rest counted as skipped."""
    plays = []
    for item in parsed:
        if isinstance(item, Skipped):
            report.skipped[item.reason] += 1
        elif item.key in seen:
            report.skipped[DUPLICATE] += 1
        else:
            seen.add(item.key)
            plays.append(item)
    return plays


def import_history(
    database: Database, username: str, paths: Sequence[Path], *, show_progress: bool | None = None
) -> ImportReport:
    """Import the export at `paths` for `username`; raises MalformedExport or UnknownUser.

    `show_progress` None shows a progress bar only on a terminal.
    """
    user_id = database.run_sync(user_id_of, username)
    _missing(paths)
    report = ImportReport()
    seen: set[Any] = set()
    disable = None if show_progress is None else not show_progress
    with tqdm(total=0, unit=" entries", disable=disable, desc="importing") as bar:
        for export in export_files(paths):
            parsed = parse_file(export)
            bar.total = (bar.total or 0) + len(parsed)
            bar.refresh()
            plays = _playable(parsed, seen, report)
            bar.update(len(parsed) - len(plays))
            stored = database.run_sync(store_exported_plays, user_id, plays, bar.update)
            report.files += 1
            report.imported += stored.imported
            report.already_present += stored.already_present
    _refresh_statistics(database, report)
    return report


def _refresh_statistics(database: Database, report: ImportReport) -> None:
    """ANALYZE after a large import on PostgreSQL. SQLite plans by fixed rules until ANALYZE
    first runs (the service never runs it), so no import makes its plans stale."""
    if database.is_postgres and report.imported >= ANALYZE_AFTER_PLAYS:
        database.run_sync(analyze_plays)
