"""The local recommender over an in-memory corpus, for the offline evaluation.

Artists are named, not numbered, here: a corpus joins the CSV (names only) with stored
tracks, so a casefolded artist name is the artist's identity throughout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from jobs.clustering import cluster_tracks
from jobs.recommend.co_listening import CoListening
from jobs.recommend.csv_pool import CsvCatalogue, nearest_new_rows
from jobs.recommend.protocol import (
    ARTISTS,
    CO_LISTENERS,
    COLLABORATORS,
    CSV,
    KNOWN_ARTISTS_READ,
    Candidate,
    Taste,
)
from jobs.recommend.ranking import Pick, RankingOptions, rank_candidates
from jobs.recommend.taste import TasteSpace, artist_affinity, listening_rate, played_once

ARTIST_TRACKS = 150  # candidates from known artists' catalogues, at least
GUESTS = 12


@dataclass(frozen=True)
class History:
    """One user's dated plays and saves: (track id, when)."""

    user: str
    events: Sequence[tuple[str, dt.datetime]]
    true_styles: frozenset[str] | None = None


@dataclass
class Corpus:
    """Every track the evaluation knows (features, artists, style, popularity) and the users."""

    index: CsvCatalogue
    histories: list[History]

    @cached_property
    def lead_rows(self) -> dict[str, list[int]]:
        """Artist -> the rows they are credited first on: their own records."""
        rows: dict[str, list[int]] = defaultdict(list)
        for row, names in enumerate(self.index.artists):
            if names:
                rows[names[0].casefold()].append(row)
        return dict(rows)

    @cached_property
    def rows_by_artist(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = defaultdict(list)
        for row, names in enumerate(self.index.artists):
            for name in names:
                rows[name.casefold()].append(row)
        return dict(rows)

    def artists_of(self, track_id: str) -> tuple[str, ...]:
        row = self.index.row_of.get(track_id)
        return () if row is None else tuple(n.casefold() for n in self.index.artists[row])


@dataclass(frozen=True)
class Profile:
    """What the recommender may know of a user: their tracks before the cut."""

    tracks: Sequence[str]
    taste: Taste
    # Artist affinity as the plays' counts alone: what the recommender ranked by before it
    # weighed how often an artist is played since met (the known-artists baseline keeps it).
    counted_affinity: Mapping[str, float] = field(default_factory=dict)


def profile(corpus: Corpus, tracks: Sequence[str]) -> Profile:
    """The user's taste from their (dated, before the cut) tracks, in time order."""
    known = [t for t in tracks if t in corpus.index.row_of]
    artists = [corpus.artists_of(t) for t in known]
    features = {t: corpus.index.feature_dict(corpus.index.row_of[t]) for t in dict.fromkeys(known)}
    # No top lists offline: how often each artist is played since met stands in for them.
    affinity = listening_rate(artists)
    taste = Taste(
        user_id=0,
        own_track_ids=frozenset(tracks),
        affinity=affinity,
        artist_names={a: a for a in affinity},
        clustering=cluster_tracks(features),
        user_features=features,
        played_once=played_once([(t, a[0]) for t, a in zip(known, artists, strict=True) if a]),
    )
    return Profile(known, taste, artist_affinity({}, artists))


def offline_candidates(
    corpus: Corpus, taste: Taste, co_listened: Mapping[str, tuple[int, str]]
) -> list[Candidate]:
    """What the CSV, artists, co-listeners and collaborators sources would offer."""
    space = TasteSpace(taste.clustering, taste.user_features)
    rows = nearest_new_rows(
        corpus.index, space, frozenset(taste.affinity), taste.own_track_ids, taste.wanted * 3
    )
    found = [
        row_candidate(corpus, row, CSV, corpus.index.genres[corpus.index.genre_codes[row]])
        for row in rows
    ]
    found += artist_candidates(corpus, taste, artists=KNOWN_ARTISTS_READ)
    found += collaborator_candidates(corpus, taste)
    return found + co_listener_candidates(corpus, taste, co_listened)


def co_listener_candidates(
    corpus: Corpus, taste: Taste, co_listened: Mapping[str, tuple[int, str]]
) -> list[Candidate]:
    """The tracks most other users play alongside the user's, best supported first."""
    usable = [t for t in co_listened if t in corpus.index.row_of and t not in taste.own_track_ids]
    usable.sort(key=lambda t: (-co_listened[t][0], t))
    found = []
    for track_id in usable[: taste.wanted * 2]:
        users, seed = co_listened[track_id]
        row = corpus.index.row_of[track_id]
        found.append(row_candidate(corpus, row, CO_LISTENERS, seed, float(users)))
    return found


def row_candidate(
    corpus: Corpus, row: int, origin: str, seed: str, support: float = 1.0
) -> Candidate:
    names = corpus.index.artists[row]
    return Candidate(
        track_id=corpus.index.track_ids[row],
        artist_ids=tuple(n.casefold() for n in names),
        artist_names=names,
        origin=origin,
        seed_name=seed,
        support=support,
        features=corpus.index.feature_dict(row),
        popularity=float(corpus.index.popularity[row]),
    )


def artist_candidates(
    corpus: Corpus, taste: Taste, order: Sequence[str] | None = None, artists: int = 0
) -> list[Candidate]:
    """The unplayed tracks of known artists in `order` (default: those the user is still
    meeting first), at least ARTIST_TRACKS tracks of at least `artists` artists; each of an
    artist's own records with its share of what is left of them."""
    found: list[Candidate] = []
    for read, artist in enumerate(taste.still_meeting if order is None else order, start=1):
        rows = corpus.rows_by_artist.get(artist, [])
        fresh = [row for row in rows if corpus.index.track_ids[row] not in taste.own_track_ids]
        own = sum(1 for row in fresh if corpus.artists_of(corpus.index.track_ids[row])[0] == artist)
        for row in fresh:
            lead = corpus.artists_of(corpus.index.track_ids[row])[0] == artist
            candidate = row_candidate(corpus, row, ARTISTS, artist)
            found.append(dataclasses.replace(candidate, artist_share=1 / own if lead else None))
        if len(found) >= ARTIST_TRACKS and read >= artists:
            break
    return found


def collaborator_candidates(corpus: Corpus, taste: Taste) -> list[Candidate]:
    guests: dict[str, str] = {}
    for artist in taste.ranked_artists:
        for row in corpus.rows_by_artist.get(artist, []):
            for name in corpus.index.artists[row]:
                if name.casefold() not in taste.affinity:
                    guests.setdefault(name.casefold(), artist)
    chosen = list(guests)[:GUESTS]
    return [
        row_candidate(
            corpus, row, COLLABORATORS, f"{guest} is credited on {guests[guest]}'s records"
        )
        for guest in chosen
        for row in corpus.rows_by_artist.get(guest, [])
        if corpus.index.track_ids[row] not in taste.own_track_ids
    ]


def recommend_offline(
    corpus: Corpus,
    user: Profile,
    co_listened: Mapping[str, tuple[int, str]],
    options: RankingOptions,
) -> list[Pick]:
    """The local recommender's picks from offline sources only."""
    candidates = offline_candidates(corpus, user.taste, co_listened)
    return rank_candidates(
        candidates,
        exclude=user.taste.own_track_ids,
        space=TasteSpace(user.taste.clustering, user.taste.user_features),
        affinity=user.taste.affinity,
        played_once=user.taste.played_once,
        options=options,
    )


def co_listened_tracks(
    listening: CoListening, user: int, own: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """Track -> (other users who share a track with this one and play it, the first track by
    id those users share with this one): the co-listeners source's own definition."""
    return {track: (users, seed) for track, users, seed in listening.co_listened(user, own)}
