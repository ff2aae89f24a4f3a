"""The local recommender end to end: gather candidates, add features, rank, store the picks."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

import anyio.to_thread

from db import catalogue
from db.database import Database
from jobs.recommend.gather import Gathered, gather_candidates
from jobs.recommend.protocol import Candidate, CandidateSource, Taste
from jobs.recommend.ranking import DEFAULT_OPTIONS, Pick, RankingOptions, rank_candidates
from jobs.recommend.taste import TasteSpace
from spotify_client import QuotaExceeded, SpotifyClient, SpotifyError

logger = logging.getLogger(__name__)

# Picks from the CSV may be unknown to Spotify; a few spare ones replace those dropped.
SPARE_PICKS = 15

FeatureLookup = Callable[[Sequence[str]], Awaitable[Mapping[str, Mapping[str, float]]]]


@dataclasses.dataclass(frozen=True)
class LocalPicks:
    picks: list[Pick]
    gathered: Gathered


class LocalRecommender:
    def __init__(
        self,
        database: Database,
        spotify: SpotifyClient,
        sources: Sequence[CandidateSource],
        features: FeatureLookup,
        options: RankingOptions = DEFAULT_OPTIONS,
    ) -> None:
        self._database = database
        self._spotify = spotify
        self._sources = sources
        self._features = features
        self._options = options

    async def recommend(self, taste: Taste) -> LocalPicks:
        """Up to `limit` picks, every one stored in the catalogue."""
        gathered = await gather_candidates(self._sources, taste)
        candidates = await self._with_features(gathered.candidates)
        options = dataclasses.replace(self._options, limit=self._options.limit + SPARE_PICKS)
        picks = await anyio.to_thread.run_sync(functools.partial(_rank, candidates, taste, options))
        stored = await self._hydrate([pick.track_id for pick in picks])
        kept = [pick for pick in picks if pick.track_id in stored][: self._options.limit]
        return LocalPicks(kept, gathered)

    async def _with_features(self, candidates: list[Candidate]) -> list[Candidate]:
        wanted = sorted({c.track_id for c in candidates if c.features is None})
        stored = await self._database.run(catalogue.stored_track_ids, wanted)
        found = await self._features([t for t in wanted if t in stored]) if stored else {}
        return [
            dataclasses.replace(c, features=found[c.track_id]) if c.track_id in found else c
            for c in candidates
        ]

    async def _hydrate(self, track_ids: Sequence[str]) -> set[str]:
        """Fetch from Spotify the picked tracks the catalogue lacks; answer those now stored."""
        stored = await self._database.run(catalogue.stored_track_ids, track_ids)
        missing = [t for t in track_ids if t not in stored]
        if not missing:
            return stored
        try:
            tracks = await self._spotify.tracks(missing)
        except QuotaExceeded:
            raise
        except SpotifyError as exc:
            logger.warning("could not look up %d picked tracks: %s", len(missing), exc)
            return stored
        await self._database.run(catalogue.upsert_tracks, tracks)
        return stored | {track.id for track in tracks}


def _rank(candidates: Sequence[Candidate], taste: Taste, options: RankingOptions) -> list[Pick]:
    return rank_candidates(
        candidates,
        exclude=taste.own_track_ids,
        space=TasteSpace(taste.clustering, taste.user_features),
        affinity=taste.affinity,
        known_names=taste.known_names,
        played_once=taste.played_once,
        options=options,
    )
