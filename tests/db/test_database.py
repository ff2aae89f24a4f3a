from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import anyio
import pytest

from application import open_database
from db.database import DATABASE_UNAVAILABLE, Database, DatabaseURLError, ping
from db.migrations import LATEST_VERSION, SchemaOutOfDate, check_schema, current_version, migrate
from db.models import SchemaVersion, User
from settings import Settings


def test_migrate_is_idempotent(database: Database) -> None:
    assert database.run_sync(migrate, database.peewee) == (LATEST_VERSION, LATEST_VERSION)
    assert database.run_sync(lambda: SchemaVersion.select().count()) == LATEST_VERSION


def test_check_schema_names_the_command_on_an_empty_database(database: Database) -> None:
    database.run_sync(lambda: SchemaVersion.delete().execute())
    with pytest.raises(SchemaOutOfDate, match=r"application\.py migrate"):
        database.run_sync(check_schema, database.peewee)
    assert database.run_sync(current_version, database.peewee) == 0


async def test_run_executes_off_the_loop_with_a_connection(database: Database) -> None:
    await database.run(lambda: User.create(username="ann"))
    assert await database.run(lambda: User.get(User.username == "ann").status) == "active"


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(DatabaseURLError, match="sqlite:///PATH or postgresql://"):
        Database("mysql://root@localhost/x")


def test_migrate_upgrades_a_version_1_database_and_backfills_run_members(
    database: Database,
) -> None:
    from db.models import SnapshotJob, SnapshotRun, SnapshotRunUser

    def at_version_1() -> None:
        database.peewee.drop_tables([SnapshotRunUser])
        SchemaVersion.delete().where(SchemaVersion.version > 1).execute()
        user = User.create(username="ann")
        run = SnapshotRun.create(id="r1", date=dt.date(2026, 11, 1), trigger="cli")
        SnapshotJob.create(user=user, date=run.date, run=run)

    database.run_sync(at_version_1)
    with pytest.raises(SchemaOutOfDate, match="version 1"):
        database.run_sync(check_schema, database.peewee)
    assert database.run_sync(migrate, database.peewee) == (1, LATEST_VERSION)
    database.run_sync(check_schema, database.peewee)
    members = database.run_sync(
        lambda: [(m.run_id, m.user.username) for m in SnapshotRunUser.select()]
    )
    assert members == [("r1", "ann")]


def test_migrate_adds_pick_sources_to_a_version_2_database(database: Database) -> None:
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as run_migrations

    from db.models import Recommendation, Snapshot
    from tests.factories import make_track

    def at_version_2() -> None:
        migrator = SchemaMigrator.from_database(database.peewee)
        run_migrations(
            migrator.drop_column("recommendation", "source"),
            migrator.drop_column("recommendation", "new_artist"),
        )
        SchemaVersion.delete().where(SchemaVersion.version > 2).execute()
        make_track("t1")
        snapshot = Snapshot.create(user=User.create(username="ann"), date=dt.date(2026, 11, 1))
        # Only the columns a version-2 table has.
        Recommendation.insert(snapshot=snapshot, rank=1, track="t1", reason="x").execute()

    database.run_sync(at_version_2)
    with pytest.raises(SchemaOutOfDate, match="version 2"):
        database.run_sync(check_schema, database.peewee)
    assert database.run_sync(migrate, database.peewee) == (2, LATEST_VERSION)
    rows = database.run_sync(
        lambda: [(r.reason, r.source, r.new_artist) for r in Recommendation.select()]
    )
    assert rows == [("x", None, None)]


def test_a_missing_sqlite_file_is_never_created(tmp_path: Path) -> None:
    """Only `migrate` creates a database: a moved file must not come back empty."""
    path = tmp_path / "moved.db"
    database = Database(f"sqlite:///{path}")
    try:
        with pytest.raises(DATABASE_UNAVAILABLE, match=r"does not exist; run .*migrate"):
            database.run_sync(ping)
    finally:
        database.close()
    assert list(tmp_path.iterdir()) == []


def test_a_migration_creates_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    database = Database(f"sqlite:///{path}", create=True)
    try:
        assert database.run_sync(migrate, database.peewee) == (0, LATEST_VERSION)
    finally:
        database.close()
    reopened = Database(f"sqlite:///{path}")
    try:
        reopened.run_sync(check_schema, reopened.peewee)
    finally:
        reopened.close()


async def test_a_silent_postgresql_is_unavailable_after_the_connect_timeout(
    settings_without_database: Settings, silent_server: tuple[str, int]
) -> None:
    host, port = silent_server
    configured = dataclasses.replace(
        settings_without_database,
        database_url=f"postgresql://insight@{host}:{port}/insight",
        db_connect_timeout=2.0,
    )
    database = open_database(configured)
    try:
        # A guard against hanging the suite; the connect timeout ends the wait long before.
        with anyio.fail_after(30), pytest.raises(DATABASE_UNAVAILABLE):
            await database.run(ping)
    finally:
        database.close()


def test_a_statement_past_the_statement_timeout_is_cancelled(
    database: Database, database_url: str, settings: Settings
) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite runs in-process; a statement timeout is PostgreSQL's")
    configured = dataclasses.replace(settings, db_statement_timeout=0.2)
    slow = open_database(configured)
    try:
        with pytest.raises(DATABASE_UNAVAILABLE, match="statement timeout"):
            slow.run_sync(lambda: slow.peewee.execute_sql("SELECT pg_sleep(5)"))
        slow.run_sync(ping)
    finally:
        slow.close()
    unbounded = open_database(configured, for_migration=True)
    try:
        unbounded.run_sync(lambda: unbounded.peewee.execute_sql("SELECT pg_sleep(0.5)"))
    finally:
        unbounded.close()


def test_migrate_lets_an_older_queue_retry_jobs_later(database: Database) -> None:
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as run_migrations

    from db.migrations import MIGRATIONS, _add_retry_later
    from db.models import SnapshotJob, SnapshotRun

    before = MIGRATIONS.index(_add_retry_later)

    def before_retry_later() -> None:
        migrator = SchemaMigrator.from_database(database.peewee)
        run_migrations(
            migrator.drop_column("snapshot_job", "retry_at"),
            migrator.drop_column("snapshot_job", "deferrals"),
            migrator.drop_column("snapshot_run", "deadline"),
        )
        SchemaVersion.delete().where(SchemaVersion.version > before).execute()
        user = User.create(username="ann")
        false = "false" if database.is_postgres else "0"
        # Only the columns the tables had before.
        database.peewee.execute_sql(
            "INSERT INTO snapshot_run (id, date, trigger, force, created_at) "
            f"VALUES ('r1', '2026-11-01', 'cli', {false}, '2026-11-01 00:00:00')"
        )
        database.peewee.execute_sql(
            "INSERT INTO snapshot_job (user_id, date, run_id, status, force, attempts, "
            f"updated_at) VALUES ({user.id}, '2026-11-01', 'r1', 'queued', {false}, 0, "
            "'2026-11-01')"
        )

    database.run_sync(before_retry_later)
    with pytest.raises(SchemaOutOfDate, match=f"version {before}"):
        database.run_sync(check_schema, database.peewee)
    assert database.run_sync(migrate, database.peewee) == (before, LATEST_VERSION)
    rows = database.run_sync(
        lambda: [(j.status, j.retry_at, j.deferrals) for j in SnapshotJob.select()]
    )
    assert rows == [("queued", None, 0)]
    assert database.run_sync(lambda: SnapshotRun.get_by_id("r1").deadline) is None
