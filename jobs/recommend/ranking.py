"""One ranking over every source's candidates: fit, affinity and support, with a share of
discoveries (picks by artists new to the user) and no artist filling the list."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobs.recommend.protocol import SOURCE_NAMES, Candidate
from jobs.recommend.reasons import pick_reason
from jobs.recommend.taste import TasteSpace, feature_rows

# numpy is imported where a ranking computes, not here: see jobs.clustering.
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

FIT_WEIGHT, AFFINITY_WEIGHT, SUPPORT_WEIGHT, POPULARITY_WEIGHT = 0.5, 0.3, 0.2, 0.2
# Unknown popularity (Spotify no longer sends it to development-mode apps) counts as middling.
NEUTRAL_POPULARITY = 50.0
# Found by another source too: independent evidence the track belongs here.
AGREEMENT_BONUS = 0.1
DEFAULT_DISCOVERY = 0.4
# A known artist's unplayed track gets played about as often as any other of what is left of
# the artist's own records: the user meets about as many new tracks of every artist whose
# records they play (how often they play the artist and how many tracks they already met
# cancel out), so the few tracks left of a small catalogue are the likeliest next plays.
# Weighted to lead among known artists' tracks, fit breaking ties (at 1.0 the other terms
# outweighed it: 0.86 hits per user against 0.93 at 4.0, seed 11, 200 users).
EXPECTED_WEIGHT = 4.0
# An artist the user met only as a guest on others' records: their own records are met less
# (0.5% of them hit against 1.6%, seed 11, 1,000 users).
GUEST_REACH = 0.3


@dataclass(frozen=True)
class Pick:
    track_id: str
    reason: str
    score: float
    source: str
    new_artist: bool


@dataclass
class _Merged:
    track_id: str
    artist_ids: tuple[str, ...]
    artist_names: tuple[str, ...]
    origins: dict[str, str] = field(default_factory=dict)
    support: float = 0.0
    features: Mapping[str, float] | None = None
    popularity: float | None = None
    artist_share: float | None = None

    def artist_keys(self) -> tuple[str, ...]:
        # Some sources name artists without ids; the name then stands for the artist.
        names = tuple(f"name:{n.casefold()}" for n in self.artist_names)
        return self.artist_ids or names or (self.track_id,)


@dataclass(frozen=True)
class RankingOptions:
    limit: int = 50
    # The share of picks by artists new to the user, exactly while both kinds of candidate
    # last; None sets no share, and picks go on merit alone.
    discovery: float | None = DEFAULT_DISCOVERY
    per_artist_cap: int = 2
    source_order: Sequence[str] = SOURCE_NAMES


DEFAULT_OPTIONS = RankingOptions()


def rank_candidates(
    candidates: Iterable[Candidate],
    *,
    exclude: Set[str],
    space: TasteSpace,
    affinity: Mapping[str, float],
    known_names: Set[str] = frozenset(),
    played_once: Mapping[str, int] | None = None,
    options: RankingOptions = DEFAULT_OPTIONS,
) -> list[Pick]:
    """The best `limit` tracks, exactly a `discovery` share of them by artists new to the user
    (less or more only where new or known candidates run short).

    `played_once` (artist -> their tracks the user played exactly once, listing every artist
    whose own records the user played) tells those artists from ones met only as guests;
    without it, every known artist counts as played.
    """
    import numpy as np

    merged = _merge(candidates, exclude, options.source_order)
    if not merged:
        return []
    new = np.array([_is_new(m, affinity, known_names) for m in merged], dtype=bool)
    closeness, fitted = space.fit(feature_rows([m.features for m in merged]))
    expected = _expected_plays(merged, affinity, played_once or {})
    scores = _scores(merged, closeness, affinity, expected)
    ids = np.array([m.track_id for m in merged])
    order = np.lexsort((ids, -scores)).tolist()
    chosen = _select(merged, order, new, options)
    return [
        Pick(
            track_id=merged[i].track_id,
            reason=pick_reason(bool(new[i]), space.label(int(fitted[i])), merged[i].origins),
            score=round(float(scores[i]), 4),
            source=next(iter(merged[i].origins)),
            new_artist=bool(new[i]),
        )
        for i in chosen
    ]


def _merge(
    candidates: Iterable[Candidate], exclude: Set[str], source_order: Sequence[str]
) -> list[_Merged]:
    """One entry per track: support summed, the first features kept, origins in source order."""
    merged: dict[str, _Merged] = {}
    for c in candidates:
        if c.track_id in exclude:
            continue
        entry = merged.setdefault(c.track_id, _Merged(c.track_id, c.artist_ids, c.artist_names))
        entry.artist_ids = entry.artist_ids or c.artist_ids
        entry.origins.setdefault(c.origin, c.seed_name)
        entry.support += max(c.support, 0.0)
        entry.features = entry.features if entry.features is not None else c.features
        entry.popularity = entry.popularity if entry.popularity is not None else c.popularity
        if c.artist_share is not None:
            entry.artist_share = max(entry.artist_share or 0.0, c.artist_share)
    rank = {name: i for i, name in enumerate(source_order)}
    for entry in merged.values():
        ordered = sorted(entry.origins.items(), key=lambda item: rank.get(item[0], len(rank)))
        entry.origins = dict(ordered)
    return list(merged.values())


def _is_new(entry: _Merged, affinity: Mapping[str, float], known_names: Set[str]) -> bool:
    if any(a in affinity for a in entry.artist_ids):
        return False
    return not any(n.casefold() in known_names for n in entry.artist_names)


def _expected_plays(
    merged: Sequence[_Merged], affinity: Mapping[str, float], played_once: Mapping[str, int]
) -> NDArray[np.float64]:
    """Up to a common factor, how often the user will play each known artist's unplayed
    track: the track's share of what is left of its first-credited artist's records (0 where
    no share is known), less for an artist none of whose records the user played."""
    import numpy as np

    def reach(artist: str) -> float:
        if artist not in affinity:
            return 0.0
        return 1.0 if not played_once or artist in played_once else GUEST_REACH

    return np.array(
        [
            reach(m.artist_ids[0]) * m.artist_share if m.artist_ids and m.artist_share else 0.0
            for m in merged
        ],
        dtype=np.float64,
    )


def _scores(
    merged: Sequence[_Merged],
    closeness: NDArray[np.float64],
    affinity: Mapping[str, float],
    expected: NDArray[np.float64],
) -> NDArray[np.float64]:
    import numpy as np

    liked = np.array(
        [max((affinity.get(a, 0.0) for a in m.artist_ids), default=0.0) for m in merged]
    )
    support = np.array([m.support for m in merged])
    # Log scale: the tenth co-listener adds less than the second.
    top = math.log1p(max(float(support.max()), 1e-9))
    agreement = np.array([len(m.origins) - 1 for m in merged], dtype=np.float64)
    popular = np.array(
        [NEUTRAL_POPULARITY if m.popularity is None else m.popularity for m in merged]
    )
    top_expected = max(float(expected.max()), 1e-9)
    return np.asarray(
        FIT_WEIGHT * closeness
        + AFFINITY_WEIGHT * liked
        + EXPECTED_WEIGHT * expected / top_expected
        + SUPPORT_WEIGHT * np.log1p(support) / top
        + AGREEMENT_BONUS * np.minimum(agreement, 2.0)
        + POPULARITY_WEIGHT * np.clip(popular, 0.0, 100.0) / 100.0,
        dtype=np.float64,
    )


def _select(
    merged: Sequence[_Merged], order: Sequence[int], new: NDArray[np.bool_], options: RankingOptions
) -> list[int]:
    """Each kind's share, best first, artists capped; a short kind's places go to the other."""
    limit = max(options.limit, 0)
    cap = options.per_artist_cap
    per_artist: Counter[str] = Counter()
    chosen: list[int] = []
    if options.discovery is not None:
        quota = math.ceil(min(max(options.discovery, 0.0), 1.0) * limit - 1e-9)
        fresh, known = [i for i in order if new[i]], [i for i in order if not new[i]]
        chosen = _take(merged, fresh, quota, per_artist, cap)
        chosen += _take(merged, known, limit - quota, per_artist, cap)
    # A kind that ran short (or no share at all): the rest go on merit.
    chosen += _take(merged, order, limit - len(chosen), per_artist, cap, chosen)
    # Then the cap gives way rather than leave places empty.
    taken = set(chosen)
    chosen += [i for i in order if i not in taken][: limit - len(chosen)]
    taken = set(chosen)
    in_order = [i for i in order if i in taken]
    return _interleave([i for i in in_order if not new[i]], [i for i in in_order if new[i]])


def _take(
    merged: Sequence[_Merged],
    pool: Sequence[int],
    count: int,
    per_artist: Counter[str],
    cap: int,
    skip: Sequence[int] = (),
) -> list[int]:
    taken: list[int] = []
    skipped = set(skip)
    for i in pool:
        if len(taken) >= count:
            break
        keys = merged[i].artist_keys()
        if i in skipped or any(per_artist[k] >= cap for k in keys):
            continue
        taken.append(i)
        per_artist.update(keys)
    return taken


def _interleave(known: Sequence[int], fresh: Sequence[int]) -> list[int]:
    """Both lists in their own order, mixed so every prefix holds about the same share of each."""
    total = len(known) + len(fresh)
    share = len(fresh) / total if total else 0.0
    result: list[int] = []
    k = f = 0
    while k < len(known) or f < len(fresh):
        want_fresh = f < (len(result) + 1) * share - 1e-9 or k >= len(known)
        if want_fresh and f < len(fresh):
            result.append(fresh[f])
            f += 1
        else:
            result.append(known[k])
            k += 1
    return result
