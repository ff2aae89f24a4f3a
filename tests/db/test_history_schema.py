"""Schema 3: plays keep their length and origin; an old database upgrades in place."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from db.database import Database, database_proxy
from db.migrations import LATEST_VERSION, MIGRATIONS, _add_history_import, check_schema, migrate
from db.models import (
    AlbumName,
    ArtistName,
    Episode,
    EpisodePlay,
    HistoryGap,
    Play,
    SchemaVersion,
    Show,
    Track,
    TrackCredit,
    User,
)
from tests.factories import make_track, make_user

WHEN = dt.datetime(2026, 5, 1, 12, 0, 0)
BEFORE = MIGRATIONS.index(_add_history_import)  # the schema version just before this one
NEW_TABLES = [ArtistName, AlbumName, TrackCredit, Show, Episode, EpisodePlay, HistoryGap]


class _PlayV2(pw.Model):
    """The play table as the schemas before this one had it."""

    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    track = pw.ForeignKeyField(Track, on_delete="CASCADE")
    played_at = pw.DateTimeField()

    class Meta:
        database = database_proxy
        table_name = "play"


# Named as older schemas named it (peewee derives index names from the model's name).
_PlayV2.add_index(
    _PlayV2.index(_PlayV2.user, _PlayV2.played_at, unique=True, name="play_user_id_played_at")
)


def _before_history(database: Database) -> None:
    def downgrade() -> None:
        database.peewee.drop_tables([*NEW_TABLES, Play], cascade=database.is_postgres)
        _PlayV2.create_table()
        SchemaVersion.delete().where(SchemaVersion.version > BEFORE).execute()
        user = make_user("ann")
        make_track("t1")
        _PlayV2.create(user=user, track="t1", played_at=WHEN)

    database.run_sync(downgrade)


def test_an_older_database_upgrades_and_keeps_its_plays_as_polled(database: Database) -> None:
    _before_history(database)
    assert database.run_sync(migrate, database.peewee) == (BEFORE, LATEST_VERSION)
    database.run_sync(check_schema, database.peewee)
    rows = database.run_sync(
        lambda: list(Play.select(Play.ms_played, Play.short, Play.origin).tuples())
    )
    assert rows == [(None, False, Play.POLLED)]


def test_two_imported_plays_may_end_in_the_same_second_but_a_polled_time_is_unique(
    database: Database,
) -> None:
    _before_history(database)
    database.run_sync(migrate, database.peewee)

    def write() -> None:
        make_track("t2")
        user = User.get(User.username == "ann")
        for track in ("t1", "t2"):
            Play.create(user=user, track=track, played_at=WHEN, ms_played=1, origin=Play.IMPORTED)
        with database.peewee.atomic(), pytest.raises(pw.IntegrityError):
            Play.create(user=user, track="t2", played_at=WHEN)
        with database.peewee.atomic(), pytest.raises(pw.IntegrityError):
            Play.create(user=user, track="t1", played_at=WHEN, origin=Play.IMPORTED)

    database.run_sync(write)
    assert database.run_sync(lambda: Play.select().count()) == 3
