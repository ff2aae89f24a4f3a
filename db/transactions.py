"""Write transactions and row locks that mean the same on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import peewee as pw

from db.database import database_proxy


def _is_sqlite() -> bool:
    return isinstance(database_proxy.obj, pw.SqliteDatabase)


def locked(query: pw.Select, *, skip_locked: bool = False, keys_too: bool = True) -> pw.Select:
    """`query` taking row locks (`FOR UPDATE`, optionally `SKIP LOCKED`) where rows lock.

    `keys_too=False` takes `FOR NO KEY UPDATE`, the lock of an UPDATE that changes no key:
    it lets other transactions keep inserting rows that reference the locked ones.
    """
    # SQLite has no row locks (and peewee refuses FOR UPDATE there): the immediate
    # transaction already holds the whole database for writing.
    if _is_sqlite():
        return query
    # Peewee takes the clause's text in place of True (its stubs say bool only).
    clause: Any = "FOR UPDATE" if keys_too else "FOR NO KEY UPDATE"
    return query.for_update(clause, skip_locked=skip_locked or None)


def write_transaction() -> AbstractContextManager[Any]:
    """A transaction that holds its write lock from the first statement on SQLite."""
    database = database_proxy.obj
    if _is_sqlite():
        # A deferred transaction takes the write lock only at its first write, after another
        # thread may have read the same queued row: two workers would claim one job.
        return database.atomic("IMMEDIATE")
    return database.atomic()
