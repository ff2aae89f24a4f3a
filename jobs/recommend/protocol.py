"""What a candidate source is given (the user's taste) and what it answers (candidates)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from jobs.clustering import Clustering
from settings import RECOMMENDATION_SOURCES
from spotify_models import Track

SPOTIFY = "spotify"
RECCOBEATS = "reccobeats"
CSV = "csv"
ARTISTS = "artists"
CO_LISTENERS = "co-listeners"
COLLABORATORS = "collaborators"
SEARCH = "search"
# The default order (declared with the setting): a source earlier in the list names a pick
# several sources found.
SOURCE_NAMES = RECOMMENDATION_SOURCES
# The ranking takes at most two tracks per artist, so 50 picks of known artists need 25 of
# them. Which 25 matters most: those with the fewest records left, and what is left is known
# only once a catalogue is read, so sources of known artists' catalogues read this many (all
# of most users' known artists). Hits per user among known artists' tracks by artists read
# (seed 7, 1,000 users): 36: 0.93, 72: 1.07, 120: 1.16, 150: 1.18, every one: 1.20.
KNOWN_ARTISTS_READ = 150


@dataclass(frozen=True)
class Candidate:
    """A track some source offers, with why (`seed_name`) and how strongly (`support`)."""

    track_id: str
    artist_ids: tuple[str, ...]
    artist_names: tuple[str, ...]
    origin: str
    seed_name: str
    support: float = 1.0
    features: Mapping[str, float] | None = None
    popularity: float | None = None  # 0..100 where a source knows it (the CSV does)
    # 1 / the unplayed tracks found of the track's first-credited artist, where that artist is
    # known and a source read their whole catalogue (`artists` does): the track's share of
    # what is left of the artist's own records. A guest spot on another's record has none:
    # the other's listeners play it, not the guest's.
    artist_share: float | None = None

    @classmethod
    def of(cls, track: Track, origin: str, seed_name: str, support: float = 1.0) -> Candidate:
        """`track` as a candidate from the source `origin`."""
        artists = track.artists
        ids, names = tuple(a.id for a in artists), tuple(a.name for a in artists)
        return cls(track.id, ids, names, origin, seed_name, support)


@dataclass(frozen=True)
class Taste:
    """Everything a source may need to know about the user, computed once per snapshot."""

    user_id: int
    own_track_ids: frozenset[str]
    affinity: Mapping[str, float]
    artist_names: Mapping[str, str]
    seed_tracks: tuple[tuple[str, str], ...] = ()
    clustering: Clustering | None = None
    user_features: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    wanted: int = 150
    # Artist -> how many of their tracks the user played exactly once (taste.played_once);
    # empty where the service holds no play history for the user.
    played_once: Mapping[str, int] = field(default_factory=dict)

    @property
    def ranked_artists(self) -> list[str]:
        """Known artists, best liked first."""
        return sorted(self.affinity, key=lambda a: (-self.affinity[a], a))

    @property
    def still_meeting(self) -> list[str]:
        """Known artists whose unplayed tracks the user is likeliest to play next first: most
        tracks played once, then best liked (the order of `ranked_artists` without plays)."""
        once = self.played_once
        return sorted(self.affinity, key=lambda a: (-once.get(a, 0), -self.affinity[a], a))

    @property
    def known_names(self) -> frozenset[str]:
        """Lower-cased names of known artists, for sources that name artists without ids."""
        return frozenset(name.casefold() for name in self.artist_names.values())


class CandidateSource(Protocol):
    """Somewhere candidates come from; `candidates` may raise, the gatherer fails soft."""

    name: str

    def available(self) -> bool: ...

    async def candidates(self, taste: Taste) -> list[Candidate]: ...
