"""The read cache: snapshot documents kept in memory, bounded by bytes, least recently used out.

Documents are immutable until their snapshot is redone or deleted, so a hit needs no database
work at all. An entry holds the document's gzip copy (about 2.7 kB for a 21 kB body), so the
default 64 MB holds most of a 1,000-user, 30-date archive rather than a tenth of it.
The body a client that does not accept gzip is sent is inflated from that copy, and kept
beside it only in room the copies do not need: bodies go first when a copy needs room, and
never push one out. A body saves an inflation (~25 us) on its next plain read, and a copy a
database read (a miss costs the loop and PostgreSQL several times that), in an eighth of the
bytes. The budget counts what an entry, a body and the latest map's dates really hold.

Other processes (the CLI, another worker, another machine) change snapshots behind this one's
back; the cache asks the database for a cheap change marker at most once per `interval`
seconds and starts over when it moved, so every change is seen within that interval.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from db import documents
from db.database import Database
from db.documents import Document

Key = tuple[str, dt.date, str]

VISIBILITY_SECONDS = 2.0
# What an entry costs beyond its gzip copy: its key tuple with its own username string, the
# Document, the ETag string, the 33-byte bytes header, the date, the OrderedDict's slot and node.
# tracemalloc measured 453 bytes an entry for 21,317 2.7 kB documents (458 for 400 B ones)
# with 10-character usernames; 480 leaves room for Spotify's 28-character user ids.
ENTRY_OVERHEAD = 480
# What a remembered "latest" date costs: the username string it keeps alive, the date, the
# dict slot. tracemalloc measured 129 bytes an entry over 99,999 entries (10-character names);
# uncounted, a full map was 13 MB outside the budget.
LATEST_OVERHEAD = 160
LATEST_ENTRIES = 100_000
# What a kept body costs beyond its bytes: its own key tuple and the OrderedDict's slot and node.
BODY_OVERHEAD = 200


class ReadCache:
    """Snapshot documents by (user, date, variant), within a byte budget."""

    def __init__(
        self,
        database: Database,
        budget_bytes: int,
        *,
        interval: float = VISIBILITY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._budget = budget_bytes
        self._interval = interval
        self._clock = clock
        self._entries: OrderedDict[Key, Document] = OrderedDict()
        self._bodies: OrderedDict[Key, bytes] = OrderedDict()
        self._latest: dict[str, dt.date] = {}
        self._used = 0  # the entries', the bodies' and the latest map's
        self._bodies_used = 0
        self._marker: Hashable = None
        self._checked_at: float | None = None
        self._generation = 0

    @property
    def used_bytes(self) -> int:
        return self._used

    def keys(self) -> list[Key]:
        """The (user, date, variant) of every document held, least recently used first."""
        return list(self._entries)

    async def document(self, username: str, date: dt.date | None, variant: str) -> Document:
        """The document, from memory when it is there; raises UnknownUser, SnapshotNotFound."""
        # A hit while the change marker is fresh awaits nothing: the hot path of a busy loop.
        if self._checked_at is None or self._clock() - self._checked_at >= self._interval:
            await self._revalidate()
        day = date if date is not None else self._latest.get(username)
        if day is not None and (hit := self._entries.get((username, day, variant))):
            self._entries.move_to_end((username, day, variant))
            return hit
        return await self._read(username, date, day, variant)

    def body(self, username: str, document: Document, variant: str) -> bytes:
        """The document's body, for a client that does not accept gzip: inflated from its
        copy, and kept for the next such read while there is room to spare."""
        key = (username, document.date, variant)
        held = self._bodies.get(key)
        if held is not None:
            self._bodies.move_to_end(key)
            return held
        body = document.body
        # A document read before the cache started over, or since evicted, is not kept.
        if self._entries.get(key) is document:
            self._keep_body(key, body)
        return body

    async def _read(
        self, username: str, date: dt.date | None, day: dt.date | None, variant: str
    ) -> Document:
        """The document read from the database (on `day`, or the latest), and stored."""
        generation = self._generation
        found = await documents.read_document(self._database, username, day, variant)
        # A read that began before the cache started over may have found what is gone now.
        if generation == self._generation:
            if date is None and day is None:
                self._remember_latest(username, found.date)
            self._store((username, found.date, variant), found)
        return found

    async def _revalidate(self) -> None:
        now = self._clock()
        # Stamped before the query, so concurrent requests don't ask too, and a change that
        # committed before this moment is seen by the query.
        self._checked_at = now
        marker = await self._database.run(documents.change_marker)
        if marker != self._marker:
            self.clear()
            self._marker = marker

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._bodies.clear()
        self._latest.clear()
        self._used = self._bodies_used = 0

    def _remember_latest(self, username: str, date: dt.date) -> None:
        if username in self._latest:
            self._latest[username] = date
            return
        if len(self._latest) >= LATEST_ENTRIES:
            self._used -= len(self._latest) * LATEST_OVERHEAD
            self._latest.clear()
        # Its bytes are the budget's too: a full map would otherwise sit beside it unseen.
        if self._make_room(LATEST_OVERHEAD):
            self._latest[username] = date
            self._used += LATEST_OVERHEAD

    def _keep_body(self, key: Key, body: bytes) -> None:
        """Keeps `body` in room no copy needs, making room among other bodies only."""
        cost = len(body) + BODY_OVERHEAD
        if self._used - self._bodies_used + cost > self._budget:
            return
        while self._used + cost > self._budget:
            self._evict_body()
        self._bodies[key] = body
        self._used += cost
        self._bodies_used += cost

    def _evict_body(self) -> None:
        _, evicted = self._bodies.popitem(last=False)
        cost = len(evicted) + BODY_OVERHEAD
        self._used -= cost
        self._bodies_used -= cost

    def _store(self, key: Key, document: Document) -> None:
        cost = document.size + ENTRY_OVERHEAD
        if key in self._entries or not self._make_room(cost):
            return
        self._entries[key] = document
        self._used += cost

    def _make_room(self, cost: int) -> bool:
        """Evicts bodies, then the least recently used documents, so `cost` more fits; False
        if it can't."""
        room = self._budget - len(self._latest) * LATEST_OVERHEAD
        if cost > room:
            return False
        while self._used + cost > self._budget and self._bodies:
            self._evict_body()
        while self._used + cost > self._budget:
            _, evicted = self._entries.popitem(last=False)
            self._used -= evicted.size + ENTRY_OVERHEAD
        return True
