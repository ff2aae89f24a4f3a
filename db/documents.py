"""Snapshot documents: each response of a snapshot, rendered once, stored as bytes.

A dated snapshot never changes, so its responses are rendered in the transaction that writes
it (recommendations with clusters, clusters, each top-items list and statistics) and stored
with their ETag and a gzip copy. A read then looks up bytes by (user, date, variant).

When a change alters a response's shape, bump FORMAT_VERSION and append a step to
`db.migrations.MIGRATIONS` (so `serve` asks for `migrate`); `migrate` re-renders every
document of an older version from the stored rows, and only then do the ETags change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterable
from typing import Any, cast

import orjson
import peewee as pw
from isal import isal_zlib

from db import history, queries
from db.database import Database
from db.models import Snapshot, SnapshotDocument, User
from db.queries import SnapshotRef
from spotify_models import ITEM_TYPES, TIME_RANGES

FORMAT_VERSION = 1

RECOMMENDATIONS = "recommendations"
CLUSTERS = "clusters"
STATISTICS = "statistics"


def top_items_variant(item_type: str, time_range: str) -> str:
    return f"top-items:{item_type}:{time_range}"


# zlib's window bits for a gzip stream (a header and trailer around deflate).
GZIP_WBITS = 16 + zlib.MAX_WBITS


# The most inflate allocates up front from a copy's own word of its length.
_MOST_PRESIZED = 1 << 24


def inflate(copy: bytes) -> bytes:
    """The body of a stored gzip copy.

    ISA-L's inflate, not zlib's: a plain client's dated read inflates on every request (the
    cache holds copies only), and for a 21 kB body it took 27 us of CPU against zlib's 45
    (BENCHMARKS.md, api), on the one core a worker's loop has.
    """
    # A gzip trailer ends with the body's length (mod 2**32): a buffer one byte longer takes
    # the body in one allocation. Left to itself ISA-L fills a 32 kB block and shrinks it to
    # fit; under the archive the 11 kB freed each time went to longer-lived allocations and
    # a serving process peaked at 187 MB instead of 141 (target 164).
    declared = int.from_bytes(copy[-4:], "little")
    return isal_zlib.decompress(copy, GZIP_WBITS, min(declared + 1, _MOST_PRESIZED))


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """A stored response: its snapshot's date, strong ETag, gzip copy, and body when held.

    A reader fetches and keeps only the gzip copy, an eighth of the body's size, so a cache
    of a given size holds eight times the documents. The body is inflated on demand for the
    rare client that does not accept gzip: decompressing is cheap, and no request compresses.
    """

    date: dt.date
    etag: str
    gzip: bytes
    plain: bytes | None = None

    @property
    def body(self) -> bytes:
        if self.plain is not None:
            return self.plain
        return inflate(self.gzip)

    @property
    def size(self) -> int:
        """The bytes it holds."""
        return len(self.gzip) + (len(self.plain) if self.plain is not None else 0)


class SnapshotReads:
    """What a snapshot's documents read from its rows, each read once and shared.

    The recommendations and clusters documents both show the clusters, and the six top-items
    documents come from two queries: rendering a snapshot's documents is part of writing it.
    """

    def __init__(self, ref: SnapshotRef) -> None:
        self.ref = ref
        # On the instance, not functools.cache on the method: that cache is the class's, and
        # kept every snapshot's reads for the life of the process (a night grew by each user).
        self._top_items: dict[str, dict[str, list[dict[str, Any]]]] = {}

    @functools.cached_property
    def clusters(self) -> list[dict[str, Any]]:
        return queries.clusters(self.ref.id)

    def top_items(self, item_type: str) -> dict[str, list[dict[str, Any]]]:
        if item_type not in self._top_items:
            self._top_items[item_type] = queries.top_items_by_range(self.ref.id, item_type)
        return self._top_items[item_type]


def _recommendations(reads: SnapshotReads) -> dict[str, Any]:
    ref = reads.ref
    picks = queries.recommendations(ref.id)
    return {
        "username": ref.username,
        "date": ref.date.isoformat(),
        "generated_at": queries.iso_utc(ref.generated_at),
        "source": ref.recommendation_source,
        "features_source": ref.features_source,
        **queries.recommendation_mix(picks),
        "recommendations": picks,
        "clusters": reads.clusters,
    }


def _clusters(reads: SnapshotReads) -> dict[str, Any]:
    ref = reads.ref
    return {
        "username": ref.username,
        "date": ref.date.isoformat(),
        "features_source": ref.features_source,
        "note": ref.clusters_note,
        "clusters": reads.clusters,
    }


def _top_items(item_type: str, time_range: str) -> Callable[[SnapshotReads], dict[str, Any]]:
    def render(reads: SnapshotReads) -> dict[str, Any]:
        return {
            "username": reads.ref.username,
            "date": reads.ref.date.isoformat(),
            "type": item_type,
            "time_range": time_range,
            "items": reads.top_items(item_type).get(time_range, []),
        }

    return render


def _statistics(reads: SnapshotReads) -> dict[str, Any]:
    return history.snapshot_statistics(reads.ref)


RENDERERS: dict[str, Callable[[SnapshotReads], dict[str, Any]]] = {
    RECOMMENDATIONS: _recommendations,
    CLUSTERS: _clusters,
    STATISTICS: _statistics,
    **{
        top_items_variant(item_type, time_range): _top_items(item_type, time_range)
        for item_type in ITEM_TYPES
        for time_range in TIME_RANGES
    },
}


def _etag(ref: SnapshotRef, body: bytes) -> str:
    # A forced redo changes generated_at; a new format version changes the tag even where
    # the bytes happen to stay the same, so clients revalidate once after a re-render.
    stamp = f"{ref.generated_at.isoformat()}|{FORMAT_VERSION}|".encode()
    return '"' + hashlib.sha256(stamp + body).hexdigest()[:32] + '"'


def render(ref: SnapshotRef, variant: str, reads: SnapshotReads | None = None) -> Document:
    """One response of the snapshot, rendered from its stored rows (`reads`, when shared)."""
    body = orjson.dumps(RENDERERS[variant](reads or SnapshotReads(ref)))
    return Document(ref.date, _etag(ref, body), gzip.compress(body, 9, mtime=0), body)


def _ref_of(snapshot_id: int) -> tuple[SnapshotRef, int]:
    row = (
        Snapshot.select(
            Snapshot.id,
            User.username,
            Snapshot.date,
            Snapshot.generated_at,
            Snapshot.recommendation_source,
            Snapshot.features_source,
            Snapshot.clusters_note,
            Snapshot.user,
        )
        .join(User)
        .where(Snapshot.id == snapshot_id)
        .tuples()
        .get()
    )
    columns = cast(tuple[Any, ...], row)
    return SnapshotRef(*columns[:-1]), int(columns[-1])


def render_snapshot(snapshot_id: int) -> None:
    """(Re)write every document of the snapshot; run inside the transaction that wrote it."""
    ref, user_id = _ref_of(snapshot_id)
    reads = SnapshotReads(ref)
    rows = [
        {
            "snapshot": snapshot_id,
            "user": user_id,
            "date": ref.date,
            "variant": variant,
            "format_version": FORMAT_VERSION,
            "etag": document.etag,
            "body": document.body,
            "gzip": document.gzip,
        }
        for variant in RENDERERS
        for document in (render(ref, variant, reads),)
    ]
    with SnapshotDocument._meta.database.atomic():
        SnapshotDocument.delete().where(SnapshotDocument.snapshot == snapshot_id).execute()
        # Two readers may render a snapshot that lacks documents at once: the first one wins.
        SnapshotDocument.insert_many(rows).on_conflict_ignore().execute()


def outdated_snapshots() -> list[int]:
    """Complete snapshots lacking a document of the current format version."""
    current = SnapshotDocument.select(pw.fn.COUNT(SnapshotDocument.id)).where(
        (SnapshotDocument.snapshot == Snapshot.id)
        & (SnapshotDocument.format_version == FORMAT_VERSION)
    )
    query = (
        Snapshot.select(Snapshot.id)
        .where((Snapshot.status == Snapshot.COMPLETE) & (current < len(RENDERERS)))
        .order_by(Snapshot.id)
        .tuples()
    )
    return [snapshot_id for (snapshot_id,) in cast(Iterable[tuple[int]], query)]


def render_outdated() -> int:
    """Render the documents of every snapshot that lacks current ones; returns how many."""
    outdated = outdated_snapshots()
    for snapshot_id in outdated:
        render_snapshot(snapshot_id)
    return len(outdated)


# Stand-ins for the look-up's values while Peewee compiles it once.
_USERNAME, _VARIANT, _DATE = "\x00username", "\x00variant", dt.date(1, 1, 1)


def _lookup(dated: bool) -> pw.ModelSelect[Any]:
    query = (
        SnapshotDocument.select(SnapshotDocument.date, SnapshotDocument.etag, SnapshotDocument.gzip)
        .join(User)
        .where((User.username == _USERNAME) & (SnapshotDocument.variant == _VARIANT))
    )
    if dated:
        return query.where(SnapshotDocument.date == _DATE)
    # Documents are written with their snapshot and go with it: the latest document is the
    # latest complete snapshot's.
    return query.order_by(SnapshotDocument.date.desc()).limit(1)


@functools.cache
def _lookup_sql(dialect: str, dated: bool) -> tuple[str, tuple[Any, ...]]:
    """The look-up's SQL and parameters (stand-ins among them) for the `dialect` bound now.

    Compiled once: a cache miss is one index look-up, and compiling the same statement
    through Peewee on every miss cost the server more Python than serving a hit.
    """
    sql, params = _lookup(dated).sql()
    return sql, tuple(params)


def _lookup_statement(username: str, date: dt.date | None, variant: str) -> tuple[str, list[Any]]:
    """The look-up's SQL and parameters for the database bound now."""
    database = SnapshotDocument._meta.database
    dialect = type(getattr(database, "obj", database)).__name__
    sql, template = _lookup_sql(dialect, date is not None)
    values = {_USERNAME: username, _VARIANT: variant, _DATE: date}
    return sql, [values.get(param, param) for param in template]


