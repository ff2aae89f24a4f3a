"""Sending a request: the concurrency cap, the shared rate-limit gate and pace, retries, quota.

Every request, the app's and every user's, goes through one `Requester`, so one semaphore caps
concurrency, one "not before" instant honours `Retry-After` for all tasks at once, and one
`Pacer` spaces their starts toward the rate Spotify allows. A 429 is never a failure by
itself: waiting on it ends only at the caller's deadline (`current_deadline`), or after the
policy's `rate_limit_budget` outside one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import logging
import math
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

import httpx

import metrics
from spotify_client._clock import utcnow
from spotify_client._deadline import current_deadline
from spotify_client._errors import (
    MalformedResponse,
    QuotaExceeded,
    RateLimited,
    SpotifyUnavailable,
    body_object,
    describe,
)
from spotify_client._pacer import Pacer, PaceSettings

logger = logging.getLogger(__name__)

QUOTA_MESSAGE = (
    "Spotify answered QUOTA_EXCEEDED: the development-mode request quota of this app's "
    "developer account is spent; retrying will not help until Spotify resets it"
)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounds on waiting: backoff for 5xx and network errors, and the handling of 429s."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    total_budget: float = 30.0
    # A request outside any deadline waits this long at most for rate limits.
    rate_limit_budget: float = 300.0
    # A 429 without Retry-After: the shared gate closes for 1, 2, 4... s (capped), jittered.
    rate_limit_backoff_base: float = 1.0
    rate_limit_backoff_cap: float = 60.0
    # Spotify's rolling window, and how the pace follows the allowance measured in it.
    pace: PaceSettings = dataclasses.field(default_factory=PaceSettings)
    # Spotify resets a spent development-mode quota later; a long-running service asks again
    # after this pause instead of refusing every call until it restarts.
    quota_pause: float = 3600.0


DEFAULT_RETRY = RetryPolicy()


def create_http_client(timeout: float) -> httpx.AsyncClient:
    """The one shared HTTP client: short connect timeout, bounded pool, no redirects."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=30),
        headers={"User-Agent": "spotify-insight/0.1"},
        follow_redirects=False,
    )


def retry_after_seconds(
    headers: Mapping[str, str], default: float, *, now: Callable[[], dt.datetime] = utcnow
) -> float:
    """Seconds a `Retry-After` header asks for (delay-seconds or an HTTP-date, RFC 9110).

    `default` when the header is missing or unreadable; a date in the past means no wait.
    """
    announced = announced_wait(headers, now())
    return default if announced is None else announced


def announced_wait(headers: Mapping[str, str], now: dt.datetime) -> float | None:
    """Seconds a readable `Retry-After` asks for, None when there is none."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now)
    # A negative or endless delay is not one the server can have meant.
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until(http_date: str, now: dt.datetime) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    # An HTTP-date is always UTC; "-0000" parses as a naive value.
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return max(0.0, (aware - now).total_seconds())


def is_quota_exceeded(response: httpx.Response) -> bool:
    """Whether a 429 says the app's quota is spent (as opposed to a short rate limit)."""
    body = body_object(response)
    error = body.get("error")
    nested = error.get("reason") if isinstance(error, Mapping) else None
    return "QUOTA_EXCEEDED" in (body.get("reason"), nested)


def _count(request: httpx.Request, status: str) -> None:
    metrics.SPOTIFY_REQUESTS.labels(metrics.spotify_endpoint(request.url.path), status).inc()


class _LastLook(httpx.Auth):
    """The caller's auth, and one more look at the shared gate right before a request leaves.

    A request may spend a while in its auth flow (a token refresh) after its turn came; a
    429 read meanwhile holds it back too.
    """

    def __init__(self, auth: httpx.Auth | None, wait: Callable[[], Awaitable[None]]) -> None:
        self._auth = auth or httpx.Auth()
        self._wait = wait

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._auth.async_auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                await self._wait()
                response = yield outgoing
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return
        finally:
            await flow.aclose()


