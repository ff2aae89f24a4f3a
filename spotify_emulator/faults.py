"""Fault injection: deterministic latency, rate limits, quota, 5xx and broken bodies.

Every decision comes from request counters, the injected clock and an RNG seeded by
`Faults.seed`, so a test that sends the same requests in the same order sees the same faults.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import random
import threading
from collections.abc import Callable
from typing import Any

_FLAGS = ("omit_retry_after", "local_files", "episodes")


@dataclasses.dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often; the default is a well-behaved Spotify."""

    targets: tuple[str, ...] = ("/v1",)  # path prefixes the request faults apply to
    seed: int = 0
    latency: float = 0.0  # seconds added to every targeted request
    slow_rate: float = 0.0  # share of requests delayed by a further `slow_delay`
    slow_delay: float = 0.0
    rate_limit: int = 0  # requests allowed per rolling window; 0 means unlimited
    rate_limit_window: float = 30.0
    throttle_first: int = 0  # the first N targeted requests answer 429
    retry_after: int = 1  # seconds announced in Retry-After by `throttle_first`
    # 429s carry no Retry-After: nothing is announced, so no later request counts as early.
    omit_retry_after: bool = False
    quota: int | None = None  # targeted requests before QUOTA_EXCEEDED; None is unlimited
    fail_first: int = 0  # the first N targeted requests answer `error_status`
    error_rate: float = 0.0  # share of requests answering `error_status`
    error_status: int = 503
    malformed_rate: float = 0.0  # share of 200 answers whose JSON body is cut in half
    revoked_users: frozenset[str] = frozenset()  # their refresh tokens answer invalid_grant
    # Their API calls answer 401 even with a fresh token (the token endpoint still works).
    unauthorized_users: frozenset[str] = frozenset()
    local_files: bool = False  # local files in saved tracks, recently played and playlists
    episodes: bool = False  # podcast episodes in recently played and playlists
    token_lifetime: float | None = (
        None  # real lifetime of new access tokens (expires_in stays 3600)
    )
    rotate_refresh_every: int = 2  # every Nth refresh grant returns a new refresh token; 0 never
    reccobeats_coverage: float = 0.8  # share of tracks the ReccoBeats emulation knows

    def __post_init__(self) -> None:
        for name in ("latency", "slow_delay", "rate_limit_window", "slow_rate", "error_rate"):
            _check_number(name, getattr(self, name))
        for name in ("rate_limit", "throttle_first", "retry_after", "fail_first", "seed"):
            _check_number(name, getattr(self, name), integer=True)
        for name in _FLAGS:
            if type(getattr(self, name)) is not bool:
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")
        for name in ("slow_rate", "error_rate", "malformed_rate", "reccobeats_coverage"):
            _check_number(name, getattr(self, name), upper=1.0)
        _check_number("rotate_refresh_every", self.rotate_refresh_every, integer=True)
        if self.quota is not None:
            _check_number("quota", self.quota, integer=True)
        if self.token_lifetime is not None:
            _check_number("token_lifetime", self.token_lifetime)
        if not 400 <= _check_number("error_status", self.error_status, integer=True) <= 599:
            raise ValueError("error_status must be an HTTP error status")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Faults:
        """Build from a JSON object (the control endpoint's body); unknown names are an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        values = dict(data)
        if "targets" in values:
            values["targets"] = tuple(values["targets"])
        for name in ("revoked_users", "unauthorized_users"):
            if name in values:
                values[name] = frozenset(values[name])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy of the settings."""
        data = dataclasses.asdict(self)
        data["targets"] = list(self.targets)
        data["revoked_users"] = sorted(self.revoked_users)
        data["unauthorized_users"] = sorted(self.unauthorized_users)
        return data


def _check_number(
    name: str, value: object, integer: bool = False, upper: float | None = None
) -> float:
    wrong_kind = isinstance(value, bool) or (integer and not isinstance(value, int))
    if wrong_kind or not isinstance(value, (int, float)) or value < 0:
        kind = "integer" if integer else "number"
        raise ValueError(f"{name} must be a non-negative {kind}, not {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} must be at most {upper}, not {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it; `time` is its arrival on the emulator's clock."""

    time: float
    method: str
    path: str
    status: int
    query: str = ""
    fault: str | None = None
    early: bool = False  # arrived while an announced Retry-After had not yet passed
    retry_after: int | None = None  # seconds announced with a 429, None when none was sent

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the injector chose for one request."""

    delay: float = 0.0
    fault: str | None = None  # quota, rate_limited, error, malformed
    retry_after: int | None = None
    early: bool = False
    # The instant the announced Retry-After ends, counted once the 429 has been sent.
    blocks_until: float | None = None


class FaultInjector:
    """Applies a `Faults` to the stream of requests; thread-safe, as tests change it live."""

    def __init__(self, faults: Faults, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.replace(faults)

    @property
    def faults(self) -> Faults:
        """The settings in force."""
        return self._faults

    def replace(self, faults: Faults) -> None:
        """Install new settings and start counting afresh."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)
            self._count = 0
            self._accepted: collections.deque[float] = collections.deque()
            self._blocked_until = -math.inf

    def targets(self, path: str) -> bool:
        """Whether request faults apply to this path."""
        return any(path.startswith(prefix) for prefix in self._faults.targets)

    def decide(self) -> Decision:
        """Choose the fate of one targeted request arriving now."""
        with self._lock:
            now = self._clock()
            self._count += 1
            f = self._faults
            # Draw every number each time so one fault's outcome never shifts another's.
            slow, error, malformed = (self._rng.random() for _ in range(3))
            delay = f.latency + (f.slow_delay if slow < f.slow_rate else 0.0)
            early = now < self._blocked_until
            fault, retry_after = self._refusal(now, early)
            if fault is None and (self._count <= f.fail_first or error < f.error_rate):
                fault = "error"
            if fault is None and malformed < f.malformed_rate:
                fault = "malformed"
            # An early request is told what is left of the wait already announced.
            until = None if retry_after is None or early else now + retry_after
            return Decision(delay, fault, retry_after, early, until)

    def announce(self, until: float) -> None:
        """A 429 asking to wait until `until` has been sent: from now, earlier is early.

        Not from the moment it was decided: a request that arrives while the 429 is still
        on its way (under `latency`) was sent before the client could have read it.
        """
        with self._lock:
            self._blocked_until = max(self._blocked_until, until)

    def _refusal(self, now: float, early: bool) -> tuple[str | None, int | None]:
        # Retry-After is whole seconds, rounded up, so honouring it is never early.
        f = self._faults
        if f.quota is not None and self._count > f.quota:
            return "quota", None
        if early:
            return "rate_limited", max(1, math.ceil(self._blocked_until - now))
        if self._count <= f.throttle_first:
            return "rate_limited", self._block(f.retry_after)
        if f.rate_limit:
            while self._accepted and self._accepted[0] <= now - f.rate_limit_window:
                self._accepted.popleft()
            if len(self._accepted) >= f.rate_limit:
                wait = self._accepted[0] + f.rate_limit_window - now
                return "rate_limited", self._block(max(1, math.ceil(wait)))
            self._accepted.append(now)
        return None, None

    def _block(self, seconds: int) -> int | None:
        return None if self._faults.omit_retry_after else seconds
