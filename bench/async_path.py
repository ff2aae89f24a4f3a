"""Option (c) of the db-access decision: the same read queries through `playhouse.pwasyncio`.

Only the bench uses this. It needs greenlet plus asyncpg (PostgreSQL) or aiosqlite (SQLite),
which the service does not install; `missing_packages()` says which are absent.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from db.database import SQLITE_PRAGMAS, database_proxy

T = TypeVar("T")


def missing_packages(kind: str) -> list[str]:
    """The packages pwasyncio needs on this kind of database that cannot be imported."""
    driver = "asyncpg" if kind == "postgresql" else "aiosqlite"
    return [name for name in ("greenlet", driver) if importlib.util.find_spec(name) is None]


def _async_database(url: str, pool_size: int) -> Any:
    from playhouse import pwasyncio

    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return pwasyncio.AsyncSqliteDatabase(
            parts.path, pragmas=SQLITE_PRAGMAS, pool_size=pool_size
        )
    return pwasyncio.AsyncPostgresqlDatabase(
        parts.path.lstrip("/"),
        host=parts.hostname,
        port=parts.port or 5432,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or "") or None,
        pool_size=pool_size,
        pool_min_size=pool_size,
    )


class AsyncPeeweeDatabase:
    """Stands in for `db.database.Database` in the endpoints: same `run`, pwasyncio inside."""

    def __init__(self, url: str, pool_size: int) -> None:
        self.peewee = _async_database(url, pool_size)
        database_proxy.initialize(self.peewee)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run sync Peewee code in a greenlet; every query yields to the loop while it waits."""
        try:
            return await self.peewee.run(fn, *args, **kwargs)
        finally:
            # Give the connection back per unit of work, as the thread design does.
            await self.peewee.aclose()

    async def aclose(self) -> None:
        await self.peewee.close_pool()
