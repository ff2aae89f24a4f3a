"""RECOMMENDATION_SOURCES by name: the sources to ask, in order, built from what is configured."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from db.database import Database
from jobs.recommend.artists import ArtistsSource
from jobs.recommend.co_listeners import CoListenersSource
from jobs.recommend.collaborators import CollaboratorsSource
from jobs.recommend.csv_pool import CsvCandidateSource, main_genres
from jobs.recommend.protocol import (
    ARTISTS,
    CO_LISTENERS,
    COLLABORATORS,
    CSV,
    RECCOBEATS,
    SEARCH,
    SOURCE_NAMES,
    SPOTIFY,
    CandidateSource,
    Taste,
)
from jobs.recommend.reccobeats import ReccoBeatsSource
from jobs.recommend.search import GenresOf, SearchSource
from jobs.recommend.spotify import SpotifySource
from settings import check_names
from spotify_client import SpotifyClient


@dataclass(frozen=True)
class SourceContext:
    """What sources are built from; a source whose needs are missing is left out."""

    database: Database
    spotify: SpotifyClient
    http: httpx.AsyncClient | None = None
    reccobeats_url: str = ""
    csv: CsvCandidateSource | None = None


def build_recommendation_sources(
    names: Sequence[str], context: SourceContext
) -> list[CandidateSource]:
    """The named sources in order (every one that can be built when `names` is empty)."""
    check_names(names, SOURCE_NAMES)
    chosen = list(dict.fromkeys(names)) or list(SOURCE_NAMES)
    built = (_build(name, context) for name in chosen)
    return [source for source in built if source is not None]


def _build(name: str, c: SourceContext) -> CandidateSource | None:
    if name == RECCOBEATS:
        return ReccoBeatsSource(c.database, c.http, c.reccobeats_url) if c.http else None
    if name == CSV:
        return c.csv
    if name == SEARCH:
        return SearchSource(c.database, c.spotify, _genres_from(c.csv))
    simple: dict[str, Callable[[], CandidateSource]] = {
        SPOTIFY: lambda: SpotifySource(c.database, c.spotify),
        ARTISTS: lambda: ArtistsSource(c.database, c.spotify),
        CO_LISTENERS: lambda: CoListenersSource(c.database),
        COLLABORATORS: lambda: CollaboratorsSource(c.database, c.spotify),
    }
    return simple[name]()


def _genres_from(csv: CsvCandidateSource | None) -> GenresOf:
    def genres(taste: Taste) -> list[str]:
        return main_genres(csv.loaded() if csv else None, sorted(taste.own_track_ids))

    return genres
