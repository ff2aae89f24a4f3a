"""Schema versioning: `migrate()` creates or upgrades the schema, idempotently."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, cast

import peewee as pw
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

from db.documents import render_outdated
from db.models import (
    ALL_MODELS,
    AlbumName,
    ApiKey,
    ApiKeyUser,
    Artist,
    ArtistName,
    Episode,
    EpisodePlay,
    HistoryGap,
    Play,
    Recommendation,
    SchemaVersion,
    Show,
    Snapshot,
    SnapshotDocument,
    SnapshotJob,
    SnapshotRun,
    SnapshotRunUser,
    TrackCredit,
    User,
)


def _create_initial_schema(database: pw.Database) -> None:
    # Creates today's whole schema on an empty database; later steps then find nothing to do.
    database.create_tables(ALL_MODELS, safe=True)


def _add_run_members(database: pw.Database) -> None:
    """Runs record the users they asked for (before, a newer run took over their jobs)."""
    database.create_tables([SnapshotRunUser], safe=True)
    known = SnapshotJob.select(SnapshotJob.run, SnapshotJob.user).where(
        SnapshotJob.run.is_null(False)
    )
    SnapshotRunUser.insert_from(
        known, [SnapshotRunUser.run, SnapshotRunUser.user]
    ).on_conflict_ignore().execute()


def _add_missing_columns(
    database: pw.Database, *wanted: tuple[type[pw.Model], str, pw.Field]
) -> None:
    """Add each (model, column, field) the database lacks: a step may find its columns there
    already, on a database that `_create_initial_schema` made from today's models."""
    migrator = SchemaMigrator.from_database(database)
    tables = {model._meta.table_name for model, _, _ in wanted}
    present = {table: {column.name for column in database.get_columns(table)} for table in tables}
    run_migrations(
        *(
            migrator.add_column(model._meta.table_name, name, field)
            for model, name, field in wanted
            if name not in present[model._meta.table_name]
        )
    )


def _add_recommendation_sources(database: pw.Database) -> None:
    """Each pick records its candidate source and whether its artist is new to the user."""
    _add_missing_columns(
        database,
        (Recommendation, "source", pw.CharField(max_length=32, null=True)),
        (Recommendation, "new_artist", pw.BooleanField(null=True)),
    )


def _play_columns(database: pw.Database) -> list[str]:
    false = "false" if isinstance(database, pw.PostgresqlDatabase) else "0"
    boolean = "BOOLEAN" if isinstance(database, pw.PostgresqlDatabase) else "INTEGER"
    # Plain DDL: a NOT NULL column with a default needs no table rebuild on SQLite.
    return [
        "ALTER TABLE play ADD COLUMN ms_played INTEGER",
        f"ALTER TABLE play ADD COLUMN short {boolean} NOT NULL DEFAULT {false}",
        f"ALTER TABLE play ADD COLUMN origin VARCHAR(8) NOT NULL DEFAULT '{Play.POLLED}'",
    ]


def _add_history_import(database: pw.Database) -> None:
    """Plays gain length, a short-play flag and an origin; podcasts, names and gaps get tables.

    Every play stored so far was polled. The one unique (user, played_at) index becomes one
    per origin, so an export may hold two plays ending in the same second.
    """
    existing = {column.name for column in database.get_columns("play")}
    for statement in _play_columns(database):
        if statement.split()[5] not in existing:
            database.execute_sql(statement)
    database.execute_sql("DROP INDEX IF EXISTS play_user_id_played_at")
    Play._schema.create_indexes(safe=True)  # type: ignore[attr-defined]
    database.create_tables(
        [ArtistName, AlbumName, TrackCredit, Show, Episode, EpisodePlay, HistoryGap], safe=True
    )


def _add_snapshot_skipped(database: pw.Database) -> None:
    """Each snapshot records what Spotify sent that was left out, and why."""
    _add_missing_columns(database, (Snapshot, "skipped", pw.TextField(null=True)))


def _decoded_genres(value: Any) -> list[str] | None:
    """A genre list that older versions stored encoded twice (or more), decoded; else None."""
    decoded = value
    while isinstance(decoded, str):
        try:
            decoded = json.loads(decoded)
        except ValueError:
            return None
    return decoded if isinstance(decoded, list) and value != decoded else None


def _repair_double_encoded_genres(database: pw.Database) -> None:
    """Versions before issue 11 stored genres as a JSON string of the JSON list."""
    query = Artist.select(Artist.id, Artist.genres).where(Artist.genres.is_null(False)).tuples()
    for artist_id, genres in list(cast(Iterable[tuple[str, Any]], query)):
        repaired = _decoded_genres(genres)
        if repaired is not None:
            Artist.update(genres=repaired).where(Artist.id == artist_id).execute()


