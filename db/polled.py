"""Polled plays: each stored once, and the windows a poll could not see recorded as gaps.

Spotify returns only the last RECENT_LIMIT plays. When a poll's page is full and even its
oldest play is newer than the newest play stored, plays in between may be lost: that window
is stored as a gap, so history and statistics can say so instead of hiding it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

import peewee as pw

from db.history_import import SAME_PLAY
from db.models import HistoryGap, Play, User, naive_utc, read_timestamp, utcnow
from metrics import HISTORY_GAPS
from spotify_models import PLAUSIBLE_AHEAD

RECENT_LIMIT = 50


def _newest_play(user_id: int) -> dt.datetime | None:
    # A play stored in the future (imports kept them before they were refused) would put
    # every later poll's `after` past anything Spotify can answer.
    plausible = Play.played_at <= utcnow() + PLAUSIBLE_AHEAD
    newest = (
        Play.select(pw.fn.MAX(Play.played_at)).where((Play.user == user_id) & plausible).scalar()
    )
    return read_timestamp(newest)


def poll_cursor(user_id: int) -> dt.datetime | None:
    """Where the next poll starts (`after`): the end of the newest play stored, naive UTC."""
    return _newest_play(user_id)


def users_to_poll() -> list[int]:
    """Active users with a stored token, by id; a user needing re-authorisation is left out."""
    query = User.select(User.id).where(
        (User.status == User.ACTIVE) & User.refresh_token_encrypted.is_null(False)
    )
    return [int(user_id) for user_id in cast(Iterable[Any], query.order_by(User.id).scalars())]


def _record_gap(user_id: int, returned: Sequence[dt.datetime], page_size: int) -> None:
    newest = _newest_play(user_id)
    oldest = min(returned)
    if len(returned) >= page_size and newest is not None and oldest > newest:
        HistoryGap.create(user=user_id, starts_at=newest, ends_at=oldest)
        HISTORY_GAPS.inc()


def _imported_nearby(user_id: int, moments: Sequence[dt.datetime]) -> set[tuple[str, Any]]:
    query = Play.select(Play.track, Play.played_at).where(
        (Play.user == user_id)
        & (Play.origin == Play.IMPORTED)
        & (Play.played_at >= min(moments) - SAME_PLAY)
        & (Play.played_at <= max(moments) + SAME_PLAY)
    )
    return set(cast(Iterable[tuple[str, Any]], query.tuples()))


def _already_imported(track_id: str, at: dt.datetime, imported: set[tuple[str, Any]]) -> bool:
    return any(t == track_id and abs(when - at) <= SAME_PLAY for t, when in imported)


def record_polled_plays(
    user_id: int, plays: Iterable[tuple[str, dt.datetime]], page_size: int = RECENT_LIMIT
) -> int:
    """Store a poll's plays once each (an imported play within SAME_PLAY is the same play),
    record a gap when the poll could not reach back to the history; returns plays added."""
    polled = [(track_id, naive_utc(at)) for track_id, at in plays]
    if not polled:
        return 0
    moments = [at for _, at in polled]
    # No enclosing transaction: on SQLite a read that later writes can fail as "database is
    # locked" while snapshot workers write; each statement below is atomic on its own.
    _record_gap(user_id, moments, page_size)
    imported = _imported_nearby(user_id, moments)
    rows = [
        {"user": user_id, "track": track_id, "played_at": at}
        for track_id, at in polled
        if not _already_imported(track_id, at, imported)
    ]
    if not rows:
        return 0
    before = Play.select().where(Play.user == user_id).count()
    Play.insert_many(rows).on_conflict_ignore().execute()
    return int(Play.select().where(Play.user == user_id).count()) - before


def gaps_overlapping(
    user_id: int, start: dt.datetime | None, end: dt.datetime | None
) -> list[tuple[dt.datetime, dt.datetime, dt.datetime]]:
    """The user's gaps that overlap [start, end), oldest first: (starts_at, ends_at, found_at)."""
    condition = HistoryGap.user == user_id
    if start is not None:
        condition &= HistoryGap.ends_at > start
    if end is not None:
        condition &= HistoryGap.starts_at < end
    query = (
        HistoryGap.select(HistoryGap.starts_at, HistoryGap.ends_at, HistoryGap.found_at)
        .where(condition)
        .order_by(HistoryGap.starts_at)
        .tuples()
    )
    return list(cast(Iterable[tuple[dt.datetime, dt.datetime, dt.datetime]], query))
