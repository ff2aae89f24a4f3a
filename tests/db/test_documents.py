"""Snapshot documents: rendered in the snapshot's transaction, replaced by a redo, re-rendered
by a migration only when the format version changes."""

from __future__ import annotations

import datetime as dt
import gc
import gzip
import logging
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from db import documents
from db.database import Database
from db.migrations import MIGRATIONS, migrate
from db.models import SchemaVersion, Snapshot, SnapshotDocument
from db.queries import SnapshotNotFound
from db.snapshots import ClusterRows, RecommendationRow, SnapshotContent, write_snapshot
from db.users import UnknownUser
from tests.factories import make_track, make_user, store_features

DAY = dt.date(2026, 11, 20)
# The schema version that added documents (later migrations are appended after it).
DOCUMENTS_VERSION = [step.__name__ for step in MIGRATIONS].index("_add_snapshot_documents") + 1


def _content(user_id: int, date: dt.date = DAY) -> SnapshotContent:
    return SnapshotContent(
        user_id=user_id,
        date=date,
        top_tracks={"short_term": ["t1", "t2"]},
        top_artists={"medium_term": ["a1"]},
        recent=["t2"],
        saved=["t1"],
        recommendations=[RecommendationRow("t3", "because", "csv", True)],
        recommendation_source="local",
        clusters=[ClusterRows("mellow", {"energy": 0.2}, ["t1", "t2"])],
        clusters_note=None,
        features_source="csv",
        sources={},
    )


def _seed() -> int:
    user = make_user("ann")
    for track_id in ("t1", "t2", "t3"):
        make_track(track_id, ["a1"], "al1")
    return int(user.id)


def _etags() -> dict[str, str]:
    return {row.variant: row.etag for row in SnapshotDocument.select()}


@given(body=st.binary(max_size=50_000), level=st.integers(0, 9))
def test_a_gzip_copy_inflates_to_its_body(body: bytes, level: int) -> None:
    copy = gzip.compress(body, level, mtime=0)
    assert documents.inflate(copy) == body
    assert documents.Document(DAY, '"e"', copy).body == body


