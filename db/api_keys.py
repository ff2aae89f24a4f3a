"""Scoped API keys: created with the users they may read, listed, revoked; kept as a hash.

Only a SHA-256 of a key is stored. A key is 256 random bits, so no dictionary or brute force
can find it from its hash, and a slow password hash (bcrypt, scrypt) would only cost every
request time without adding any safety; a plain hash also lets a request find its key by an
indexed look-up, with no comparison whose timing could leak anything about a stored key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, cast

from db.models import ApiKey, ApiKeyUser, User, utcnow
from db.runs import UnknownUsers
from db.transactions import write_transaction

KEY_PREFIX = "si_"  # says what a leaked string is, for people and secret scanners
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, not all digits"


class UnknownKey(LookupError):
    """No key has this id or name."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"no API key with id or name {reference[:64]!r}")


class InvalidKeyName(ValueError):
    """A key name breaks NAME_RULE, or another key has it."""


@dataclasses.dataclass(frozen=True)
class CreatedKey:
    """A new key: the only moment its secret exists outside the client that holds it."""

    id: int
    name: str | None
    users: tuple[str, ...]
    secret: str = dataclasses.field(repr=False)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _check_name(name: str) -> None:
    # An all-digit name would read as an id in `keys revoke ID|NAME`.
    if not NAME_PATTERN.fullmatch(name) or name.isdigit():
        raise InvalidKeyName(f"a key name is {NAME_RULE}; got {name[:64]!r}")
    if ApiKey.select().where(ApiKey.name == name).exists():
        raise InvalidKeyName(f"a key named {name!r} exists already")


def _user_ids(usernames: Iterable[str]) -> dict[str, int]:
    wanted = set(usernames)
    query = User.select(User.username, User.id).where(User.username.in_(wanted)).tuples()
    found: dict[str, int] = dict(query)  # type: ignore[arg-type]
    if missing := wanted - set(found):
        raise UnknownUsers(missing)
    return found


def create_key(usernames: Sequence[str], name: str | None = None) -> CreatedKey:
    """A new key reading exactly `usernames`; UnknownUsers or InvalidKeyName refuse it."""
    if not usernames:
        raise ValueError("a scoped key covers at least one user")
    with write_transaction():
        if name is not None:
            _check_name(name)
        ids = _user_ids(usernames)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey.create(name=name, digest=key_digest(secret))
        ApiKeyUser.insert_many([{"key": key.id, "user": uid} for uid in ids.values()]).execute()
    return CreatedKey(key.id, name, tuple(sorted(ids)), secret)


def _covered_users() -> dict[int, list[str]]:
    query = (
        ApiKeyUser.select(ApiKeyUser.key, User.username).join(User).order_by(User.username).tuples()
    )
    covered: dict[int, list[str]] = {}
    for key_id, username in cast(Iterable[tuple[int, str]], query):
        covered.setdefault(key_id, []).append(username)
    return covered


def list_keys() -> list[dict[str, Any]]:
    """Every key, revoked ones too, with the users it covers; never the key itself."""
    covered = _covered_users()
    return [
        {
            "id": key.id,
            "name": key.name,
            "users": covered.get(key.id, []),
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }
        for key in ApiKey.select().order_by(ApiKey.id)
    ]


def _find(reference: str) -> ApiKey:
    by = ApiKey.id == int(reference) if reference.isdigit() else ApiKey.name == reference
    key = ApiKey.get_or_none(by) if len(reference) <= 64 else None
    if key is None:
        raise UnknownKey(reference)
    return key


def revoke_key(reference: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Revoke the key with this id or name (again is harmless); its id, name, revoked_at."""
    with write_transaction():
        key = _find(reference)
        if key.revoked_at is None:
            key.revoked_at = now or utcnow()
            key.save()
    return {"id": key.id, "name": key.name, "revoked_at": key.revoked_at}


def key_users(secret: str) -> frozenset[str] | None:
    """The users `secret` may read; None when it is no key, or a revoked one."""
    key = ApiKey.get_or_none((ApiKey.digest == key_digest(secret)) & ApiKey.revoked_at.is_null())
    if key is None:
        return None
    query = User.select(User.username).join(ApiKeyUser).where(ApiKeyUser.key == key.id)
    return frozenset(user.username for user in query)


def any_keys() -> bool:
    """Whether a scoped key was ever created, revoked or not.

    Revoked keys count: revoking the last key must close the API to its holder, not open
    every user's data to everyone.
    """
    return bool(ApiKey.select().exists())
