"""Each class of error the Spotify client maps, through the whole stack over real HTTP: what the
user's status becomes, what the snapshot records, what the run reports (issue 11)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from application import Settings, open_resources
from db.database import Database
from db.models import Capability, Play, Snapshot, User
from jobs.pipeline import NOT_ALLOWED, REFUSED_AFTER_REFRESH
from jobs.service import RunSummary
from spotify_client import RetryPolicy
from spotify_emulator import Faults, World
from tests.e2e.conftest import DAY, ApiServer, Emulator, configure

pytestmark = pytest.mark.slow

# Short, so the slow answers the timeout case injects time out. The other tests inject none
# and wait as long as a fresh install (SPOTIFY_TIMEOUT): on a loaded machine a stalled loop
# timed out answers the emulator had sent, and those tests count what the emulator saw.
TIMEOUT = 0.5
NIGHTS = [DAY + dt.timedelta(days=n) for n in range(3)]
Night = Callable[..., Awaitable[RunSummary]]


@pytest.fixture
def night(
    settings: Settings,
    register_users: list[str],
    world: World,
    encryption_key: str,
    features_csv: Path,
    only_reads_time_out: None,
) -> Callable[..., Night]:
    """Given an emulator, a function running one night's snapshots of some users."""

    def bind(server: Emulator, **overrides: Any) -> Night:
        options: dict[str, Any] = {
            "audio_features_sources": ("csv",),
            "audio_features_csv": features_csv,
            **overrides,
        }
        configured = configure(settings, server, world, encryption_key, **options)

        async def run(date: dt.date, usernames: list[str] | None = None) -> RunSummary:
            async with open_resources(configured) as resources:
                return await resources.snapshots.run(date, usernames, trigger="cli")

        run.settings = configured  # type: ignore[attr-defined]
        return run

    return bind


def _status(database: Database, username: str) -> tuple[str, str | None]:
    user = database.run_sync(lambda: User.get(User.username == username))
    return user.status, user.status_reason


def _tried(server: Emulator, username: str) -> bool:
    return any(s.user_id == username and s.path.startswith("/v1/") for s in server.log.seen)


async def _account(settings: Settings, username: str) -> dict[str, Any]:
    with ApiServer(settings) as served:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as api:
            answer = await api.get(f"/users/{username}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _most_attempts(server: Emulator, path: str) -> int:
    """The most times one request to `path` was sent, once the emulator has answered them all
    (a request the client gave up on is logged when its late answer leaves)."""
    deadline = time.monotonic() + 10 * TIMEOUT * 3
    while True:
        attempts = Counter(s.query for s in server.log.seen if s.path == path)
        most = max(attempts.values(), default=0)
        if most >= RetryPolicy().max_attempts or time.monotonic() > deadline:
            return most
        time.sleep(0.1)


def _refuse(server: Emulator, how: str, username: str, others: list[str]) -> None:
    if how == "unauthorized":
        server.set_faults(Faults(unauthorized_users=frozenset({username})))
    else:
        server.allow_list = others[:5]


def _lift(server: Emulator) -> None:
    server.set_faults(Faults())
    server.allow_list = None


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        pytest.param("unauthorized", REFUSED_AFTER_REFRESH, id="401-after-a-fresh-token"),
        pytest.param("allow-list", NOT_ALLOWED, id="403-not-on-the-allow-list"),
    ],
)
async def test_a_user_spotify_refuses_for_good_needs_attention_not_a_new_failure(
    night: Callable[..., Night],
    emulator: Callable[..., Emulator],
    database: Database,
    world: World,
    how: str,
    reason: str,
) -> None:
    server = emulator("development")
    run = night(server)
    # Every other user of the world fits on the allow-list (at most five, as Spotify's).
    refused, *others = [u.id for u in world.users]
    _refuse(server, how, refused, others)

    first = await run(NIGHTS[0], [refused, *others])
    assert first.needs_attention == {refused: reason}
    assert first.failed == {}
    assert first.succeeded
    assert sorted(first.ok) == sorted(others)
    assert _status(database, refused) == ("needs_attention", reason)
    account = await _account(run.settings, refused)  # type: ignore[attr-defined]
    assert (account["status"], account["status_reason"]) == ("needs_attention", reason)

    # Still tried the next night, still no failure.
    server.log.clear()
    second = await run(NIGHTS[1])
    assert _tried(server, refused)
    assert second.needs_attention == {refused: reason}
    assert second.failed == {}

    # Fixed on Spotify's side: the next night takes the snapshot and the user is active.
    _lift(server)
    third = await run(NIGHTS[2])
    assert refused in third.ok
    assert _status(database, refused) == ("active", None)


