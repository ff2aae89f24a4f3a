"""Issued OAuth login states: recorded when a login starts, consumed once by its callback."""

from __future__ import annotations

import dataclasses
import datetime as dt

from db.models import OAuthState
from db.transactions import write_transaction

# Unused, unexpired states at most: past it, a login start is refused, whoever sends it.
MAX_LIVE_STATES = 1_000


class TooManyStates(RuntimeError):
    """MAX_LIVE_STATES logins are already in progress."""


class StateRejected(ValueError):
    """The state is unknown, expired or already used; the message says which, for the page."""


@dataclasses.dataclass(frozen=True)
class IssuedState:
    """What the login recorded: the username asked for, if any."""

    nonce: str = dataclasses.field(repr=False)
    username: str | None


def record_state(
    nonce: str, username: str | None, expires_at: dt.datetime, now: dt.datetime
) -> None:
    """Remember a new login state; states that expired are purged on the way.

    TooManyStates when MAX_LIVE_STATES are live: a flood of starts cannot grow the table.
    """
    with write_transaction():
        OAuthState.delete().where(OAuthState.expires_at <= now).execute()
        live = OAuthState.select().where(OAuthState.used_at.is_null()).count()
        if live >= MAX_LIVE_STATES:
            raise TooManyStates(f"{live} logins are in progress")
        OAuthState.create(nonce=nonce, username=username, expires_at=expires_at)


def consume_state(nonce: str, now: dt.datetime) -> IssuedState:
    """Mark the state used and return it; StateRejected unless it was live and unused."""
    # One conditional UPDATE: of two callbacks racing with the same state, exactly one wins.
    claimed = (
        OAuthState.update(used_at=now)
        .where(
            OAuthState.nonce == nonce,
            OAuthState.used_at.is_null(),
            OAuthState.expires_at > now,
        )
        .execute()
    )
    row = OAuthState.get_or_none(OAuthState.nonce == nonce)
    if row is None:
        raise StateRejected("this login link is unknown or has expired")
    if not claimed:
        if row.used_at is not None:
            raise StateRejected("this login link was already used")
        raise StateRejected("this login link has expired")
    return IssuedState(nonce=nonce, username=row.username)
