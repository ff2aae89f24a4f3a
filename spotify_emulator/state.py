"""Everything one running emulator remembers, shared by its endpoints and its controls."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import HTTPConnection

from spotify_emulator.drift import PLAYS_PER_DAY, DriftingListening, drifted, top_bench
from spotify_emulator.errors import ApiError
from spotify_emulator.faults import FaultInjector, Faults, RequestRecord
from spotify_emulator.listening import Listening
from spotify_emulator.objects import DEVELOPMENT, Renderer
from spotify_emulator.oddities import Oddities
from spotify_emulator.tokens import AccessGrant, TokenStore
from spotify_emulator.world import World

# A development-mode app may allow-list at most this many users in Spotify's dashboard.
ALLOW_LIST_SIZE = 5
NOT_REGISTERED = (
    "Check settings on developer.spotify.com/dashboard, the user may not be registered."
)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class EmulatorState:
    """The world plus what changes while the emulator runs: tokens, faults, plays, the log."""

    def __init__(
        self,
        world: World,
        mode: str,
        faults: Faults,
        clock: Clock,
        sleep: Sleep,
        *,
        drift: bool = False,
    ) -> None:
        self.world = world
        self.drift = drift
        self.mode = mode
        self.clock = clock
        self.sleep = sleep
        self.tokens = TokenStore(world, clock)
        self.injector = FaultInjector(faults, clock)
        self.consent_user = world.users[0].id
        self.deny_consent = False
        self.pick_user = False  # the consent page asks who is signing in (for people, not tests)
        self._allow_list: frozenset[str] | None = None  # None: every user (the tests' default)
        self._recent = {user.id: list(user.recent) for user in world.users}
        self._listening: dict[str, Listening] = {}
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        if drift:
            start = world.now.timestamp()
            self._listening = {
                u.id: DriftingListening(u, start, PLAYS_PER_DAY, world.seed) for u in world.users
            }

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self.injector.faults

    @property
    def oddities(self) -> Oddities:
        """The odd items the faults mix into users' lists."""
        return Oddities(local_files=self.faults.local_files, episodes=self.faults.episodes)

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults; their counters start again from zero."""
        self.injector.replace(faults)

    @property
    def allow_list(self) -> frozenset[str] | None:
        """The development-mode app's allow-listed users; None lets every user in."""
        return self._allow_list

    def set_allow_list(self, user_ids: Iterable[str] | None) -> None:
        """Allow-list at most five known users (None: every user); others get 403 in dev mode."""
        if user_ids is None:
            self._allow_list = None
            return
        allowed = frozenset(self.world.user(user_id).id for user_id in user_ids)
        if len(allowed) > ALLOW_LIST_SIZE:
            raise ValueError(f"a development-mode app allow-lists at most {ALLOW_LIST_SIZE} users")
        self._allow_list = allowed

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
        """The user's plays, newest first: generated ones, any added by `play`, and those the
        simulated listening has brought by now."""
        with self._lock:
            plays = self._recent[user_id]
            listening = self._listening.get(user_id)
            if listening is not None:
                plays.extend(listening.due(self.clock()))
                plays.sort(key=lambda play: play[1], reverse=True)
            return list(plays)

    def simulate_listening(
        self, plays_per_day: float, user_ids: Iterable[str] | None = None
    ) -> None:
        """From now on the users (default: all) play a track every 86400/plays_per_day seconds
        of the emulator's clock; 0 stops them. Plays appear as the clock passes their end."""
        if not (math.isfinite(plays_per_day) and 0 <= plays_per_day <= 86_400):
            raise ValueError("plays_per_day must be between 0 and 86400")
        users = [self.world.user(u) for u in user_ids] if user_ids is not None else self.world.users
        for user in users:
            self.recent(user.id)  # settle what the old pace brought
            with self._lock:
                if plays_per_day == 0:
                    self._listening.pop(user.id, None)
                else:
                    self._listening[user.id] = Listening(
                        user, self.clock(), plays_per_day, self.world.seed
                    )

    def top(self, user_id: str, kind: str, time_range: str) -> list[str]:
        """The user's top artists or tracks for a range, as they stand on the clock's day."""
        user = self.world.user(user_id)
        ranked = user.top_artists[time_range] if kind == "artists" else user.top_tracks[time_range]
        if not self.drift:
            return ranked
        day = dt.datetime.fromtimestamp(self.clock(), dt.UTC).date()
        bench = top_bench(user, kind, time_range)
        return drifted(self.world.seed, user, ranked, bench, time_range, day)

    def history(self, user_id: str) -> list[tuple[str, dt.datetime]]:
        """What recently-played draws from: `recent` plus any odd items switched on."""
        return self.oddities.plays(self.world, self.world.user(user_id), self.recent(user_id))

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
        api = f"{str(request.base_url).rstrip('/')}/v1"
        return Renderer(self.world, api, self.mode, self.oddities)

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
        if grant.user_id is not None:
            self._check_user(grant.user_id)
        if scope and scope not in grant.scope.split():
            raise ApiError(403, "Insufficient client scope")
        return grant

    def _check_user(self, user_id: str) -> None:
        if user_id in self.faults.unauthorized_users:
            raise ApiError(401, "Invalid access token")
        allowed = self._allow_list
        if self.mode == DEVELOPMENT and allowed is not None and user_id not in allowed:
            raise ApiError(403, NOT_REGISTERED)


def state_of(request: HTTPConnection) -> EmulatorState:
    """The emulator state of the app serving the request."""
    state: EmulatorState = request.app.state.emulator
    return state
