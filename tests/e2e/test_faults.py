"""A bad night at Spotify over real HTTP: 429s, 5xx, slow and broken answers, a revocation.

The rate limits are tight (a dozen requests per one-second window, the client told the
window's length), so every run meets them many times over; none of it may cost a user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from db import queries
from db.database import Database
from db.models import User
from settings import Settings
from spotify_emulator import EmulatedUser, Faults, World
from spotify_models import TIME_RANGES
from tests.e2e.conftest import DAY, TOP, Emulator, Seen, configure, take_snapshots

pytestmark = pytest.mark.slow

# The emulator answers a 429 the moment it arrives; this absorbs the clock's granularity.
TOLERANCE = 0.05
# Short, so the slow answers the faults inject time out; tests without them wait as long as
# a fresh install (SPOTIFY_TIMEOUT), or a loaded machine's stalls would fail their users.
TIMEOUT = 0.5
PATIENT = 10.0

# One request at a time: then nothing is on the wire when a 429 is written, and any request
# that arrives before its Retry-After has passed was sent after the client had read it.
ONE_AT_A_TIME = 1

WINDOW = 1.0
STORMY = Faults(
    seed=11,
    throttle_first=2,
    retry_after=1,
    rate_limit=12,
    rate_limit_window=WINDOW,
    error_rate=0.04,
    slow_rate=0.01,
    slow_delay=TIMEOUT * 3,
)
# 429s that announce nothing: the client backs off on its own and paces itself.
SILENT = Faults(
    seed=13,
    rate_limit=10,
    rate_limit_window=WINDOW,
    omit_retry_after=True,
    latency=0.01,
    error_rate=0.03,
    slow_rate=0.01,
    slow_delay=TIMEOUT * 3,
)


def early_requests(seen: list[Seen]) -> list[str]:
    """Each request that arrived before the Retry-After of an earlier 429 had passed."""
    api = [s for s in seen if s.path.startswith("/v1")]
    early = []
    for index, refusal in enumerate(api):
        if refusal.status != 429 or refusal.retry_after is None:
            continue
        until = refusal.time + refusal.retry_after - TOLERANCE
        early += [
            f"{later.method} {later.path} {later.time - refusal.time:.3f} s after a 429 "
            f"on {refusal.path} with Retry-After {refusal.retry_after:g}"
            for later in api[index + 1 :]
            if later.time < until
        ]
    return early


def top_track_ids(database: Database, username: str) -> dict[str, list[str]]:
    ref = database.run_sync(queries.find_snapshot, username, DAY)
    return {
        r: [item["id"] for item in database.run_sync(queries.top_items, ref.id, "tracks", r)]
        for r in TIME_RANGES
    }


def assert_complete(database: Database, users: list[EmulatedUser]) -> None:
    for user in users:
        expected = {r: user.top_tracks[r][:TOP] for r in TIME_RANGES}
        assert top_track_ids(database, user.id) == expected, user.id


@pytest.fixture
def night(
    settings: Settings,
    register_users: list[str],
    emulator: Callable[..., Emulator],
    world: World,
    encryption_key: str,
    features_csv: Path,
    only_reads_time_out: None,
) -> Callable[..., tuple[Emulator, Settings]]:
    """An emulator with these faults, and development-mode settings pointing at it."""

    def make(
        faults: Faults, concurrency: int = 8, timeout: float = TIMEOUT
    ) -> tuple[Emulator, Settings]:
        server = emulator("development", faults)
        configured = configure(
            settings,
            server,
            world,
            encryption_key,
            spotify_timeout=timeout,
            spotify_max_concurrency=concurrency,
            audio_features_sources=("csv",),
            audio_features_csv=features_csv,
            spotify_rate_window=WINDOW,
            # The recommender's discovery calls would only lengthen the night: the limits
            # bite on the listening calls all the same.
            recommendation_sources=("csv", "co-listeners"),
        )
        return server, configured

    return make


async def test_nothing_leaves_before_retry_after_and_healthy_users_complete(
    night: Callable[..., tuple[Emulator, Settings]], database: Database, world: World
) -> None:
    revoked, *healthy = world.users[3:6]
    server, configured = night(STORMY, concurrency=ONE_AT_A_TIME)
    server.revoke(revoked.id)

    summary = await take_snapshots(configured, [revoked.id, *(u.id for u in healthy)])

    seen = server.log.seen
    assert {"rate_limited", "error"} <= {r.fault for r in server.requests}
    assert any(s.status == 429 and s.retry_after for s in seen)
    assert early_requests(seen) == []
    assert summary.reauth_required == [revoked.id]
    assert summary.failed == {}
    assert summary.rate_limited == {}
    assert sorted(summary.ok) == sorted(u.id for u in healthy)
    assert_complete(database, healthy)
    status = database.run_sync(lambda: User.get(User.username == revoked.id).status)
    assert status == User.REAUTH_REQUIRED


async def test_a_broken_body_does_not_cost_a_user_their_snapshot(
    night: Callable[..., tuple[Emulator, Settings]], database: Database, world: World
) -> None:
    server, configured = night(Faults(seed=5, malformed_rate=0.02), timeout=PATIENT)

    summary = await take_snapshots(configured)

    assert any(r.fault == "malformed" for r in server.requests)
    assert summary.failed == {}
    assert (summary.reauth_required, summary.rate_limited, summary.needs_attention) == ([], {}, {})
    assert sorted(summary.ok) == sorted(u.id for u in world.users)
    assert_complete(database, world.users)


async def test_a_token_endpoint_slower_than_the_timeout_costs_no_user_their_login(
    night: Callable[..., tuple[Emulator, Settings]], database: Database, world: World
) -> None:
    # Every refresh rotates the refresh token, and every answer comes after SPOTIFY_TIMEOUT:
    # a client that gave up on one would lose the only token that still works.
    users = [u.id for u in world.users[:2]]
    server, configured = night(
        Faults(
            targets=("/accounts/api/token",),
            slow_rate=1.0,
            slow_delay=TIMEOUT * 3,
            rotate_refresh_every=1,
        )
    )

    first = await take_snapshots(configured, users)
    # The next night refreshes with the token the first one stored.
    second = await take_snapshots(configured, users, DAY + dt.timedelta(days=1))

    for summary in (first, second):
        assert (summary.failed, summary.reauth_required) == ({}, [])
        assert sorted(summary.ok) == sorted(users)
    # Not one refresh was retried with a token a rotation had already retired.
    assert {r.status for r in server.requests if r.path == "/accounts/api/token"} == {200}


async def test_429s_without_retry_after_under_a_tight_limit_cost_no_user(
    night: Callable[..., tuple[Emulator, Settings]], database: Database, world: World
) -> None:
    revoked, *healthy = world.users
    server, configured = night(SILENT, concurrency=8)
    server.revoke(revoked.id)

    summary = await take_snapshots(configured)

    refusals = [s for s in server.log.seen if s.status == 429]
    assert len(refusals) >= 2, "the limit never bit"
    assert all(s.retry_after is None for s in refusals)
    assert any(r.fault == "error" for r in server.requests)
    assert summary.failed == {}
    assert summary.rate_limited == {}
    assert summary.reauth_required == [revoked.id]
    assert sorted(summary.ok) == sorted(u.id for u in healthy)
    assert_complete(database, healthy)
