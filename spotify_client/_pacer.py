"""The shared pace: request starts spaced toward the rate Spotify actually allows this app.

Spotify counts an app's requests in a rolling window (30 s) and does not say how many it
allows. A 429 says the window is full, so the requests this process had accepted within the
last window at that moment are a measure of the allowance. From then on every task of the
process takes its turn from one `Pacer`, spaced a little below that rate, so the window is
not overrun again and no burst follows a wait. A window without a 429 lets the pace creep up,
in case the allowance grew or the first measure was low.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable

# Fewer accepted requests than this in a window measure a one-off refusal, not a rate.
MIN_SAMPLE = 10


class Pacer:
    """Hands out start instants no closer than the learned interval; unpaced until a 429."""

    def __init__(
        self, clock: Callable[[], float], window: float, margin: float, growth: float
    ) -> None:
        self._clock = clock
        self._window = window
        self._margin = margin
        self._growth = growth
        self._accepted: collections.deque[float] = collections.deque()
        self._interval = 0.0
        self._next = -math.inf
        self._changed_at = -math.inf

    @property
    def rate(self) -> float | None:
        """Requests per second the pace allows, None while unpaced."""
        return 1.0 / self._interval if self._interval else None

    def turn(self, not_before: float) -> float:
        """Reserve the next start instant at or after `not_before` (and now)."""
        now = self._clock()
        self._creep(now)
        start = max(now, not_before, self._next)
        if self._interval:
            self._next = start + self._interval
        return start

    def accepted(self, sent_at: float) -> None:
        """A request sent at `sent_at` was not refused for the rate."""
        self._accepted.append(sent_at)
        self._forget_before(self._clock() - self._window)

    def refused(self) -> None:
        """A 429: measure the allowance from what was accepted within the last window."""
        now = self._clock()
        self._forget_before(now - self._window)
        count = len(self._accepted)
        if count < MIN_SAMPLE:
            return
        self._interval = self._window / (count * self._margin)
        self._changed_at = now

    def _creep(self, now: float) -> None:
        if not self._interval or now - self._changed_at < self._window:
            return
        quiet_windows = math.floor((now - self._changed_at) / self._window)
        self._interval /= (1.0 + self._growth) ** quiet_windows
        self._changed_at += quiet_windows * self._window

    def _forget_before(self, instant: float) -> None:
        while self._accepted and self._accepted[0] <= instant:
            self._accepted.popleft()
