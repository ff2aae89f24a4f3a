"""History polling against the emulator over real HTTP, with listening simulated on its clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, cast

import pytest

from db.database import Database
from db.models import HistoryGap, Play, User
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from jobs.history_poll import HistoryPoller
from metrics import HISTORY_GAPS, HISTORY_POLLS
from spotify_client import MemoryCapabilityStore, SpotifyClient, create_http_client
from spotify_emulator import Faults, World, create_app
from spotify_emulator.server import BackgroundServer
from spotify_emulator.state import EmulatorState
from tests.spotify_emulator.helpers import VirtualClock

HOUR = 3600


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(seed=7)


@pytest.fixture
def clock(world: World) -> VirtualClock:
    """The emulator's clock, starting at the world's present (in the past of the real one)."""
    virtual = VirtualClock()
    virtual.now = world.now.timestamp()
    return virtual


@pytest.fixture(params=["development", "extended"])
def emulator(
    request: pytest.FixtureRequest, world: World, clock: VirtualClock
) -> Iterator[tuple[BackgroundServer, EmulatorState]]:
    """The emulator (each kind of app) on a real socket, its clock virtual so listening
    accrues when told to."""
    app = create_app(world, request.param, clock=clock, sleep=clock.sleep)
    server = BackgroundServer(app, name="emulator-history-poll")
    server.start()
    try:
        yield server, app.state.emulator
    finally:
        server.stop()


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher([generate_key()])


@pytest.fixture
def users(database: Database, world: World, cipher: TokenCipher) -> dict[str, int]:
    """Two registered users of the world: username -> user id."""
    for user in world.users[:2]:
        database.run_sync(save_user_token, user.id, cipher.encrypt(user.refresh_token))
    rows = database.run_sync(lambda: list(User.select(User.username, User.id).tuples()))
    return dict(cast(list[tuple[str, int]], rows))


@pytest.fixture
async def poller(
    database: Database,
    world: World,
    cipher: TokenCipher,
    emulator: tuple[BackgroundServer, EmulatorState],
) -> AsyncIterator[HistoryPoller]:
    server, _ = emulator

    async def no_wait(_: float) -> None:
        return None

    async with create_http_client(5.0) as http:
        spotify = SpotifyClient(
            http,
            client_id=world.client_id,
            client_secret=world.client_secret,
            api_url=f"{server.base_url}/v1",
            accounts_url=f"{server.base_url}/accounts",
            capability_store=MemoryCapabilityStore(),
            sleep=no_wait,
        )
        yield HistoryPoller(database, spotify, cipher)


def _stored(database: Database, user_id: int) -> list[tuple[str, dt.datetime]]:
    query = (
        Play.select(Play.track, Play.played_at)
        .where(Play.user == user_id)
        .order_by(Play.played_at.desc())
        .tuples()
    )
    return database.run_sync(lambda: list(cast(Iterable[tuple[str, dt.datetime]], query)))


def _naive(plays: Iterable[tuple[str, dt.datetime]]) -> list[tuple[str, dt.datetime]]:
    return [(track, at.astimezone(dt.UTC).replace(tzinfo=None)) for track, at in plays]


def _counted(counter: Any) -> float:
    return float(counter._value.get())


def _gaps(database: Database, user_id: int) -> list[tuple[Any, ...]]:
    query = HistoryGap.select(HistoryGap.starts_at, HistoryGap.ends_at).where(
        HistoryGap.user == user_id
    )
    return database.run_sync(lambda: list(cast(Iterable[tuple[Any, ...]], query.tuples())))


async def test_polls_store_each_play_once_as_listening_goes_on(
    database: Database,
    world: World,
    clock: VirtualClock,
    emulator: tuple[BackgroundServer, EmulatorState],
    users: dict[str, int],
    poller: HistoryPoller,
) -> None:
    _, state = emulator
    user = world.users[0]
    first = await poller.poll(users[user.id])
    state.simulate_listening(200, [user.id])  # a play every 7.2 minutes
    clock.advance(HOUR)
    second = await poller.poll(users[user.id])
    again = await poller.poll(users[user.id])

    truth = _naive(state.recent(user.id))
    assert first.added == min(50, len(user.recent))
    assert second.added == 8
    assert again.added == 0
    assert _stored(database, users[user.id]) == truth[: first.added + 8]
    assert _gaps(database, users[user.id]) == []


async def test_a_poll_after_more_than_50_plays_records_the_gap(
    database: Database,
    world: World,
    clock: VirtualClock,
    emulator: tuple[BackgroundServer, EmulatorState],
    users: dict[str, int],
    poller: HistoryPoller,
) -> None:
    _, state = emulator
    user = world.users[1]
    await poller.poll(users[user.id])
    newest_before = _stored(database, users[user.id])[0][1]
    state.simulate_listening(240, [user.id])  # a play every 6 minutes
    clock.advance(12 * HOUR)  # 120 plays: Spotify shows the last 50
    gaps_counted, polls_counted = _counted(HISTORY_GAPS), _counted(HISTORY_POLLS.labels("ok"))
    outcome = await poller.poll(users[user.id])

    stored = _stored(database, users[user.id])
    assert (_counted(HISTORY_GAPS), _counted(HISTORY_POLLS.labels("ok"))) == (
        gaps_counted + 1,
        polls_counted + 1,
    )
    assert outcome.added == 50
    assert stored[:50] == _naive(state.recent(user.id))[:50]
    assert _gaps(database, users[user.id]) == [(newest_before, stored[49][1])]


async def test_a_failed_poll_is_reported_and_the_next_one_catches_up(
    database: Database,
    world: World,
    clock: VirtualClock,
    emulator: tuple[BackgroundServer, EmulatorState],
    users: dict[str, int],
    poller: HistoryPoller,
) -> None:
    _, state = emulator
    user = world.users[0]
    await poller.poll(users[user.id])
    state.simulate_listening(200, [user.id])
    clock.advance(HOUR)
    state.set_faults(Faults(error_rate=1.0, error_status=503))
    counted = _counted(HISTORY_POLLS.labels("failed"))
    failed = await poller.poll(users[user.id])
    assert _counted(HISTORY_POLLS.labels("failed")) == counted + 1
    state.set_faults(Faults())
    caught_up = await poller.poll(users[user.id])

    assert failed.added == 0
    assert failed.error is not None
    assert caught_up.added == 8


async def test_a_revoked_user_is_marked_and_no_longer_polled(
    database: Database,
    world: World,
    emulator: tuple[BackgroundServer, EmulatorState],
    users: dict[str, int],
    poller: HistoryPoller,
) -> None:
    _, state = emulator
    revoked, other = world.users[0], world.users[1]
    state.revoke(revoked.id)
    counted = _counted(HISTORY_POLLS.labels("reauth_required"))
    outcome = await poller.poll(users[revoked.id])
    assert _counted(HISTORY_POLLS.labels("reauth_required")) == counted + 1
    polled = await poller.poll_all()

    status = database.run_sync(lambda: User.get_by_id(users[revoked.id]).status)
    assert outcome.skipped == "re-authorisation required"
    assert status == User.REAUTH_REQUIRED
    assert [p.user_id for p in polled] == [users[other.id]]
    assert _stored(database, users[revoked.id]) == []
