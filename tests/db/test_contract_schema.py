"""Schemas 5 to 7 (issue 11): snapshots record what they left out, genres that older versions
stored encoded twice are served as lists again, and users who need attention say why."""

from __future__ import annotations

import json

from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

from db.database import Database
from db.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    _add_snapshot_skipped,
    _add_user_status_reason,
    migrate,
)
from db.models import Artist, SchemaVersion, Snapshot, User
from db.users import get_user, set_user_status
from tests.factories import make_user

BEFORE = MIGRATIONS.index(_add_snapshot_skipped)  # the schema version just before it


def _downgrade(database: Database) -> None:
    def run() -> None:
        migrator = SchemaMigrator.from_database(database.peewee)
        run_migrations(migrator.drop_column(Snapshot._meta.table_name, "skipped"))
        SchemaVersion.delete().where(SchemaVersion.version > BEFORE).execute()

    database.run_sync(run)


def _store_genres_as_older_versions_did(database: Database) -> None:
    def run() -> None:
        # What upsert_artists once wrote: the JSON of the list, encoded again by the field.
        twice = json.dumps(json.dumps(["indie folk", "chamber pop"]))
        rows = [("a1", twice), ("a2", json.dumps(["jazz"])), ("a3", None), ("a4", '"jazz"')]
        for artist_id, genres in rows:
            database.peewee.execute_sql(
                "INSERT INTO artist (id, name, genres, updated_at) VALUES (%s, %s, %s, %s)"
                if database.is_postgres
                else "INSERT INTO artist (id, name, genres, updated_at) VALUES (?, ?, ?, ?)",
                (artist_id, artist_id, genres, "2026-01-01 00:00:00"),
            )

    database.run_sync(run)


def test_double_encoded_genres_are_repaired_and_others_left_alone(database: Database) -> None:
    _downgrade(database)
    _store_genres_as_older_versions_did(database)

    assert database.run_sync(migrate, database.peewee) == (BEFORE, LATEST_VERSION)

    genres = database.run_sync(
        lambda: {artist.id: artist.genres for artist in Artist.select().order_by(Artist.id)}
    )
    assert genres == {"a1": ["indie folk", "chamber pop"], "a2": ["jazz"], "a3": None, "a4": "jazz"}


def test_an_older_database_gains_the_skipped_column(database: Database) -> None:
    _downgrade(database)
    database.run_sync(migrate, database.peewee)

    def write_and_read() -> object:
        user = make_user("ann")
        Snapshot.create(user=user, date="2026-11-20", skipped={"/me/tracks": {"local file": 3}})
        return Snapshot.get().skipped

    assert database.run_sync(write_and_read) == {"/me/tracks": {"local file": 3}}


def test_an_older_database_gains_the_users_status_reason(database: Database) -> None:
    before = MIGRATIONS.index(_add_user_status_reason)

    def downgrade() -> None:
        migrator = SchemaMigrator.from_database(database.peewee)
        run_migrations(migrator.drop_column(User._meta.table_name, "status_reason"))
        SchemaVersion.delete().where(SchemaVersion.version > before).execute()
        make_user("ann")

    database.run_sync(downgrade)
    assert database.run_sync(migrate, database.peewee) == (before, LATEST_VERSION)

    def flag_and_read() -> tuple[str, str | None]:
        user = User.get(User.username == "ann")
        set_user_status(user.id, User.NEEDS_ATTENTION, "add them to the allow-list")
        return get_user("ann")["status"], get_user("ann")["status_reason"]

    assert database.run_sync(flag_and_read) == ("needs_attention", "add them to the allow-list")
