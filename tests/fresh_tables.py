"""Fresh tables for each test, without rebuilding the PostgreSQL schema each time.

Dropping and migrating 29 tables took 0.4-0.8 s of DDL per PostgreSQL test (SQLite starts
each test in a new file, so it stays as it was). The session's PostgreSQL database keeps the
schema `migrate()` built and each test finds it emptied, identities restarted and planner
statistics forgotten, as freshly created tables are. A test that changed the schema (a
migration test dropping a table, an old column put back) or its recorded version is caught
by the fingerprint: the next test gets the tables dropped and migrated again.
"""

from __future__ import annotations

import peewee as pw
from peewee import sort_models  # type: ignore[attr-defined]  # not in __all__

from db.database import Database
from db.migrations import migrate
from db.models import ALL_MODELS, SchemaVersion

# Everything of the schema a test could change, and the versions migrate() recorded.
_FINGERPRINT = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(',', table_name, column_name, data_type, is_nullable,
                               column_default), ';' ORDER BY table_name, column_name)
     FROM information_schema.columns WHERE table_schema = 'public'),
  (SELECT string_agg(indexdef, ';' ORDER BY indexdef)
     FROM pg_indexes WHERE schemaname = 'public'),
  (SELECT string_agg(concat_ws(' ', conrelid::regclass, conname, pg_get_constraintdef(oid)),
                     ';' ORDER BY conrelid::regclass::text, conname)
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT string_agg(version::text, ',' ORDER BY version) FROM {versions})))
"""
# The ids of every emptied table start again at 1 (the versions keep theirs).
_RESTART_SEQUENCES = """
SELECT setval(s.oid::regclass, 1, false)
  FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
 WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace
   AND d.refobjid <> '{versions}'::regclass
"""
# Tables the planner has statistics of (an ANALYZE, autovacuum): only TRUNCATE forgets them,
# as a test of what an import leaves the planner needs (a fresh table's reltuples is -1).
_ANALYSED = """
SELECT quote_ident(relname) FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND reltuples <> -1
   AND relname <> '{versions}'
"""
# Children before parents, so no foreign key stops a delete; the versions stay.
_EMPTIED = [m for m in reversed(sort_models(ALL_MODELS)) if m is not SchemaVersion]

# PostgreSQL URL -> the fingerprint of its schema as migrate() last built it
_migrated: dict[str, str | None] = {}


def fresh_tables(db: Database, url: str) -> None:
    """Leave `db` with today's schema and no rows, as a fresh migration does."""
    known = _migrated.get(url)
    if not db.is_postgres:
        _rebuild(db)
    elif known is not None and known == _fingerprint(db):
        with db.peewee.atomic():
            _empty(db.peewee)
    else:
        _rebuild(db)
        _migrated[url] = _fingerprint(db)


def _rebuild(db: Database) -> None:
    db.peewee.drop_tables(ALL_MODELS, safe=True, cascade=db.is_postgres)
    migrate(db.peewee)


def _fingerprint(db: Database) -> str | None:
    try:
        sql = _FINGERPRINT.format(versions=SchemaVersion._meta.table_name)
        row = db.peewee.execute_sql(sql).fetchone()
    except pw.ProgrammingError:  # a test dropped the versions' table
        db.peewee.rollback()
        return None
    return str(row[0])


def _empty(database: pw.Database) -> None:
    versions = SchemaVersion._meta.table_name
    analysed = [row[0] for row in database.execute_sql(_ANALYSED.format(versions=versions))]
    if analysed:
        database.execute_sql(f"TRUNCATE {', '.join(analysed)} CASCADE")
    for model in _EMPTIED:
        model.delete().execute()
    database.execute_sql(_RESTART_SEQUENCES.format(versions=versions))
