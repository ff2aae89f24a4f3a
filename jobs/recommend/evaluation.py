"""Offline evaluation: hide each user's plays and saves after a cut, recommend from what came
before, and score the picks against what was hidden, beside simple baselines.

An artist is new to a user when it appears nowhere in their data before the cut.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jobs.recommend.co_listening import CoListening
from jobs.recommend.offline import (
    Corpus,
    History,
    Profile,
    artist_candidates,
    co_listened_tracks,
    co_listener_candidates,
    profile,
    recommend_offline,
)
from jobs.recommend.ranking import DEFAULT_DISCOVERY, RankingOptions, rank_candidates
from jobs.recommend.taste import TasteSpace

OURS = "ours"
POPULAR = "popular-in-styles"
KNOWN_ARTISTS = "known-artists"
RANDOM = "random"
HIDDEN_SHARE = 0.2  # without --cut, the latest fifth of all users' events is hidden
MIN_STYLE_TRACKS = 2  # a style counts as the user's once two of their tracks have it

Method = Callable[["UserCase"], list[str]]
# A method whose share of new artists is a parameter (ours: DISCOVERY), so it can be run at
# another method's novelty for the same user.
TunableMethod = Callable[["UserCase", float], list[str]]
Progress = Callable[[Iterable["UserCase"]], Iterable["UserCase"]]


@dataclass(frozen=True)
class UserCase:
    """One user's split: what the recommender may see, and what it should find."""

    history: History
    before: Sequence[str]
    hidden: frozenset[str]
    profile: Profile
    co_listened: Mapping[str, tuple[int, str]]
    styles: frozenset[str]


@dataclass
class MethodScores:
    hits: list[float] = field(default_factory=list)
    new_hits: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    novelty: list[float] = field(default_factory=list)
    in_style: list[float] = field(default_factory=list)
    diversity: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    picked: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Row:
    method: str
    users: int
    hit_rate: float
    new_hit_rate: float  # hits among hidden tracks by artists new to the user
    recall: float
    novelty: float
    in_style: float
    diversity: float
    coverage: float
    ms_per_user: float
    matches: str | None = None  # the method whose novelty this row was run at, user by user
    # Per user, in the same user order in every row: for paired comparisons between rows.
    user_hits: tuple[float, ...] = ()
    user_recall: tuple[float, ...] = ()


def split_history(history: History, cut: dt.datetime) -> tuple[list[str], set[str]]:
    """(tracks before the cut in time order, tracks after it the user had not met before)."""
    events = sorted(history.events, key=lambda e: e[1])
    seen = [t for t, at in events if at < cut]
    return seen, {t for t, at in events if at >= cut} - set(seen)


def default_cut(histories: Iterable[History]) -> dt.datetime | None:
    """The moment from which the latest fifth of every user's events, taken together, falls.

    One date for everyone, not each user's own latest fifth: co-listeners are other users'
    plays before the cut, and with a cut per user, one user's picks could draw on another's
    plays from after the first user's hidden stretch began, which a recommender running at
    that time could not have seen.
    """
    times = sorted(at for history in histories for _, at in history.events)
    if not times:
        return None
    return times[min(len(times) - 1, max(1, len(times) - round(len(times) * HIDDEN_SHARE)))]


def user_cases(
    corpus: Corpus, cut: dt.datetime | None, users: Sequence[str] | None = None
) -> Iterator[UserCase]:
    """Each chosen user with hidden tracks the corpus knows, in corpus order (without a cut,
    at `default_cut` of every history in the corpus)."""
    cut = cut or default_cut(corpus.histories)
    if cut is None:
        return
    splits = {h.user: split_history(h, cut) for h in corpus.histories}
    befores = {u: frozenset(before) for u, (before, _) in splits.items()}
    # Every user's tracks before the cut, indexed once: asking each user's co-listeners of
    # the others' sets one by one made the evaluation grow with the square of its users.
    numbers = {user: number for number, user in enumerate(befores)}
    listening = CoListening.of((numbers[u], t) for u, tracks in befores.items() for t in tracks)
    for history in corpus.histories:
        before, hidden = splits[history.user]
        hidden &= set(corpus.index.row_of)
        if (users and history.user not in users) or not before or not hidden:
            continue
        yield UserCase(
            history=history,
            before=before,
            hidden=frozenset(hidden),
            profile=profile(corpus, before),
            co_listened=co_listened_tracks(listening, numbers[history.user], befores[history.user]),
            styles=history.true_styles or _observed_styles(corpus, before),
        )


