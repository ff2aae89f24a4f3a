"""Who plays what alongside whom: every user's latest listening, read once and held compactly.

A night asks for co-listened tracks once per user. Reading every other user's latest
snapshot on each ask made a night's database work grow with the square of its users (0.26 s
of CPU a user at 1,000 users). A run reads that listening once into int32 arrays, each
user's tracks and each track's users, and an ask reads only the runs of the user's own tracks
and of the users who share one: its cost follows the user's overlap with others (all of
them, where everyone shares a track), at nanoseconds an entry in numpy.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

# numpy is imported where the index is built and searched: see jobs.clustering.
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class CoListening:
    """Each user's tracks, and each track's users, as two int32 arrays cut into runs.

    A track's code is its position in `track_ids`, which are sorted, so the first shared
    track by id is the smallest code. `tracks` holds every owner's tracks, owner after owner,
    each owner's ascending; owner `o`'s run is `tracks[owner_start[o]:owner_start[o + 1]]`.
    `holders` and `track_start` are the same pairs the other way round.
    """

    track_ids: tuple[str, ...]
    codes: dict[str, int]
    rows: dict[int, int]  # user id -> owner number
    tracks: NDArray[np.int32]
    owner_start: NDArray[np.intp]
    holders: NDArray[np.int32]
    track_start: NDArray[np.intp]

    @classmethod
    def of(cls, listening: Iterable[tuple[int, str]]) -> CoListening:
        """The index of distinct (user id, track id) pairs, read in one pass."""
        import numpy as np

        first_seen: dict[str, int] = {}
        rows: dict[int, int] = {}
        owners, tracks = array("i"), array("i")
        for user_id, track_id in listening:
            owners.append(rows.setdefault(user_id, len(rows)))
            tracks.append(first_seen.setdefault(track_id, len(first_seen)))
        track_ids = tuple(sorted(first_seen))
        renumber = np.empty(len(track_ids), dtype=np.int32)
        renumber[[first_seen[t] for t in track_ids]] = np.arange(len(track_ids), dtype=np.int32)
        by_owner = np.asarray(owners, dtype=np.int32)
        by_track = renumber[np.asarray(tracks, dtype=np.int32)]
        order = np.lexsort((by_track, by_owner))
        turned = np.lexsort((by_owner, by_track))
        return cls(
            track_ids,
            {track_id: code for code, track_id in enumerate(track_ids)},
            rows,
            by_track[order],
            _starts(by_owner, len(rows)),
            by_owner[turned],
            _starts(by_track, len(track_ids)),
        )

    @property
    def nbytes(self) -> int:
        """What the arrays hold (the id strings are the catalogue's, shared)."""
        parts = (self.tracks, self.owner_start, self.holders, self.track_start)
        return sum(int(part.nbytes) for part in parts)

    def co_listened(
        self, user_id: int, own_tracks: Iterable[str], most: int | None = None
    ) -> list[tuple[str, int, str]]:
        """Tracks other users play alongside this user's: (track id, users, shared track).

        Each other user counts once; a track is supported by every other user who shares at
        least one track with this user, and named after the first (by id) of the tracks
        those users share with this one. By track id; with `most`, only the `most` best
        supported (ties by track id).

        Only the runs of the user's own tracks and of the users who share one are read: the
        cost follows the user's overlap with others, not the number of users.
        """
        import numpy as np

        own = np.array([self.codes[t] for t in set(own_tracks) if t in self.codes], dtype=np.intp)
        holders = self.holders[_runs(self.track_start, own)]
        sharing = np.unique(holders[holders != self.rows.get(user_id, -1)])
        mine = np.zeros(len(self.track_ids), dtype=bool)
        mine[own] = True
        entries = _runs(self.owner_start, sharing)
        tracks = self.tracks[entries]
        owner = np.repeat(np.arange(len(sharing)), np.diff(self.owner_start)[sharing])
        held = mine[tracks]
        # A run is ascending: an owner's first shared entry is its first shared track.
        _, first = np.unique(owner[held], return_index=True)
        seed = tracks[held][first][owner]
        return self._ranked(tracks[~held], seed[~held], most)

    def _ranked(
        self, tracks: NDArray[np.int32], seeds: NDArray[np.int32], most: int | None
    ) -> list[tuple[str, int, str]]:
        import numpy as np

        support = np.bincount(tracks, minlength=len(self.track_ids))
        named = np.full(len(self.track_ids), len(self.track_ids), dtype=np.int32)
        np.minimum.at(named, tracks, seeds)
        found = np.flatnonzero(support)
        if most is not None:
            found = found[np.lexsort((found, -support[found]))][:most]
        ids = self.track_ids
        return [(ids[code], int(support[code]), ids[named[code]]) for code in found.tolist()]


def _starts(keys: NDArray[np.int32], count: int) -> NDArray[np.intp]:
    """Where each key's run begins in `keys` sorted, and where the last ends."""
    import numpy as np

    starts = np.zeros(count + 1, dtype=np.intp)
    np.cumsum(np.bincount(keys, minlength=count), out=starts[1:])
    return starts


def _runs(starts: NDArray[np.intp], keys: NDArray[np.intp]) -> NDArray[np.intp]:
    """The positions of these keys' runs, run after run."""
    import numpy as np

    lengths = starts[keys + 1] - starts[keys]
    skipped = np.cumsum(lengths) - lengths  # where each run begins in the answer
    return np.arange(int(lengths.sum())) + np.repeat(starts[keys] - skipped, lengths)
