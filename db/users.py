"""Registered users: validation, creation, listing and removal. Returns dicts, never rows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import peewee as pw

from db.models import Snapshot, User, utcnow

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
USERNAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


class InvalidUsername(ValueError):
    """A username that breaks USERNAME_RULE."""


class UnknownUser(LookupError):
    """No registered user has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no user named {username[:64]!r}")
        self.username = username


def validate_username(username: str) -> str:
    """Return the username if it follows USERNAME_RULE, else raise InvalidUsername."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidUsername(f"a username is {USERNAME_RULE}")
    return username


def save_user_token(
    username: str,
    encrypted_refresh_token: str,
    *,
    account_id: str | None = None,
    display_name: str | None = None,
) -> bool:
    """Create the user or replace their token (re-authorisation); True when created."""
    validate_username(username)
    now = utcnow()
    user = User.get_or_none(User.username == username)
    created = user is None
    if user is None:
        user = User(username=username, created_at=now)
    user.refresh_token_encrypted = encrypted_refresh_token
    user.token_obtained_at = now
    user.status = User.ACTIVE
    user.updated_at = now
    if account_id:
        user.spotify_account_id = account_id
    if display_name:
        user.display_name = display_name
    user.save()
    return created


def _last_snapshot_dates() -> dict[int, dt.date]:
    query = (
        Snapshot.select(Snapshot.user, pw.fn.MAX(Snapshot.date).alias("last"))
        .where(Snapshot.status == Snapshot.COMPLETE)
        .group_by(Snapshot.user)
    )
    return {row.user_id: row.last for row in query}


def list_users() -> list[dict[str, Any]]:
    """Every user with status and the date of their last complete snapshot."""
    last = _last_snapshot_dates()
    return [
        {
            "username": user.username,
            "status": user.status,
            "last_snapshot": _as_date(last.get(user.id)),
        }
        for user in User.select().order_by(User.username)
    ]


def _as_date(value: dt.date | str | None) -> dt.date | None:
    # SQLite hands back aggregate dates as text.
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def remove_user(username: str) -> None:
    """Delete the user and, through ON DELETE CASCADE, every row of their data."""
    deleted = User.delete().where(User.username == username).execute()
    if not deleted:
        raise UnknownUser(username)


def set_user_status(username: str, status: str) -> None:
    if status not in User.STATUSES:
        raise ValueError(f"unknown status {status!r}")
    updated = (
        User.update(status=status, updated_at=utcnow()).where(User.username == username).execute()
    )
    if not updated:
        raise UnknownUser(username)
