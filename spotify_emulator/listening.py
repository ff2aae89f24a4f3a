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
        tracks = self._pool()
        plays = [
            (
                tracks[int(fraction(self.seed, "listening", self.user.id, k) * len(tracks))],
                dt.datetime.fromtimestamp(self.start + k * self.interval, dt.UTC),
            )
            for k in range(first, count + 1)
        ]
        self.done = max(self.done, count)
        return plays

    def _pool(self) -> list[str]:
        return sorted(self.user.known_track_ids)
