"""Taste that drifts with the emulator's clock, so snapshots taken on different days differ.

Off unless asked for (`create_app(..., drift=True)`): most tests compare answers with the
world's fixed truths. On, a listener's top lists on a day are their generated lists re-ranked
by a slow swing of each item (a sine of the date with a phase of its own), so the next day's
lists differ by a place here and there and a month's by many, with a few of the artists and
tracks they know but had not ranked moving in and out. They also keep listening from
`world.now` on, each play drawn from the day's short-term top tracks.
"""

from __future__ import annotations

import datetime as dt
import math

from spotify_emulator.ids import fraction
from spotify_emulator.listening import Listening
from spotify_emulator.model import EmulatedUser

# Days of one full swing per time range: the short term changes fastest, as Spotify's does.
PERIOD_DAYS = {"short_term": 28, "medium_term": 120, "long_term": 365}
SWING = 6.0  # the most places an item moves either way from its generated rank
PLAYS_PER_DAY = 40  # the pace of the listening that goes on after world.now


def _phase(seed: int, user_id: str, item_id: str) -> float:
    # Per user and item, not per list: an artist a listener warms to rises in every range.
    return 2 * math.pi * fraction(seed, "drift", user_id, item_id)


def drifted(
    seed: int,
    user: EmulatedUser,
    ranked: list[str],
    bench: list[str],
    time_range: str,
    day: dt.date,
) -> list[str]:
    """`ranked` as it stands on `day`: as long as before, drawn from `ranked` then `bench`.

    `bench` holds what the listener knows but did not rank, best first; it queues after the
    ranked items, so only its first few can swing into the list.
    """
    angle = 2 * math.pi * day.toordinal() / PERIOD_DAYS[time_range]
    items = list(dict.fromkeys([*ranked, *bench]))
    score = {
        item: rank + SWING * math.sin(angle + _phase(seed, user.id, item))
        for rank, item in enumerate(items)
    }
    return sorted(items, key=lambda item: (score[item], item))[: len(ranked)]


def top_bench(user: EmulatedUser, kind: str, time_range: str) -> list[str]:
    """What the user knows beyond a ranked list: artists fondest first, tracks in id order."""
    if kind == "artists":
        ranked = set(user.top_artists[time_range])
        rest = [a for a in user.favourites if a not in ranked]
        return sorted(rest, key=lambda a: (-user.favourites[a], a))
    ranked = set(user.top_tracks[time_range])
    return sorted(t for t in user.known_track_ids if t not in ranked)


class DriftingListening(Listening):
    """Listening whose every play is one of the short-term top tracks of the play's own day."""

    def _pool(self, day: dt.date) -> list[str]:
        if day not in self._pools:
            if len(self._pools) > 64:  # plays come in time order: old days are not asked again
                self._pools.clear()
            ranked = self.user.top_tracks["short_term"]
            bench = top_bench(self.user, "tracks", "short_term")
            self._pools[day] = drifted(self.seed, self.user, ranked, bench, "short_term", day)
        return self._pools[day]
