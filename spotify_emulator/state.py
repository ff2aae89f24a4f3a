"""Everything one running emulator remembers, shared by its endpoints and its controls."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

from spotify_emulator.errors import ApiError
from spotify_emulator.faults import FaultInjector, Faults, RequestRecord
from spotify_emulator.objects import Renderer
from spotify_emulator.tokens import AccessGrant, TokenStore
from spotify_emulator.world import World

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class EmulatorState:
    """The world plus what changes while the emulator runs: tokens, faults, plays, the log."""

    def __init__(self, world: World, mode: str, faults: Faults, clock: Clock, sleep: Sleep) -> None:
        self.world = world
        self.mode = mode
        self.clock = clock
        self.sleep = sleep
        self.tokens = TokenStore(world, clock)
        self.injector = FaultInjector(faults, clock)
        self.consent_user = world.users[0].id
        self.deny_consent = False
        self._recent = {user.id: list(user.recent) for user in world.users}
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self.injector.faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults; their counters start again from zero."""
        self.injector.replace(faults)

    def record(self, record: RequestRecord) -> None:
        """Append one request to the log."""
        with self._lock:
            self._log.append(record)

    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self._log.clear()

    def recent(self, user_id: str) -> list[tuple[str, dt.datetime]]:
        """The user's plays, newest first (generated ones plus any added by `play`)."""
        with self._lock:
            return list(self._recent[user_id])

    def play(self, user_id: str, track_id: str, played_at: dt.datetime | None = None) -> None:
        """Record that the user just played a track (for history polling tests)."""
        if track_id not in self.world.tracks:
            raise KeyError(track_id)
        moment = played_at or dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        if moment.tzinfo is None:
            raise ValueError("played_at must carry a time zone")
        with self._lock:
            plays = self._recent[user_id]
            plays.append((track_id, moment))
            plays.sort(key=lambda play: play[1], reverse=True)

    def revoke(self, user_id: str) -> None:
        """The user removed the app's access: their refresh tokens stop working."""
        self.world.user(user_id)
        self.tokens.revoke_user(user_id)

    def renderer(self, request: HTTPConnection) -> Renderer:
        """A renderer whose links point at this emulator's /v1."""
        return Renderer(self.world, f"{str(request.base_url).rstrip('/')}/v1", self.mode)

    def authorize(
        self, request: HTTPConnection, scope: str | None = None, user: bool = True
    ) -> AccessGrant:
        """Check the bearer token; `user` demands a user token, `scope` a granted scope."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "No token provided")
        grant = self.tokens.access(token.strip())
        if grant is None:
            raise ApiError(401, "The access token expired")
        if user and grant.user_id is None:
            raise ApiError(401, "Valid user authentication required")
        if scope and scope not in grant.scope.split():
            raise ApiError(403, "Insufficient client scope")
        return grant


def state_of(request: HTTPConnection) -> EmulatorState:
    """The emulator state of the app serving the request."""
    state: EmulatorState = request.app.state.emulator
    return state
