"""Registered users: validation, creation, listing and removal. Returns dicts, never rows."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, cast

import peewee as pw

from db.local_time import zone_named
from db.models import Snapshot, User, utcnow
from db.transactions import write_transaction

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
USERNAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# Spotify ends a refresh token six months after consent; warn a month ahead.
TOKEN_LIFETIME_MONTHS = 6
TOKEN_WARNING_MONTHS = 5
_SLUG_MAX = 56  # leaves room for a "-NNNNNNN" suffix within 64 characters
_SLUG_JUNK = re.compile(r"[^A-Za-z0-9_.-]+")
_LOGIN_ATTEMPTS = 2


class InvalidUsername(ValueError):
    """A username that breaks USERNAME_RULE."""


class UnknownUser(LookupError):
    """No registered user has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no user named {username[:64]!r}")
        self.username = username


class AccountConflict(ValueError):
    """The username or the Spotify account already belongs to someone else."""


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
    user = User.get_or_none(User.username == username)
    if account_id:
        _check_account_free(username, user, account_id)
    created = user is None
    if user is None:
        user = User(username=username)
    if account_id:
        user.spotify_account_id = account_id
    _store_fresh_token(user, encrypted_refresh_token, display_name)
    return created


def _store_fresh_token(user: User, encrypted_refresh_token: str, display_name: str | None) -> None:
    """A new consent: the token, its date (Spotify ends it six months on), an active user."""
    now = utcnow()
    user.refresh_token_encrypted = encrypted_refresh_token
    user.token_obtained_at = now
    user.status = User.ACTIVE
    user.status_reason = None
    user.updated_at = now
    if display_name:
        user.display_name = display_name
    user.save()


def _check_account_free(username: str, user: User | None, account_id: str) -> None:
    # Replacing a token must never silently swap whose listening a username holds.
    if user is not None and user.spotify_account_id not in (None, account_id):
        raise AccountConflict(
            f"user {username!r} is linked to another Spotify account; "
            "remove it first or choose another username"
        )
    holder = User.get_or_none(User.spotify_account_id == account_id)
    if holder is not None and holder.username != username:
        raise AccountConflict(
            f"this Spotify account is already registered as user {holder.username!r}"
        )


def slug_username(text: str) -> str:
    """`text` (e.g. a display name) turned into a valid username stem."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _SLUG_JUNK.sub("-", ascii_text.strip()).lower()
    slug = slug.lstrip("_.-")[:_SLUG_MAX].rstrip("_.-")
    return slug or "listener"


def unique_username(stem: str) -> str:
    """`stem` if free, else the first free of `stem-2`, `stem-3`…"""
    base = slug_username(stem)
    similar = User.select(User.username).where(
        (User.username == base) | User.username.startswith(base + "-")
    )
    taken = {user.username for user in similar}
    candidate, suffix = base, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


def save_spotify_login(
    account_id: str,
    display_name: str | None,
    encrypted_refresh_token: str,
    requested_username: str | None = None,
) -> tuple[str, bool]:
    """Create or update the user linked to this Spotify account; (username, created).

    Two callbacks may race for one username or one account: the loser's insert breaks a
    unique index, and it checks again, now seeing the winner's row (a taken name is an
    AccountConflict, the same account is updated).
    """
    for _ in range(_LOGIN_ATTEMPTS):
        try:
            return _save_login(
                account_id, display_name, encrypted_refresh_token, requested_username
            )
        except pw.IntegrityError:
            continue
    raise AccountConflict("another login for this name or account finished at the same moment")


def _save_login(
    account_id: str,
    display_name: str | None,
    encrypted_refresh_token: str,
    requested_username: str | None,
) -> tuple[str, bool]:
    with write_transaction():
        user = User.get_or_none(User.spotify_account_id == account_id)
        created = user is None
        if user is None:
            user = User(username=_new_username(requested_username, display_name, account_id))
            user.spotify_account_id = account_id
        _store_fresh_token(user, encrypted_refresh_token, display_name)
    return user.username, created


def _new_username(requested: str | None, display_name: str | None, account_id: str) -> str:
    if not requested:
        return unique_username(display_name or account_id)
    validate_username(requested)
    if User.select().where(User.username == requested).exists():
        raise AccountConflict(f"the username {requested!r} is taken; choose another")
    return requested


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last_day in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, last_day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def token_life(obtained_at: dt.datetime | None, today: dt.date) -> dict[str, Any]:
    """Age of the refresh token, when Spotify will end it, and whether that is near."""
    if obtained_at is None:
        return {"token_age_days": None, "token_expiring": False, "token_expires_on": None}
    obtained = obtained_at.date()
    return {
        "token_age_days": (today - obtained).days,
        "token_expiring": today >= _add_months(obtained, TOKEN_WARNING_MONTHS),
        "token_expires_on": _add_months(obtained, TOKEN_LIFETIME_MONTHS),
    }


def get_user(username: str) -> dict[str, Any]:
    """One user's account facts and last complete snapshot; UnknownUser if none."""
    user = User.get_or_none(User.username == username)
    if user is None:
        raise UnknownUser(username)
    last = (
        Snapshot.select(pw.fn.MAX(Snapshot.date))
        .where(Snapshot.user == user, Snapshot.status == Snapshot.COMPLETE)
        .scalar()
    )
    return {
        "username": user.username,
        "display_name": user.display_name,
        "status": user.status,
        "timezone": user.timezone,
        "status_reason": user.status_reason,
        "public": user.public,
        "last_snapshot": _as_date(last),
        "token_obtained_at": user.token_obtained_at,
    }


