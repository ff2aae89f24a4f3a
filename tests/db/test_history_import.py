"""Writes of an imported history under concurrent writers."""

from __future__ import annotations

import datetime as dt
import threading

from db.database import Database
from db.history_import import store_exported_plays
from db.models import Play, User
from streaming_history import ExportedPlay
from tests.factories import make_user

TRACK = "4uLU6hMCjMI75M1A2tKUQC"


def _play(minute: int) -> ExportedPlay:
    ended = dt.datetime(2024, 5, 1, 10, minute)
    return ExportedPlay("track", TRACK, ended, 200_000, "Song", "Nina Simone", "Pastel Blues")


def test_a_writer_committing_between_the_read_and_the_write_does_not_fail_the_import(
    database: Database,
) -> None:
    """On SQLite a deferred transaction that read before another connection committed cannot
    start writing ('database is locked'); the import must hold its write lock from the start."""
    user_id = database.run_sync(make_user, "ann").id
    writers: list[threading.Thread] = []

    def other_writer() -> None:
        database.run_sync(make_user, "bob")

    def after_the_read(_: int) -> None:
        # Called once the import has read what the history holds, before it writes.
        if not writers:
            writer = threading.Thread(target=other_writer)
            writers.append(writer)
            writer.start()
            writer.join(timeout=1)

    stored = database.run_sync(store_exported_plays, user_id, [_play(0), _play(5)], after_the_read)
    for writer in writers:
        writer.join()

    assert stored.imported == 2
    assert database.run_sync(lambda: Play.select().count()) == 2
    assert database.run_sync(lambda: User.select().count()) == 2
