"""What a candidate source is given (the user's taste) and what it answers (candidates)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # settings read the names without importing scikit-learn
    from jobs.clustering import Clustering

SPOTIFY = "spotify"
RECCOBEATS = "reccobeats"
CSV = "csv"
ARTISTS = "artists"
CO_LISTENERS = "co-listeners"
COLLABORATORS = "collaborators"
SEARCH = "search"
# The default order: a source earlier in the list names a pick several sources found.
SOURCE_NAMES = (SPOTIFY, RECCOBEATS, CSV, ARTISTS, CO_LISTENERS, COLLABORATORS, SEARCH)


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

    @property
    def ranked_artists(self) -> list[str]:
        """Known artists, best liked first."""
        return sorted(self.affinity, key=lambda a: (-self.affinity[a], a))

    @property
    def known_names(self) -> frozenset[str]:
        """Lower-cased names of known artists, for sources that name artists without ids."""
        return frozenset(name.casefold() for name in self.artist_names.values())


class CandidateSource(Protocol):
    """Somewhere candidates come from; `candidates` may raise, the gatherer fails soft."""

    name: str

    def available(self) -> bool: ...

    async def candidates(self, taste: Taste) -> list[Candidate]: ...