def rotate_tokens(rotate: Callable[[str], str]) -> int:
    """Rewrite every stored token through `rotate` in one transaction; how many."""
    with User._meta.database.atomic():
        users = list(
            User.select(User.username, User.refresh_token_encrypted).where(
                User.refresh_token_encrypted.is_null(False)
            )
        )
        for user in users:
            rotated = rotate(str(user.refresh_token_encrypted))
            User.update(refresh_token_encrypted=rotated).where(
                User.username == user.username
            ).execute()
    return len(users)


def _last_snapshot_dates() -> dict[int, dt.date]:
    query = (
        Snapshot.select(Snapshot.user, pw.fn.MAX(Snapshot.date))
        .where(Snapshot.status == Snapshot.COMPLETE)
        .group_by(Snapshot.user)
        .tuples()
    )
    return dict(cast(Iterable[tuple[int, dt.date]], query))


def list_users() -> list[dict[str, Any]]:
    """Every user with status and the date of their last complete snapshot."""
    last = _last_snapshot_dates()
    return [
        {
            "username": user.username,
            "status": user.status,
            "status_reason": user.status_reason,
            "public": user.public,
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


def set_user_status(user_id: int, status: str, reason: str | None = None) -> None:
    """Record a status the snapshot pipeline learned (e.g. Spotify refused the token), and
    why, with what to do."""
    if status not in User.STATUSES:
        raise ValueError(f"unknown status {status!r}")
    User.update(status=status, status_reason=reason, updated_at=utcnow()).where(
        User.id == user_id
    ).execute()


def clear_attention(user_id: int) -> None:
    """A user who needed attention was snapshotted: Spotify's side was fixed."""
    User.update(status=User.ACTIVE, status_reason=None, updated_at=utcnow()).where(
        (User.id == user_id) & (User.status == User.NEEDS_ATTENTION)
    ).execute()


def set_user_timezone(username: str, timezone: str) -> str:
    """Set the zone the user's statistics count days and hours in; returns its name."""
    zone = zone_named(timezone)
    updated = (
        User.update(timezone=zone.key, updated_at=utcnow())
        .where(User.username == username)
        .execute()
    )
    if not updated:
        raise UnknownUser(username)
    return zone.key


def user_timezone(username: str) -> tuple[int, str]:
    """The user's id and time zone name; UnknownUser if none."""
    row = User.select(User.id, User.timezone).where(User.username == username).tuples().first()
    if row is None:
        raise UnknownUser(username)
    user_id, timezone = cast(tuple[int, str], row)
    return user_id, timezone


def set_user_public(username: str, public: bool) -> None:
    """Open the user's pages to everyone, or close them to all but the user and the admin."""
    updated = (
        User.update(public=public, updated_at=utcnow()).where(User.username == username).execute()
    )
    if not updated:
        raise UnknownUser(username)


def user_is_public(username: str) -> bool:
    """Whether the user's pages are open to everyone; False for a user that does not exist."""
    return User.select().where((User.username == username) & User.public).exists()


def session_is_current(username: str, started_at: dt.datetime) -> bool:
    """Whether a session `username` started at `started_at` (naive UTC) still counts.

    It does not once the user signed out after it started, and never did if the user was
    created after it: a removed user's session must not open a newcomer of the same name.
    """
    row = (
        User.select(User.created_at, User.signed_out_at)
        .where(User.username == username)
        .tuples()
        .first()
    )
    if row is None:
        return False
    created_at, signed_out_at = cast(tuple[dt.datetime, dt.datetime | None], row)
    return created_at <= started_at and (signed_out_at is None or started_at > signed_out_at)


def end_sessions(username: str, now: dt.datetime) -> None:
    """Sign the user out everywhere: every session started until `now` is over."""
    User.update(signed_out_at=now).where(User.username == username).execute()