def _observed_styles(corpus: Corpus, tracks: Sequence[str]) -> frozenset[str]:
    styles = Counter(corpus.index.genre_of(t) for t in dict.fromkeys(tracks))
    return frozenset(s for s, n in styles.items() if s and n >= MIN_STYLE_TRACKS)


def baselines(corpus: Corpus, k: int, seed: int = 0) -> dict[str, Method]:
    """Most popular in the user's styles, more by known artists (today's), random."""
    by_style = _popular_by_style(corpus)
    everything = corpus.index.track_ids

    def popular(case: UserCase) -> list[str]:
        ranked = [t for s in sorted(case.styles) for t in by_style.get(s, [])[: k * 4]]
        ranked.sort(key=lambda t: -int(corpus.index.popularity[corpus.index.row_of[t]]))
        return _fresh(ranked, case, k)

    def known_artists(case: UserCase) -> list[str]:
        # As the recommender did before it weighed how often an artist is played since met
        # and what is left of each catalogue: artists by play count, picks on merit.
        taste = dataclasses.replace(case.profile.taste, affinity=case.profile.counted_affinity)
        found = artist_candidates(corpus, taste, order=taste.ranked_artists)
        candidates = [dataclasses.replace(c, artist_share=None) for c in found]
        candidates += co_listener_candidates(corpus, taste, case.co_listened)
        picks = rank_candidates(
            candidates,
            exclude=taste.own_track_ids,
            space=TasteSpace(taste.clustering, taste.user_features),
            affinity=taste.affinity,
            options=RankingOptions(limit=k, discovery=None),  # on merit alone, as before
        )
        return [p.track_id for p in picks]

    def random_picks(case: UserCase) -> list[str]:
        rng = random.Random(f"{seed}:{case.history.user}")
        return _fresh(rng.sample(everything, min(len(everything), k * 2)), case, k)

    return {POPULAR: popular, KNOWN_ARTISTS: known_artists, RANDOM: random_picks}


def _popular_by_style(corpus: Corpus) -> dict[str, list[str]]:
    rows: dict[str, list[int]] = defaultdict(list)
    for row, code in enumerate(corpus.index.genre_codes.tolist()):
        rows[corpus.index.genres[code]].append(row)
    return {
        style: [
            corpus.index.track_ids[r]
            for r in sorted(ids, key=lambda r: -int(corpus.index.popularity[r]))
        ]
        for style, ids in rows.items()
    }


def _fresh(ranked: Iterable[str], case: UserCase, k: int) -> list[str]:
    own = case.profile.taste.own_track_ids
    return [t for t in dict.fromkeys(ranked) if t not in own][:k]


def ours(corpus: Corpus, k: int, discovery: float = DEFAULT_DISCOVERY) -> Method:
    """The local recommender over the offline sources."""
    tunable = ours_at(corpus, k)
    return lambda case: tunable(case, discovery)


def ours_at(corpus: Corpus, k: int) -> TunableMethod:
    """The local recommender with DISCOVERY given per user."""

    def picks(case: UserCase, discovery: float) -> list[str]:
        options = RankingOptions(limit=k, discovery=discovery)
        chosen = recommend_offline(corpus, case.profile, case.co_listened, options)
        return [p.track_id for p in chosen]

    return picks


def matched_name(method: str, other: str) -> str:
    """The row of `method` run at `other`'s novelty."""
    return f"{method}@{other}"


@dataclass(frozen=True)
class Matched:
    """Run `method` for each user with DISCOVERY set to each of `to`'s novelty for that user.

    DISCOVERY is an exact share (50 picks: in steps of 0.02, rounded up), so the matched row
    has the other's novelty unless new or known candidates run short for a user: it compares
    hit rates at equal novelty.
    """

    name: str
    method: TunableMethod
    to: Sequence[str]


