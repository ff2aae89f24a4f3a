"""Scoped keys as a request sees them: whether any exist (cached), and whom a key reads."""

from __future__ import annotations

import time
from collections.abc import Callable

from db.api_keys import any_keys, key_users
from db.database import Database

# A key created by the CLI, or another worker, closes the open API within this many seconds.
VISIBILITY_SECONDS = 2.0


class KeyScopes:
    """Per process: asks the database whether keys exist at most every VISIBILITY_SECONDS.

    Once a key exists the answer never changes (revoked keys still count), so from then on
    no request asks again. A key's users are looked up on every use: a revoked key stops
    working at once, in every process.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._configured = False
        self._checked_at: float | None = None

    async def any_configured(self, database: Database) -> bool:
        if self._configured:
            return True
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= VISIBILITY_SECONDS:
            self._checked_at = now
            self._configured = await database.run(any_keys)
        return self._configured

    async def users_of(self, database: Database, secret: str) -> frozenset[str] | None:
        """The users `secret` reads; None for no key or a revoked one."""
        return await database.run(key_users, secret)
