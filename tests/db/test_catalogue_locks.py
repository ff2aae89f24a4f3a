"""Concurrent snapshot workers write the shared catalogue without deadlocking on PostgreSQL:
every multi-row write locks its rows in id order, whatever order the table keeps them in."""

from __future__ import annotations

import string
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import psycopg2
import pytest

from db import catalogue
from db.database import Database
from db.models import Artist
from spotify_models import Artist as SpotifyArtist

# Stored in reverse: a scan then meets them in the opposite order to their ids.
IDS = sorted(string.ascii_lowercase)
HELD = "m"
WAIT = 10.0


def _artists() -> list[SpotifyArtist]:
    return [SpotifyArtist(i, f"Artist {i}", ("jazz",), None, None) for i in IDS]


def _store_in_reverse() -> None:
    Artist.insert_many([{"id": i, "name": f"Artist {i}"} for i in reversed(IDS)]).execute()


def _waiting_on_locks(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (urlsplit(url).path.lstrip("/"),),
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0


def _run_blocked(database: Database, writes: list[Callable[[], None]]) -> list[BaseException]:
    """Start `writes` while another transaction holds one row they all need, wait until each is
    blocked on it, then let go: their own lock orders alone decide whether they deadlock."""
    failures: list[BaseException] = []

    def run(write: Callable[[], None]) -> None:
        try:
            database.run_sync(write)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            failures.append(exc)

    holder = psycopg2.connect(database.url)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM artist WHERE id = %s FOR UPDATE", (HELD,))
        threads = [threading.Thread(target=run, args=(write,)) for write in writes]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + WAIT
        while _waiting_on_locks(database.url) < len(writes) and time.monotonic() < deadline:
            time.sleep(0.05)
        holder.commit()
    finally:
        holder.close()
    for thread in threads:
        thread.join(WAIT)
    return failures


def test_marking_catalogues_fetched_and_upserting_artists_do_not_deadlock(
    database: Database,
) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite has no row locks: one writer holds the whole database")
    database.run_sync(_store_in_reverse)

    failures = _run_blocked(
        database,
        [
            lambda: catalogue.mark_catalogue_fetched(reversed(IDS)),
            lambda: catalogue.upsert_artists(_artists()),
        ],
    )

    assert failures == []
    stored = database.run_sync(
        lambda: [(a.genres, a.catalogue_fetched_at is not None) for a in Artist.select()]
    )
    assert stored == [(["jazz"], True)] * len(IDS)
