"""Issued OAuth login states: recorded when a login starts, consumed once by its callback."""

from __future__ import annotations

import dataclasses
import datetime as dt

from db.models import OAuthState


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
    """Remember a new login state; states that expired are purged on the way."""
    OAuthState.delete().where(OAuthState.expires_at <= now).execute()
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