def evaluate(
    corpus: Corpus,
    methods: Mapping[str, Method],
    *,
    cut: dt.datetime | None = None,
    k: int = 50,
    users: Sequence[str] | None = None,
    matched: Matched | None = None,
    progress: Progress = lambda cases: cases,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Row]:
    """One row per method: hit rate and recall at k, novelty, style fit, diversity, coverage;
    then, with `matched`, one per method it is run at the novelty of."""
    others = {matched_name(matched.name, o): o for o in matched.to} if matched else {}
    scores = {name: MethodScores() for name in [*methods, *others]}
    scorer = _Scorer(corpus, k, _feature_scale(corpus), clock)
    for case in progress(user_cases(corpus, cut, users)):
        for name, method in methods.items():
            scorer.record(case, scores[name], method, case)
        if matched:
            for name, other in others.items():
                share = scores[other].novelty[-1]
                scorer.record(case, scores[name], matched.method, case, share)
    size = len(corpus.index.track_ids)
    return [
        dataclasses.replace(_row(name, s, size), matches=others.get(name))
        for name, s in scores.items()
    ]


@dataclass(frozen=True)
class _Scorer:
    corpus: Corpus
    k: int
    scale: tuple[NDArray[np.float64], NDArray[np.float64]]
    clock: Callable[[], float]

    def record(
        self, case: UserCase, into: MethodScores, method: Callable[..., list[str]], *args: Any
    ) -> None:
        """Time one method's picks for one user and score them."""
        started = self.clock()
        picks = method(*args)[: self.k]
        into.seconds.append(self.clock() - started)
        _score(self.corpus, case, picks, self.scale, into)


def _feature_scale(corpus: Corpus) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    matrix = corpus.index.features.astype(np.float64)
    std = matrix.std(axis=0) if len(matrix) else np.ones(matrix.shape[1])
    mean = matrix.mean(axis=0) if len(matrix) else np.zeros(matrix.shape[1])
    return mean, np.where(std > 0, std, 1.0)


def _score(
    corpus: Corpus,
    case: UserCase,
    picks: Sequence[str],
    scale: tuple[NDArray[np.float64], NDArray[np.float64]],
    into: MethodScores,
) -> None:
    known = set(case.profile.taste.affinity)
    found = case.hidden.intersection(picks)
    into.hits.append(1.0 if found else 0.0)
    into.new_hits.append(1.0 if any(not known & set(corpus.artists_of(t)) for t in found) else 0.0)
    into.recall.append(len(found) / len(case.hidden))
    into.novelty.append(_share(picks, lambda t: not known & set(corpus.artists_of(t))))
    into.in_style.append(_share(picks, lambda t: corpus.index.genre_of(t) in case.styles))
    into.diversity.append(_diversity(corpus, picks, scale))
    into.picked.update(picks)


def _share(picks: Sequence[str], test: Callable[[str], bool]) -> float:
    return sum(1 for t in picks if test(t)) / len(picks) if picks else 0.0


def _diversity(
    corpus: Corpus, picks: Sequence[str], scale: tuple[NDArray[np.float64], NDArray[np.float64]]
) -> float:
    """Mean distance between two picks, in standard deviations of the whole catalogue (RMS)."""
    rows = [corpus.index.row_of[t] for t in picks if t in corpus.index.row_of]
    if len(rows) < 2:
        return 0.0
    points = (corpus.index.features[rows].astype(np.float64) - scale[0]) / scale[1]
    distance = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).mean(axis=2))
    upper = np.triu_indices(len(rows), k=1)
    return float(distance[upper].mean())


def _row(name: str, s: MethodScores, catalogue_size: int) -> Row:
    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else 0.0

    return Row(
        method=name,
        users=len(s.hits),
        hit_rate=mean(s.hits),
        new_hit_rate=mean(s.new_hits),
        recall=mean(s.recall),
        novelty=mean(s.novelty),
        in_style=mean(s.in_style),
        diversity=mean(s.diversity),
        coverage=len(s.picked) / catalogue_size if catalogue_size else 0.0,
        ms_per_user=1000 * mean(s.seconds),
        user_hits=tuple(s.hits),
        user_recall=tuple(s.recall),
    )