def _add_snapshot_documents(database: pw.Database) -> None:
    """Each response of a snapshot is stored rendered; `migrate` renders the existing ones."""
    database.create_tables([SnapshotDocument], safe=True)


def _add_artist_profiles(database: pw.Database) -> None:
    """Artists remember when their profile (the artist and all albums) was last fetched."""
    _add_missing_columns(database, (Artist, "profile_fetched_at", pw.DateTimeField(null=True)))


def _add_user_timezone(database: pw.Database) -> None:
    """Users gain the time zone their statistics count days and hours in (UTC until set)."""
    if "timezone" not in {column.name for column in database.get_columns("user")}:
        # Plain DDL: a NOT NULL column with a default needs no table rebuild on SQLite.
        database.execute_sql(
            "ALTER TABLE \"user\" ADD COLUMN timezone VARCHAR(64) NOT NULL DEFAULT 'UTC'"
        )


def _add_retry_later(database: pw.Database) -> None:
    """A job the rate limit ran out of time is retried later, until its run's deadline."""
    _add_missing_columns(
        database,
        (SnapshotJob, "retry_at", pw.DateTimeField(null=True)),
        (SnapshotJob, "deferrals", pw.IntegerField(default=0)),
        (SnapshotRun, "deadline", pw.DateTimeField(null=True)),
    )


def _add_user_status_reason(database: pw.Database) -> None:
    """A user who needs attention is told why, and what to do."""
    _add_missing_columns(database, (User, "status_reason", pw.TextField(null=True)))


def _add_user_public(database: pw.Database) -> None:
    """Users' pages are private until they are made public (`users set --public`)."""
    if "public" not in {column.name for column in database.get_columns("user")}:
        false = "false" if isinstance(database, pw.PostgresqlDatabase) else "0"
        boolean = "BOOLEAN" if isinstance(database, pw.PostgresqlDatabase) else "INTEGER"
        # Plain DDL: a NOT NULL column with a default needs no table rebuild on SQLite.
        database.execute_sql(
            f'ALTER TABLE "user" ADD COLUMN public {boolean} NOT NULL DEFAULT {false}'
        )


def _add_api_keys(database: pw.Database) -> None:
    """Scoped API keys (`keys create`): a hash of each, and the users it may read."""
    database.create_tables([ApiKey, ApiKeyUser], safe=True)


def _add_user_signed_out_at(database: pw.Database) -> None:
    """Signing out ends every session of the user, on the server too."""
    _add_missing_columns(database, (User, "signed_out_at", pw.DateTimeField(null=True)))


# Append-only: each entry upgrades the schema from the version before it.
MIGRATIONS: tuple[Callable[[pw.Database], None], ...] = (
    _create_initial_schema,
    _add_run_members,
    _add_recommendation_sources,
    _add_history_import,
    _add_snapshot_skipped,
    _repair_double_encoded_genres,
    _add_artist_profiles,
    _add_snapshot_documents,
    _add_user_timezone,
    _add_retry_later,
    _add_user_status_reason,
    _add_user_public,
    _add_api_keys,
    _add_user_signed_out_at,
)
LATEST_VERSION = len(MIGRATIONS)


class SchemaOutOfDate(RuntimeError):
    """The database schema is older (or newer) than this code expects."""


def current_version(database: pw.Database) -> int:
    """The schema version recorded in the database, 0 when it has none."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    latest = SchemaVersion.select(pw.fn.MAX(SchemaVersion.version)).scalar()
    return latest or 0


def migrate(database: pw.Database) -> tuple[int, int]:
    """Apply every missing migration in one transaction; returns (from, to) versions.

    Documents are rendered last, by today's code on today's schema: a snapshot without
    documents, or with documents of an older format version, gets them re-rendered.
    """
    with database.atomic():
        start = current_version(database)
        for version in range(start + 1, LATEST_VERSION + 1):
            MIGRATIONS[version - 1](database)
            SchemaVersion.create(version=version)
        render_outdated()
    return start, LATEST_VERSION


def check_schema(database: pw.Database) -> None:
    """Raise SchemaOutOfDate unless the schema is exactly the one this code expects."""
    version = current_version(database)
    if version < LATEST_VERSION:
        raise SchemaOutOfDate(
            f"database schema is at version {version}, this code needs {LATEST_VERSION}: "
            "run `python application.py migrate` first"
        )
    if version > LATEST_VERSION:
        raise SchemaOutOfDate(
            f"database schema is at version {version}, newer than this code ({LATEST_VERSION}): "
            "upgrade the service"
        )