class Requester:
    """Sends every request: concurrency cap, the shared gate and pace, retries, quota stop."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        max_concurrency: int,
        retry: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[object]],
        clock: Callable[[], float],
        now: Callable[[], dt.datetime],
        rng: random.Random,
    ) -> None:
        self._http = http
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._rng = rng
        self._pacer = Pacer(clock, retry.pace)
        self._not_before = 0.0
        # 429s without Retry-After in a row, and when the last of them closed the gate.
        self._unannounced = 0
        self._unannounced_at = -math.inf
        self._quota_spent_until = float("-inf")

    @property
    def quota_spent(self) -> bool:
        """Whether Spotify said the quota is spent less than a quota pause ago."""
        return self._clock() < self._quota_spent_until

    @property
    def pace(self) -> float | None:
        """Requests per second the shared pace allows, None while no 429 has set one."""
        return self._pacer.rate

    def build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        """A request on the shared HTTP client (its headers and timeouts)."""
        return self._http.build_request(method, url, **kwargs)

    async def send(
        self, request: httpx.Request, auth: httpx.Auth | None, *, limited: bool = True
    ) -> httpx.Response:
        """The first answer that is neither 429 nor 5xx, within the deadline and retry bounds."""
        started = self._clock()
        deadline = current_deadline()
        if deadline is None:
            deadline = started + self._retry.rate_limit_budget
        failures = 0
        while True:
            if self.quota_spent:
                raise QuotaExceeded(QUOTA_MESSAGE)
            try:
                sent_at, response = await self._send_once(request, auth, limited, deadline)
            except httpx.TransportError as exc:
                _count(request, "network error")
                failures += 1
                await self._back_off(request, failures, started, type(exc).__name__)
                continue
            except httpx.DecodingError:
                _count(request, "undecodable")
                raise MalformedResponse(f"{describe(request)}: undecodable answer") from None
            _count(request, str(response.status_code))
            if response.status_code == 429:
                self._throttle(request, response, sent_at, limited)
                continue
            if limited:
                self._passed(sent_at)
            if response.status_code >= 500:
                failures += 1
                await self._back_off(request, failures, started, f"HTTP {response.status_code}")
            else:
                return response

    async def send_json(
        self, request: httpx.Request, auth: httpx.Auth | None, *, limited: bool = True
    ) -> tuple[httpx.Response, Any]:
        """`send`, then decode a successful answer; a truncated body is fetched again."""
        for attempt in range(1, self._retry.max_attempts + 1):
            response = await self.send(request, auth, limited=limited)
            if not response.is_success:
                return response, None
            try:
                return response, response.json()
            except ValueError:
                logger.warning(
                    "%s: answer is not valid JSON (attempt %d)", describe(request), attempt
                )
            if attempt < self._retry.max_attempts:
                await self._sleep(self._jitter(attempt))
        raise MalformedResponse(
            f"{describe(request)}: answer is not valid JSON ({len(response.content)} bytes)"
        )

    async def _send_once(
        self, request: httpx.Request, auth: httpx.Auth | None, limited: bool, deadline: float
    ) -> tuple[float, httpx.Response]:
        # Token requests bypass the semaphore and the pace: they run inside an API request's
        # auth flow, which already holds a slot and its turn, and would deadlock otherwise.
        if not limited:
            await self._wait_for_gate(request, deadline)
            return self._clock(), await self._http.send(request, auth=auth)
        async with self._semaphore:
            sent_at = await self._take_turn(request, deadline)
            gated = _LastLook(auth, lambda: self._wait_for_gate(request, deadline))
            return sent_at, await self._http.send(request, auth=gated)

    async def _take_turn(self, request: httpx.Request, deadline: float) -> float:
        """Wait for this request's paced start, after the gate; the instant it leaves.

        Only the gate, Spotify's own announced wait, counts against the deadline. The pace's
        turn is never more than about a window away, and every retry of a user would meet
        the same pace: putting a user back for it wasted the turns their calls had already
        spent and, with a deadline shorter than their calls at the pace, never ended.
        """
        while True:
            self._check_deadline(request, self._not_before, deadline)
            measures = self._pacer.measures
            start = self._pacer.turn(self._not_before)
            try:
                if (delay := start - self._clock()) > 0:
                    await self._sleep(delay)
            except BaseException:
                self._pacer.release(start)
                raise
            # A 429 that arrived while we slept may have closed the gate again, or measured
            # an allowance this turn, given under the one before, no longer fits.
            sent_at = self._clock()
            if self._not_before <= sent_at and self._pacer.measures == measures:
                # One reading: the log must hold the instant a 429 for it will name.
                self._pacer.started(start, sent_at)
                return sent_at
            self._pacer.release(start)

    async def _wait_for_gate(self, request: httpx.Request, deadline: float) -> None:
        while (delay := self._not_before - self._clock()) > 0:
            self._check_deadline(request, self._not_before, deadline)
            await self._sleep(delay)

    def _check_deadline(self, request: httpx.Request, gate: float, deadline: float) -> None:
        if gate <= deadline:
            return
        wait = gate - self._clock()
        raise RateLimited(
            f"{describe(request)}: rate limited; Spotify's wait ends {wait:.0f} s from now, "
            f"past the deadline {max(0.0, deadline - self._clock()):.0f} s away",
            wait,
        )

    def _jitter(self, failures: int) -> float:
        # Full jitter: spreads the retries of many tasks that failed together.
        policy = self._retry
        return self._rng.uniform(
            0, min(policy.backoff_cap, policy.backoff_base * 2 ** (failures - 1))
        )

    def _passed(self, sent_at: float) -> None:
        if sent_at > self._unannounced_at:
            self._unannounced = 0

    def _throttle(
        self, request: httpx.Request, response: httpx.Response, sent_at: float, limited: bool
    ) -> None:
        if is_quota_exceeded(response):
            self._quota_spent_until = self._clock() + self._retry.quota_pause
            logger.error("%s", QUOTA_MESSAGE)
            raise QuotaExceeded(QUOTA_MESSAGE)
        announced = announced_wait(response.headers, self._now())
        if limited:
            self._pacer.refused(sent_at, announced)
        wait = self._unannounced_backoff(sent_at) if announced is None else announced
        closed_until = max(self._not_before, self._clock())
        self._not_before = max(self._not_before, self._clock() + wait)
        # Only the stretch this 429 adds: tasks waiting behind one closing count it once.
        metrics.SPOTIFY_RATE_LIMIT_WAIT.inc(max(0.0, self._not_before - closed_until))
        pace = self._pacer.rate
        logger.warning(
            "Spotify rate limit on %s: nothing leaves for %.1f s%s",
            describe(request),
            max(0.0, self._not_before - self._clock()),
            f", then {pace:.2f} requests/s" if pace else "",
        )

    def _unannounced_backoff(self, sent_at: float) -> float:
        """Exponential, jittered; only a request sent after the last such 429 doubles it."""
        if sent_at <= self._unannounced_at:
            return 0.0  # in flight when the gate closed: that closing already covers it
        self._unannounced += 1
        self._unannounced_at = self._clock()
        policy = self._retry
        step = min(
            policy.rate_limit_backoff_cap,
            policy.rate_limit_backoff_base * 2 ** (self._unannounced - 1),
        )
        # Equal jitter: tasks that met the limit together spread out, yet all wait a while.
        return step / 2 + self._rng.uniform(0, step / 2)

    async def _back_off(
        self, request: httpx.Request, failures: int, started: float, reason: str
    ) -> None:
        policy = self._retry
        where = describe(request)
        if failures >= policy.max_attempts:
            raise SpotifyUnavailable(f"{where} failed {failures} times, last with {reason}")
        delay = self._jitter(failures)
        if self._clock() - started + delay > policy.total_budget:
            raise SpotifyUnavailable(
                f"{where} still failing after {policy.total_budget:.0f} s: {reason}"
            )
        logger.warning("%s failed with %s; retry %d in %.2f s", where, reason, failures, delay)
        await self._sleep(delay)
