"""The access migrations: users' pages start private; scoped keys get their tables."""

from __future__ import annotations

from db.api_keys import create_key, key_users
from db.database import Database
from db.migrations import LATEST_VERSION, MIGRATIONS, _add_user_public, check_schema, migrate
from db.models import ApiKey, ApiKeyUser, SchemaVersion
from db.users import get_user, list_users, set_user_public, user_is_public
from tests.factories import make_user

BEFORE = MIGRATIONS.index(_add_user_public)


def test_an_older_database_upgrades_with_private_users_and_key_tables(database: Database) -> None:
    def downgrade() -> None:
        database.peewee.drop_tables([ApiKeyUser, ApiKey])
        database.peewee.execute_sql('ALTER TABLE "user" DROP COLUMN public')
        SchemaVersion.delete().where(SchemaVersion.version > BEFORE).execute()
        database.peewee.execute_sql(
            'INSERT INTO "user" (username, status, timezone, created_at, updated_at) '
            "VALUES ('ann', 'active', 'UTC', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )

    database.run_sync(downgrade)
    assert database.run_sync(migrate, database.peewee) == (BEFORE, LATEST_VERSION)
    database.run_sync(check_schema, database.peewee)
    assert database.run_sync(get_user, "ann")["public"] is False
    assert database.run_sync(user_is_public, "ann") is False
    key = database.run_sync(create_key, ["ann"]).secret
    assert database.run_sync(key_users, key) == {"ann"}


def test_public_is_per_user_and_unknown_users_are_never_public(database: Database) -> None:
    def two_users() -> None:
        make_user("ann")
        make_user("bob")

    database.run_sync(two_users)
    database.run_sync(set_user_public, "ann", True)
    assert database.run_sync(user_is_public, "ann") is True
    assert database.run_sync(user_is_public, "bob") is False
    assert database.run_sync(user_is_public, "nobody") is False
    assert [u["public"] for u in database.run_sync(list_users)] == [True, False]
    database.run_sync(set_user_public, "ann", False)
    assert database.run_sync(user_is_public, "ann") is False
