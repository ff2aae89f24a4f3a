"""History polling against the emulator over real HTTP, with listening simulated on its clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, cast

import pytest

from db.database import Database
from db.models import HistoryGap, Play, User
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from jobs.history_poll import HistoryPoller, PollOutcome
from metrics import HISTORY_GAPS, HISTORY_POLLS
from spotify_client import MemoryCapabilityStore, SpotifyClient, create_http_client
from spotify_emulator import Faults, World, create_app
from spotify_emulator.model import EmulatedUser
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


def _naive(plays: Iterable[tuple[str, dt.datetime]]) -> list[tuple[str, dt.datetime]]:
    return [(track, at.astimezone(dt.UTC).replace(tzinfo=None)) for track, at in plays]


def _counted(counter: Any) -> float:
    return float(counter._value.get())


@dataclasses.dataclass
class Listening:
    """The emulator's state and clock, the registered users and the poller of one test."""

    database: Database
    world: World
    clock: VirtualClock
    state: EmulatorState
    users: dict[str, int]
    poller: HistoryPoller

    async def poll(self, user: EmulatedUser) -> PollOutcome:
        return await self.poller.poll(self.users[user.id])

    def stored(self, user: EmulatedUser) -> list[tuple[str, dt.datetime]]:
        """The user's stored plays, newest first."""
        query = (
            Play.select(Play.track, Play.played_at)
            .where(Play.user == self.users[user.id])
            .order_by(Play.played_at.desc())
            .tuples()
        )
        rows = self.database.run_sync(lambda: list(query))
        return list(cast(Iterable[tuple[str, dt.datetime]], rows))

    def gaps(self, user: EmulatedUser) -> list[tuple[Any, ...]]:
        query = HistoryGap.select(HistoryGap.starts_at, HistoryGap.ends_at).where(
            HistoryGap.user == self.users[user.id]
        )
        return self.database.run_sync(lambda: list(cast(Iterable[tuple[Any, ...]], query.tuples())))

    def truth(self, user: EmulatedUser) -> list[tuple[str, dt.datetime]]:
        """What Spotify shows as the user's recent plays, newest first."""
        return _naive(self.state.recent(user.id))


@pytest.fixture
def listening(
    database: Database,
    world: World,
    clock: VirtualClock,
    emulator: tuple[BackgroundServer, EmulatorState],
    users: dict[str, int],
    poller: HistoryPoller,
) -> Listening:
    return Listening(database, world, clock, emulator[1], users, poller)


async def test_polls_store_each_play_once_as_listening_goes_on(listening: Listening) -> None:
    user = listening.world.users[0]
    first = await listening.poll(user)
    listening.state.simulate_listening(200, [user.id])  # a play every 7.2 minutes
    listening.clock.advance(HOUR)
    second = await listening.poll(user)
    again = await listening.poll(user)

    assert first.added == min(50, len(user.recent))
    assert second.added == 8
    assert again.added == 0
    assert listening.stored(user) == listening.truth(user)[: first.added + 8]
    assert listening.gaps(user) == []


async def test_a_poll_after_more_than_50_plays_records_the_gap(listening: Listening) -> None:
    user = listening.world.users[1]
    await listening.poll(user)
    newest_before = listening.stored(user)[0][1]
    listening.state.simulate_listening(240, [user.id])  # a play every 6 minutes
    listening.clock.advance(12 * HOUR)  # 120 plays: Spotify shows the last 50
    gaps_counted, polls_counted = _counted(HISTORY_GAPS), _counted(HISTORY_POLLS.labels("ok"))
    outcome = await listening.poll(user)

    stored = listening.stored(user)
    assert (_counted(HISTORY_GAPS), _counted(HISTORY_POLLS.labels("ok"))) == (
        gaps_counted + 1,
        polls_counted + 1,
    )
    assert outcome.added == 50
    assert stored[:50] == listening.truth(user)[:50]
    assert listening.gaps(user) == [(newest_before, stored[49][1])]


async def test_a_failed_poll_is_reported_and_the_next_one_catches_up(listening: Listening) -> None:
    user, state = listening.world.users[0], listening.state
    await listening.poll(user)
    state.simulate_listening(200, [user.id])
    listening.clock.advance(HOUR)
    state.set_faults(Faults(error_rate=1.0, error_status=503))
    counted = _counted(HISTORY_POLLS.labels("failed"))
    failed = await listening.poll(user)
    assert _counted(HISTORY_POLLS.labels("failed")) == counted + 1
    state.set_faults(Faults())
    caught_up = await listening.poll(user)

    assert failed.added == 0
    assert failed.error is not None
    assert caught_up.added == 8


async def test_a_revoked_user_is_marked_and_no_longer_polled(listening: Listening) -> None:
    revoked, other = listening.world.users[0], listening.world.users[1]
    listening.state.revoke(revoked.id)
    counted = _counted(HISTORY_POLLS.labels("reauth_required"))
    outcome = await listening.poll(revoked)
    assert _counted(HISTORY_POLLS.labels("reauth_required")) == counted + 1
    polled = await listening.poller.poll_all()

    status = listening.database.run_sync(lambda: User.get_by_id(listening.users[revoked.id]).status)
    assert outcome.skipped == "re-authorisation required"
    assert status == User.REAUTH_REQUIRED
    assert [p.user_id for p in polled] == [listening.users[other.id]]
    assert listening.stored(revoked) == []


async def test_a_play_stored_in_the_future_does_not_stop_the_polls(listening: Listening) -> None:
    # Imports stored such plays before they were refused; the newest play is the poll's cursor.
    user = listening.world.users[0]
    first = await listening.poll(user)
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=400)
    track = listening.stored(user)[0][0]
    listening.database.run_sync(
        lambda: Play.create(
            user=listening.users[user.id], track=track, played_at=future, origin=Play.IMPORTED
        )
    )
    listening.state.simulate_listening(200, [user.id])
    listening.clock.advance(HOUR)
    second = await listening.poll(user)

    assert second.added == 8
    assert (
        listening.stored(user)[1 : 1 + first.added + 8] == listening.truth(user)[: first.added + 8]
    )
