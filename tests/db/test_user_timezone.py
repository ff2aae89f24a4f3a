"""The user time zone migration: each user counts statistics in a zone of their own (UTC)."""

from __future__ import annotations

import pytest

from db.database import Database
from db.local_time import InvalidTimezone
from db.migrations import LATEST_VERSION, MIGRATIONS, _add_user_timezone, check_schema, migrate
from db.models import SchemaVersion, User
from db.users import UnknownUser, get_user, set_user_timezone, user_timezone
from tests.factories import make_user

BEFORE = MIGRATIONS.index(_add_user_timezone)


def test_an_older_database_upgrades_and_its_users_count_in_utc(database: Database) -> None:
    def downgrade() -> None:
        # ann is made with today's columns, so columns added after the zone need no mention.
        make_user("ann")
        database.peewee.execute_sql('ALTER TABLE "user" DROP COLUMN timezone')
        SchemaVersion.delete().where(SchemaVersion.version > BEFORE).execute()

    database.run_sync(downgrade)
    assert database.run_sync(migrate, database.peewee) == (BEFORE, LATEST_VERSION)
    database.run_sync(check_schema, database.peewee)
    assert database.run_sync(get_user, "ann")["timezone"] == "UTC"


def test_a_user_sets_a_zone_by_its_iana_name(database: Database) -> None:
    user_id = database.run_sync(make_user, "ann").id
    assert database.run_sync(set_user_timezone, "ann", "America/Sao_Paulo") == "America/Sao_Paulo"
    assert database.run_sync(user_timezone, "ann") == (user_id, "America/Sao_Paulo")
    assert database.run_sync(lambda: User.get_by_id(user_id).timezone) == "America/Sao_Paulo"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Mars/Olympus", id="unknown"),
        pytest.param("../../etc/passwd", id="path"),
        pytest.param("", id="empty"),
        pytest.param("Europe", id="a-directory"),
        pytest.param("x" * 300, id="long"),
        pytest.param("Europe/Berlin\x00", id="nul"),
    ],
)
def test_anything_else_is_refused(database: Database, name: str) -> None:
    database.run_sync(make_user, "ann")
    with pytest.raises(InvalidTimezone, match="IANA name"):
        database.run_sync(set_user_timezone, "ann", name)
    assert database.run_sync(user_timezone, "ann")[1] == "UTC"


def test_an_unknown_user(database: Database) -> None:
    with pytest.raises(UnknownUser):
        database.run_sync(set_user_timezone, "bob", "UTC")