async def test_invalid_grant_means_reauth_required(
    night: Callable[..., Night], emulator: Callable[..., Emulator], database: Database, world: World
) -> None:
    server = emulator("development")
    revoked, other = world.users[0].id, world.users[1].id
    server.revoke(revoked)

    summary = await night(server)(DAY, [revoked, other])

    assert summary.reauth_required == [revoked]
    assert summary.ok == [other]
    assert summary.needs_attention == {}
    assert _status(database, revoked)[0] == "reauth_required"


async def test_a_403_on_one_user_endpoint_is_recorded_for_that_endpoint(
    night: Callable[..., Night], emulator: Callable[..., Emulator], database: Database, world: World
) -> None:
    server = emulator(
        "development",
        Faults(targets=("/v1/me/player/recently-played",), error_rate=1.0, error_status=403),
    )
    users = [u.id for u in world.users[:2]]

    summary = await night(server)(DAY, users)

    assert sorted(summary.ok) == sorted(users)
    skipped = database.run_sync(lambda: [s.skipped for s in Snapshot.select()])
    assert skipped == [{"/me/player/recently-played": {"refused by Spotify (403)": 1}}] * 2
    assert database.run_sync(lambda: Play.select().count()) == 0
    assert [_status(database, u) for u in users] == [("active", None)] * 2


async def test_a_404_on_a_removed_endpoint_closes_the_capability_for_a_day(
    night: Callable[..., Night], emulator: Callable[..., Emulator], database: Database, world: World
) -> None:
    server = emulator(
        "extended", Faults(targets=("/v1/audio-features",), error_rate=1.0, error_status=404)
    )
    run = night(server, audio_features_sources=("spotify", "csv"))
    users = [u.id for u in world.users[:3]]

    first = await run(NIGHTS[0], users)
    asked = [s for s in server.log.seen if s.path == "/v1/audio-features"]
    server.log.clear()
    second = await run(NIGHTS[1], users)

    assert sorted(first.ok) == sorted(users) == sorted(second.ok)
    # Snapshots running at once may each have asked before the first 404 came back.
    assert 1 <= len(asked) <= len(users)
    assert [s for s in server.log.seen if s.path == "/v1/audio-features"] == []
    closed = database.run_sync(lambda: [(c.name, c.available) for c in Capability.select()])
    assert ("audio_features", False) in closed
    sources = database.run_sync(lambda: [s.sources["features"] for s in Snapshot.select()])
    assert all(set(by_source) == {"csv"} for by_source in sources)


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        pytest.param(Faults(error_rate=1.0, error_status=503), "SpotifyUnavailable", id="5xx"),
        pytest.param(
            Faults(slow_rate=1.0, slow_delay=TIMEOUT * 3), "SpotifyUnavailable", id="timeout"
        ),
        pytest.param(Faults(malformed_rate=1.0), "MalformedResponse", id="truncated-body"),
    ],
)
async def test_failures_that_may_pass_are_retried_then_recorded(
    night: Callable[..., Night],
    emulator: Callable[..., Emulator],
    database: Database,
    world: World,
    faults: Faults,
    error: str,
) -> None:
    path = "/v1/me/top/artists"
    server = emulator("development", dataclasses.replace(faults, targets=(path,)))
    user = world.users[0].id

    timeout = {"spotify_timeout": TIMEOUT} if faults.slow_rate else {}
    summary = await night(server, **timeout)(DAY, [user])

    assert list(summary.failed) == [user]
    assert summary.failed[user].startswith(error)
    assert _most_attempts(server, path) == RetryPolicy().max_attempts
    # A passing glitch: the user stays active, and nothing half-done is stored.
    assert _status(database, user) == ("active", None)
    assert database.run_sync(lambda: Snapshot.select().count()) == 0
