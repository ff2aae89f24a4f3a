"""The `database` fixture's tables are as fresh as a new migration's, whatever the last test did."""

from __future__ import annotations

import datetime as dt

from db.database import Database
from db.migrations import LATEST_VERSION, current_version
from db.models import Play, SnapshotRun, User
from tests.factories import make_track, make_user
from tests.fresh_tables import fresh_tables


def _fill(database: Database) -> None:
    def write() -> None:
        user = make_user("ann")
        make_track("t1", ["a1"])
        Play.create(user=user, track="t1", played_at=dt.datetime(2026, 11, 1))

    database.run_sync(write)


def _rows(database: Database) -> list[int]:
    return database.run_sync(lambda: [User.select().count(), Play.select().count()])


def test_the_next_test_finds_no_rows_and_ids_from_one(
    database: Database, database_url: str
) -> None:
    _fill(database)
    with database.peewee.connection_context():
        fresh_tables(database, database_url)
    assert _rows(database) == [0, 0]
    assert database.run_sync(lambda: make_user("bo").id) == 1


def test_a_changed_schema_is_built_again(database: Database, database_url: str) -> None:
    _fill(database)
    with database.peewee.connection_context():
        database.peewee.execute_sql(f"ALTER TABLE {SnapshotRun._meta.table_name} ADD COLUMN x INT")
        fresh_tables(database, database_url)
        columns = {c.name for c in database.peewee.get_columns(SnapshotRun._meta.table_name)}
        assert current_version(database.peewee) == LATEST_VERSION
    assert "x" not in columns
    assert _rows(database) == [0, 0]


def test_a_dropped_table_is_built_again(database: Database, database_url: str) -> None:
    with database.peewee.connection_context():
        database.peewee.drop_tables([Play], cascade=database.is_postgres)
        fresh_tables(database, database_url)
    _fill(database)
    assert _rows(database) == [1, 1]


def _statistics(database: Database) -> list[object]:
    """What the planner knows of `play`: its row estimate (-1: never analysed), or SQLite's."""
    table, peewee = Play._meta.table_name, database.peewee
    if database.is_postgres:
        sql, args = "SELECT reltuples FROM pg_class WHERE relname = %s", (table,)
    elif peewee.table_exists("sqlite_stat1"):  # SQLite's first ANALYZE creates it
        sql, args = "SELECT stat FROM sqlite_stat1 WHERE tbl = ?", (table,)
    else:
        return []
    return [row[0] for row in peewee.execute_sql(sql, args).fetchall()]


def test_the_planner_forgets_what_the_last_test_analysed(
    database: Database, database_url: str
) -> None:
    _fill(database)
    with database.peewee.connection_context():
        fresh = _statistics(database)
        database.peewee.execute_sql("ANALYZE")
        assert _statistics(database) != fresh
        fresh_tables(database, database_url)
        assert _statistics(database) == fresh