def test_inflating_allocates_the_body_once_at_its_size() -> None:
    # A buffer grown and shrunk to fit on every plain read fragmented a serving process's
    # heap: 46 MB more at peak under the archive.
    body = orjson.dumps([{"track": f"Track number {i}", "rank": i} for i in range(600)])
    copy = gzip.compress(body, 9, mtime=0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        inflated = documents.inflate(copy)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert inflated == body
    assert peak < len(body) + 1024


def test_writing_a_snapshot_stores_every_response_with_a_gzip_copy(database: Database) -> None:
    def scenario() -> list[SnapshotDocument]:
        write_snapshot(_content(_seed()))
        return list(SnapshotDocument.select())

    rows = database.run_sync(scenario)
    assert {row.variant for row in rows} == set(documents.RENDERERS)
    by_variant = {row.variant: row for row in rows}
    recommendations = orjson.loads(bytes(by_variant["recommendations"].body))
    assert [pick["track"]["id"] for pick in recommendations["recommendations"]] == ["t3"]
    assert recommendations["clusters"][0]["label"] == "mellow"
    top = orjson.loads(bytes(by_variant["top-items:tracks:short_term"].body))
    assert [item["id"] for item in top["items"]] == ["t1", "t2"]
    for row in rows:
        assert gzip.decompress(bytes(row.gzip)) == bytes(row.body)
        assert row.format_version == documents.FORMAT_VERSION
    assert len({row.etag for row in rows}) == len(rows)


def test_writing_a_snapshot_keeps_nothing_it_read_to_render_it(database: Database) -> None:
    """A night writes a snapshot per user: what rendering one read must go with it (issue 10)."""
    database.run_sync(lambda: write_snapshot(_content(_seed())))
    gc.collect()
    kept = [held for held in gc.get_objects() if isinstance(held, documents.SnapshotReads)]
    assert kept == []


def test_a_forced_redo_replaces_the_documents_and_every_etag(database: Database) -> None:
    def scenario() -> tuple[dict[str, str], dict[str, str], int]:
        user_id = _seed()
        write_snapshot(_content(user_id))
        before = _etags()
        write_snapshot(_content(user_id))  # what `snapshot --force` does
        return before, _etags(), SnapshotDocument.select().count()

    before, after, count = database.run_sync(scenario)
    assert count == len(documents.RENDERERS)
    # The same content, even: the clusters and top items read alike, yet a redo is news.
    assert set(after) == set(before)
    assert all(after[variant] != before[variant] for variant in before)


def test_a_dated_statistics_document_is_frozen_with_its_snapshot(database: Database) -> None:
    """Features stored after the snapshot do not change what its date answers (issue 11.6)."""

    def scenario() -> tuple[bytes, bytes]:
        write_snapshot(_content(_seed()))
        before = documents.find_document("ann", DAY, documents.STATISTICS).body
        store_features("t1")
        return before, documents.find_document("ann", DAY, documents.STATISTICS).body

    before, after = database.run_sync(scenario)
    assert after == before
    assert orjson.loads(before)["tracks_with_features"] == 0


def test_rerendering_changes_etags_only_when_the_format_version_changes(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    next_version = documents.FORMAT_VERSION + 1

    def scenario() -> tuple[dict[str, str], dict[str, str], int, dict[str, str], set[int]]:
        write_snapshot(_content(_seed()))
        first = _etags()
        migrate(database.peewee)  # nothing to do: the same format version
        unchanged = _etags()
        monkeypatch.setattr(documents, "FORMAT_VERSION", next_version)
        rerendered = documents.render_outdated()
        versions = {row.format_version for row in SnapshotDocument.select()}
        return first, unchanged, rerendered, _etags(), versions

    first, unchanged, rerendered, bumped, versions = database.run_sync(scenario)
    assert unchanged == first
    assert rerendered == 1
    assert versions == {next_version}
    assert all(bumped[variant] != first[variant] for variant in first)


def test_the_migration_renders_documents_for_existing_snapshots(database: Database) -> None:
    def scenario() -> tuple[int, int]:
        write_snapshot(_content(_seed()))
        # As the database was before documents existed.
        database.peewee.drop_tables([SnapshotDocument])
        SchemaVersion.delete().where(SchemaVersion.version >= DOCUMENTS_VERSION).execute()
        start, _ = migrate(database.peewee)
        return start, SnapshotDocument.select().count()

    start, count = database.run_sync(scenario)
    assert start == DOCUMENTS_VERSION - 1
    assert count == len(documents.RENDERERS)


def test_a_snapshot_without_documents_gets_them_on_first_read(database: Database) -> None:
    def scenario() -> tuple[bytes, bytes, int]:
        write_snapshot(_content(_seed()))
        SnapshotDocument.delete().execute()
        first = documents.find_document("ann", None, documents.CLUSTERS)
        again = documents.find_document("ann", DAY, documents.CLUSTERS)
        return first.body, again.body, SnapshotDocument.select().count()

    first, again, count = database.run_sync(scenario)
    assert first == again
    assert count == len(documents.RENDERERS)


@pytest.mark.parametrize(
    ("username", "date", "missing", "statements"),
    [
        # The document's look-up, then the user's.
        pytest.param("bob", None, UnknownUser, 2, id="unknown-user"),
        # The look-up, the user, their snapshot on the date, the dates they do have.
        pytest.param("ann", DAY - dt.timedelta(days=1), SnapshotNotFound, 4, id="unknown-date"),
    ],
)
async def test_a_read_of_nothing_stored_asks_for_the_document_once(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    username: str,
    date: dt.date | None,
    missing: type[Exception],
    statements: int,
) -> None:
    """A 404 is a cheap answer: what the look-up found nothing for is not looked up again."""
    database.run_sync(lambda: write_snapshot(_content(_seed())))
    asked: list[str] = []
    if database.reads_on_loop:
        fetch_row = database.fetch_row

        async def on_loop(sql: str, params: Any) -> Any:
            asked.append(sql)
            return await fetch_row(sql, params)

        monkeypatch.setattr(database, "fetch_row", on_loop)
    with caplog.at_level(logging.DEBUG, logger="peewee"), pytest.raises(missing):
        await documents.read_document(database, username, date, documents.CLUSTERS)
    asked.extend(record.msg[0] for record in caplog.records if record.name == "peewee")
    assert len(asked) == statements, asked
    assert len(set(asked)) == len(asked), asked


def test_the_change_marker_moves_with_every_change_a_reader_must_see(
    database: Database,
) -> None:
    def scenario() -> list[tuple[object, ...]]:
        user_id = _seed()
        other = make_user("bea")
        markers = [documents.change_marker()]
        write_snapshot(_content(user_id))  # a new snapshot
        markers.append(documents.change_marker())
        write_snapshot(_content(user_id))  # a forced redo
        markers.append(documents.change_marker())
        write_snapshot(_content(user_id, DAY - dt.timedelta(days=1)))
        markers.append(documents.change_marker())
        Snapshot.delete().where(Snapshot.date == DAY).execute()  # a deleted snapshot
        markers.append(documents.change_marker())
        other.delete_instance()  # a deleted user
        markers.append(documents.change_marker())
        return markers

    markers = database.run_sync(scenario)
    assert len(set(markers)) == len(markers)
