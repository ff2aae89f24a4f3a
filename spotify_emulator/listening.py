"""Plays that accrue by themselves as the emulator's clock moves, for history-polling tests.

Evenly spaced, so a test can say exactly how many plays a stretch of time brings (and
so whether the last-50 window dropped some); each play's track is a stable hash of its
number, so the same clock gives the same plays.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from spotify_emulator.ids import fraction
from spotify_emulator.model import EmulatedUser

# A clock jump of years at hundreds of plays a day must not build millions of plays.
MAX_ACCRUED = 100_000


@dataclasses.dataclass
class Listening:
    """One user listening at `plays_per_day` since `start` (epoch seconds)."""

    user: EmulatedUser
    start: float
    plays_per_day: float
    seed: int
    done: int = 0  # plays already handed out
    _pools: dict[dt.date, list[str]] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def interval(self) -> float:
        """Seconds between two plays' ends."""
        return 86_400 / self.plays_per_day

    def due(self, now: float) -> list[tuple[str, dt.datetime]]:
        """The plays that ended since the last call, oldest first.

        Play k (from 1) ends at `start + k * interval`.
        """
        count = int((now - self.start) // self.interval)
        first = max(self.done + 1, count - MAX_ACCRUED + 1)
        plays = [self._play(k) for k in range(first, count + 1)]
        self.done = max(self.done, count)
        return plays

    def _play(self, k: int) -> tuple[str, dt.datetime]:
        moment = dt.datetime.fromtimestamp(self.start + k * self.interval, dt.UTC)
        tracks = self._pool(moment.date())
        pick = fraction(self.seed, "listening", self.user.id, k)
        return tracks[int(pick * len(tracks))], moment

    def _pool(self, day: dt.date) -> list[str]:
        """The tracks a play of `day` is drawn from: here every track the user knows."""
        if day not in self._pools:
            # The same every day: one entry serves them all.
            self._pools.clear()
            self._pools[day] = sorted(self.user.known_track_ids)
        return self._pools[day]