def _document(row: tuple[Any, ...]) -> Document:
    day, etag, zipped = row
    return Document(SnapshotDocument.date.python_value(day), etag, bytes(zipped))


def _stored(username: str, date: dt.date | None, variant: str) -> Document | None:
    """The stored document on `date`, or the latest one: one query, by the unique index.

    Only the gzip copy is read: an eighth of the bytes to fetch, and all a reader keeps.
    """
    sql, params = _lookup_statement(username, date, variant)
    row = SnapshotDocument._meta.database.execute_sql(sql, params).fetchone()
    return _document(row) if row is not None else None


def find_document(username: str, date: dt.date | None, variant: str) -> Document:
    """The stored response of the user's snapshot on `date` (their latest when None).

    Raises UnknownUser or SnapshotNotFound. A complete snapshot without documents (written
    before they existed, and not yet migrated) gets them now, so its answer is frozen too.
    """
    stored = _stored(username, date, variant)
    if stored is not None:
        return stored
    return _unstored_document(username, date, variant)


def _unstored_document(username: str, date: dt.date | None, variant: str) -> Document:
    """`find_document` once its look-up found no stored row: the snapshot's, rendered now
    if it has none. Raises UnknownUser or SnapshotNotFound."""
    ref = queries.find_snapshot(username, date)
    # Read again by the snapshot's date before rendering, which is a write: its documents
    # may have come since the look-up (a snapshot just written, another reader's render).
    stored = _stored(username, ref.date, variant)
    if stored is None:
        render_snapshot(ref.id)
        stored = _stored(username, ref.date, variant)
    assert stored is not None, "render_snapshot writes every variant"
    return stored


