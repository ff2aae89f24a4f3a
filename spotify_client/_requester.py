"""Sending a request: the concurrency cap, the shared Retry-After gate, retries, the quota pause.

Every request, the app's and every user's, goes through one `Requester`, so one semaphore caps
concurrency and one "not before" instant honours `Retry-After` for all tasks at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from spotify_client._clock import utcnow
from spotify_client._errors import (
    MalformedResponse,
    QuotaExceeded,
    RateLimited,
    SpotifyUnavailable,
    body_object,
    describe,
)

logger = logging.getLogger(__name__)

QUOTA_MESSAGE = (
    "Spotify answered QUOTA_EXCEEDED: the development-mode request quota of this app's "
    "developer account is spent; retrying will not help until Spotify resets it"
)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounds on waiting: backoff for 5xx and network errors, and for 429 answers."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    total_budget: float = 30.0
    default_retry_after: float = 5.0
    max_retry_after: float = 300.0
    max_rate_limited: int = 6
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
    value = headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, default, now())
    # A negative or endless delay is not one the server can have meant.
    return seconds if math.isfinite(seconds) and seconds >= 0 else default


def _seconds_until(http_date: str, default: float, now: dt.datetime) -> float:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return default
    # An HTTP-date is always UTC; "-0000" parses as a naive value.
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return max(0.0, (aware - now).total_seconds())


def is_quota_exceeded(response: httpx.Response) -> bool:
    """Whether a 429 says the app's quota is spent (as opposed to a short rate limit)."""
    body = body_object(response)
    error = body.get("error")
    nested = error.get("reason") if isinstance(error, Mapping) else None
    return "QUOTA_EXCEEDED" in (body.get("reason"), nested)


class Requester:
    """Sends every request: concurrency cap, the shared Retry-After gate, retries, quota stop."""

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
        self._not_before = 0.0
        self._quota_spent_until = float("-inf")

    @property
    def quota_spent(self) -> bool:
        """Whether Spotify said the quota is spent less than a quota pause ago."""
        return self._clock() < self._quota_spent_until

    def build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        """A request on the shared HTTP client (its headers and timeouts)."""
        return self._http.build_request(method, url, **kwargs)

    async def send(
        self, request: httpx.Request, auth: httpx.Auth | None, *, limited: bool = True
    ) -> httpx.Response:
        """The first answer that is neither 429 nor 5xx, within the retry bounds."""
        started = self._clock()
        failures = throttled = 0
        while True:
            if self.quota_spent:
                raise QuotaExceeded(QUOTA_MESSAGE)
            try:
                response = await self._send_once(request, auth, limited)
            except httpx.TransportError as exc:
                failures += 1
                await self._back_off(request, failures, started, type(exc).__name__)
                continue
            except httpx.DecodingError:
                raise MalformedResponse(f"{describe(request)}: undecodable answer") from None
            if response.status_code == 429:
                throttled += 1
                self._throttle(request, response, throttled)
            elif response.status_code >= 500:
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
        self, request: httpx.Request, auth: httpx.Auth | None, limited: bool
    ) -> httpx.Response:
        # Token requests bypass the semaphore: they run inside an API request's auth flow,
        # which already holds a slot, and would deadlock when every slot is taken.
        if not limited:
            await self._wait_for_window()
            return await self._http.send(request, auth=auth)
        async with self._semaphore:
            # Checked once the slot is ours: a 429 may have closed the window while we queued.
            await self._wait_for_window()
            return await self._http.send(request, auth=auth)

    def _jitter(self, failures: int) -> float:
        # Full jitter: spreads the retries of many tasks that failed together.
        policy = self._retry
        return self._rng.uniform(
            0, min(policy.backoff_cap, policy.backoff_base * 2 ** (failures - 1))
        )

    async def _wait_for_window(self) -> None:
        while (delay := self._not_before - self._clock()) > 0:
            if delay > self._retry.max_retry_after:
                raise RateLimited(f"Spotify asked for a {delay:.0f} s pause", delay)
            await self._sleep(delay)

    def _throttle(self, request: httpx.Request, response: httpx.Response, count: int) -> None:
        if is_quota_exceeded(response):
            self._quota_spent_until = self._clock() + self._retry.quota_pause
            logger.error("%s", QUOTA_MESSAGE)
            raise QuotaExceeded(QUOTA_MESSAGE)
        wait = retry_after_seconds(response.headers, self._retry.default_retry_after, now=self._now)
        self._not_before = max(self._not_before, self._clock() + wait)
        logger.warning(
            "Spotify rate limit on %s: nothing leaves for %.1f s", describe(request), wait
        )
        if count > self._retry.max_rate_limited:
            raise RateLimited(f"{describe(request)} was rate limited {count} times", wait)

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
