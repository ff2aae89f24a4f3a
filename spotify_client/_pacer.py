"""The shared pace: no more requests in any rolling window than Spotify was seen to allow.

Spotify counts an app's requests in a rolling window (30 s) and does not say how many it
allows. A 429 says the window is full, so the requests this process sent within the window
before the refused one measure the allowance. From then on every task of the process takes
its turn from one `Pacer`, which keeps a rolling log of the starts it handed out and gives a
turn only while fewer than the allowance lie in the last window: a rolling limit is matched
exactly by a rolling log, so a night runs at the allowed rate, not below it, and the window
is not overrun. The log's window is a little longer than Spotify's (`guard`), for the time
between a start here and its arrival there.

Turns come at most `catch_up` times the measured average rate, so no burst follows a wait,
yet turns lost while the loop was busy are made up.

A process that starts while the window still holds others' requests (another process's, or
the last run's) would count only its own and measure low, so a 429 within the first window of
its life measures a rate instead: what it was let send since it began, scaled to a window.
That rate leaves out the time Spotify said nothing would leave its window (an announced
Retry-After, but for its last second, which is rounding): counted in, a few seconds of sending
and a long wait measured half the allowance or less, and a warm night spent its first minutes
below it, as no 429 could come to correct it.
A measure can still be low or go stale, so after a window without a 429 the allowance grows
by `growth` per window, and the 429 that ends such a probe measures it again. Each probe
costs a 429 and the wait it brings, so a measure that repeats the last one (the allowance is
known) doubles the quiet windows before the next probe, up to `max_hold`.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable

# Fewer requests than this in a window measure a one-off refusal, not a rate.
MIN_SAMPLE = 10
# Windows of growth at most: after a quiet day the allowance stays finite (1.5 ** 8 = 26 x).
MAX_PROBES = 8


@dataclasses.dataclass(frozen=True)
class PaceSettings:
    """How the pace follows the allowance it measures (see the module's docstring)."""

    window: float = 30.0
    guard: float = 0.25
    catch_up: float = 1.5
    growth: float = 0.5
    max_hold: int = 16


class Pacer:
    """Hands out start instants within the learned allowance; unpaced until a 429."""

    def __init__(self, clock: Callable[[], float], settings: PaceSettings) -> None:
        self._clock = clock
        self._settings = settings
        self._born = clock()
        self._log: list[float] = []  # starts handed out, in order, recent ones only
        self._measured: int | None = None
        self.measures = 0  # how many times a 429 measured the allowance
        self._measured_at = -math.inf
        self._gate_open_at = -math.inf  # the end of the last wait Spotify asked for
        self._full = 0.0  # seconds Spotify's window was announced full, up to `_full_until`
        self._full_until = -math.inf
        self._hold = 1  # windows at the measured allowance before probing above it
        self._refused_at = -math.inf
        self._last_start = -math.inf

    @property
    def allowance(self) -> int | None:
        """Requests the pace lets start within one window, None while unpaced."""
        if self._measured is None:
            return None
        window = self._settings.window
        # A window spent behind the gate is no quiet window: nothing was sent in it.
        quiet_since = max(self._measured_at, self._gate_open_at)
        quiet = math.floor((self._clock() - quiet_since) / window)
        probes = min(max(0, quiet - self._hold + 1), MAX_PROBES)
        return math.ceil(self._measured * (1.0 + self._settings.growth) ** probes)

    @property
    def rate(self) -> float | None:
        """Requests per second the last 429 measured (probes aside), None while unpaced."""
        return self._measured / self._settings.window if self._measured else None

    def turn(self, not_before: float) -> float:
        """Reserve the next start instant at or after `not_before` (and now)."""
        now = self._clock()
        self._forget_before(now - 2 * self._settings.window)
        self._gate_open_at = max(self._gate_open_at, not_before)
        start = max(now, not_before)
        allowance = self.allowance
        if allowance is not None:
            # From the allowance, probes included: spaced by the measure alone, a low one
            # would hold the pace at `catch_up` times it for good, as no 429 could come.
            spacing = self._settings.window / (allowance * self._settings.catch_up)
            start = max(start, self._last_start + spacing)
            if len(self._log) >= allowance:
                # The window must have let go of the allowance-th most recent start.
                start = max(start, self._log[-allowance] + self._span())
        self._last_start = max(self._last_start, start)
        bisect.insort(self._log, start)
        return start

    def release(self, start: float) -> None:
        """A reserved start that was not used (the gate closed, or the task was cancelled)."""
        if self._remove(start) and start == self._last_start:
            self._last_start = self._log[-1] if self._log else -math.inf

    def started(self, reserved: float, actual: float) -> None:
        """The request reserved for `reserved` left at `actual` (a little later)."""
        if actual != reserved and self._remove(reserved):
            bisect.insort(self._log, actual)

    def refused(self, sent_at: float, announced: float | None = None) -> None:
        """A 429 for a request sent at `sent_at`, asking for `announced` s if it said so:
        measure the allowance from the log."""
        self._remove(sent_at)  # Spotify does not count what it refused
        now = self._clock()
        if announced is not None:
            # Retry-After is whole seconds: its last one may be rounding, not a full window.
            self._window_full(now, now + announced - 1.0)
        if sent_at <= self._refused_at:
            return  # sent before the last 429 came back: that one measured this window
        self._refused_at = now
        window = self._settings.window
        earlier = bisect.bisect_right(self._log, sent_at)
        within = earlier - bisect.bisect_right(self._log, sent_at - window)
        if within < MIN_SAMPLE:
            return
        if (lived := sent_at - self._born) < window:
            # The window may still hold requests this process did not send: what it was let
            # send since it began is the rate it is allowed, not yet the count.
            sending = lived - self._full_before(sent_at)
            if sending <= 0:
                return
            within = math.ceil(within * window / sending)
        known = self._measured is not None and abs(within - self._measured) <= 1
        self._hold = min(2 * self._hold, self._settings.max_hold) if known else 1
        self._measured = within
        self._measured_at = now
        self.measures += 1

    def _window_full(self, now: float, until: float) -> None:
        self._full += max(0.0, until - max(now, self._full_until))
        self._full_until = max(self._full_until, until)

    def _full_before(self, instant: float) -> float:
        return max(0.0, self._full - max(0.0, self._full_until - instant))

    def _span(self) -> float:
        return self._settings.window + self._settings.guard

    def _remove(self, start: float) -> bool:
        index = bisect.bisect_left(self._log, start)
        if index < len(self._log) and self._log[index] == start:
            del self._log[index]
            return True
        return False

    def _forget_before(self, instant: float) -> None:
        del self._log[: bisect.bisect_right(self._log, instant)]