async def read_document(
    database: Database, username: str, date: dt.date | None, variant: str
) -> Document:
    """`find_document` for a server: the stored row is read on the event loop where the
    database allows it (PostgreSQL), without a thread; anything else goes to a thread."""
    if database.reads_on_loop:
        row = await database.fetch_row(*_lookup_statement(username, date, variant))
        if row is None:
            # Not looked up again in the thread: a 404 (an unknown user or date) is cheap.
            return await database.run(_unstored_document, username, date, variant)
        return _document(row)
    return await database.run(find_document, username, date, variant)


def change_marker() -> tuple[Any, ...]:
    """A cheap value that changes whenever a snapshot, a document or a user comes or goes."""
    aggregates = (
        # SQLite may give a redone snapshot its old id again; its generated_at is new.
        Snapshot.select(
            pw.fn.COUNT(Snapshot.id), pw.fn.MAX(Snapshot.id), pw.fn.MAX(Snapshot.generated_at)
        ),
        User.select(pw.fn.COUNT(User.id), pw.fn.MAX(User.id)),
        SnapshotDocument.select(pw.fn.MAX(SnapshotDocument.id)),
    )
    values: list[Any] = []
    for query in aggregates:
        values.extend(cast(tuple[Any, ...], query.tuples().get()))
    return tuple(values)