METHOD_WIDTH = 22


def format_table(rows: Sequence[Row], k: int) -> str:
    """The rows as an aligned text table, then a verdict per matched row."""
    header = (
        f"{'method':<{METHOD_WIDTH}} {'users':>5} {f'hit@{k}':>7} {f'new hit@{k}':>10} "
        f"{f'recall@{k}':>9} {'novelty':>7} "
        f"{'in style':>8} {'diversity':>9} {'coverage':>8} {'ms/user':>8}"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"{r.method:<{METHOD_WIDTH}} {r.users:>5} {r.hit_rate:>7.3f} {r.new_hit_rate:>10.3f} "
            f"{r.recall:>9.3f} {r.novelty:>7.2f} "
            f"{r.in_style:>8.2f} {r.diversity:>9.2f} {r.coverage:>8.3f} {r.ms_per_user:>8.1f}"
        )
    verdicts = matched_verdicts(rows, k)
    return "\n".join([*lines, *([""] if verdicts else []), *verdicts])


@dataclass(frozen=True)
class Paired:
    """One measure of two rows compared user by user: the mean of the differences, the
    standard error of that mean (none for one user), and on how many users the two differ."""

    difference: float
    error: float | None
    differing: int
    users: int

    def __str__(self) -> str:
        error = "" if self.error is None else f" ± {self.error:.3f}"
        return f"{self.difference:+.3f}{error}"

    @property
    def clear(self) -> bool:
        """At least two standard errors from no difference: more than a user or two's luck."""
        if self.error is None or self.differing == 0:
            return False
        return abs(self.difference) >= 2 * self.error


def paired(mine: Sequence[float], theirs: Sequence[float]) -> Paired:
    """`mine` minus `theirs`, per user (the same users in the same order)."""
    differences = np.asarray(mine, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)
    users = len(differences)
    if users == 0:
        return Paired(0.0, None, 0, 0)
    error = float(differences.std(ddof=1) / np.sqrt(users)) if users > 1 else None
    differing = int(np.count_nonzero(differences))
    return Paired(float(differences.mean()), error, differing, users)


def verdict(row: Row, other: Row) -> str:
    """'beats' (a higher hit rate at equal or better novelty), 'ties' or 'does NOT beat'."""
    if row.novelty < other.novelty or row.hit_rate < other.hit_rate:
        return "does NOT beat"
    return "beats" if row.hit_rate > other.hit_rate else "ties"


def _hits_compared(row: Row, hits: Paired) -> str:
    if hits.differing == 0:
        return "every user hit by both" if row.hit_rate == 1.0 else "the same users hit by both"
    apart = "" if hits.clear else ", less than 2 standard errors apart"
    if hits.error is None:
        apart = ", no standard error from one user"
    return f"{hits}: {hits.differing} of {hits.users} users differ{apart}"


def matched_verdicts(rows: Sequence[Row], k: int) -> list[str]:
    """Per matched row: does it beat the method whose novelty it was run at on hit rate?

    Beside it, the difference user by user (± its standard error) in hit rate and in recall:
    on a few users hit rate moves in whole users, and once both lists hit every user it ties
    while recall, every hidden track found, still tells them apart.
    """
    by_name = {r.method: r for r in rows}
    lines = []
    for r in rows:
        other = by_name.get(r.matches or "")
        if other is None:
            continue
        hits = paired(r.user_hits, other.user_hits)
        recall = paired(r.user_recall, other.user_recall)
        lines.append(
            f"{r.method}: {verdict(r, other)} {other.method} on hit@{k} "
            f"({r.hit_rate:.3f} vs {other.hit_rate:.3f}, {_hits_compared(r, hits)}) "
            f"at novelty {r.novelty:.2f} vs {other.novelty:.2f}; "
            f"recall@{k} {r.recall:.3f} vs {other.recall:.3f} ({recall})"
        )
    return lines
