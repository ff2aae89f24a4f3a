"""One user's snapshot: listening, catalogue, features, clusters, recommendations, one write."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import Counter
from collections.abc import Mapping, Sequence

import anyio.to_thread

from db import catalogue
from db.claims import ClaimedJob, JobOutcome
from db.database import Database
from db.history import tracks_played_once
from db.job_status import JobStatus
from db.library import saved_before
from db.polled_episodes import record_polled_episodes
from db.snapshots import (
    ClusterRows,
    RecommendationRow,
    SnapshotContent,
    record_plays,
    replace_refresh_token,
    stored_refresh_token,
    write_snapshot,
)
from db.token_cipher import TokenCipher, TokenCipherError
from db.users import clear_attention, set_user_status
from jobs.clustering import Clustering, cluster_tracks
from jobs.features import FeatureSource, collect_features
from jobs.listening import Listening, fetch_listening
from jobs.recommend.local import LocalRecommender
from jobs.recommend.protocol import CandidateSource, Taste
from jobs.recommend.ranking import DEFAULT_DISCOVERY, RankingOptions
from jobs.recommend.taste import artist_affinity
from spotify_client import EndpointUnavailable, InvalidGrant, SpotifyClient, Unauthorized
from spotify_models import Track

logger = logging.getLogger(__name__)

# What a person must do when Spotify refuses a user for good (User.status_reason).
REFUSED_AFTER_REFRESH = (
    "Spotify refuses this user's calls even with a fresh token (401): ask them to log in "
    "again at /auth/login, or store a new refresh token with `users add`"
)
NOT_ALLOWED = (
    "Spotify refuses every call for this user (403): a development-mode app serves only the "
    "users on its allow-list; add them under User Management in Spotify's developer dashboard"
)
RECOMMENDATIONS = 50
# Days between full listings of a user's saved tracks (other nights list only new ones).
FULL_LIBRARY_EVERY = 7
# Seconds one user's snapshot may wait on Spotify's rate limit (SNAPSHOT_USER_DEADLINE).
DEFAULT_USER_DEADLINE = 1800.0
SPOTIFY_SEEDS = 5
Features = dict[str, tuple[dict[str, float], str]]


class RecommenderUnavailable(RuntimeError):
    """RECOMMENDER=spotify, but this Spotify app has no /recommendations."""


@dataclasses.dataclass(frozen=True)
class Picks:
    source: str
    items: list[RecommendationRow]
    report: Mapping[str, object] = dataclasses.field(default_factory=dict)


class SnapshotPipeline:
    """Takes one user's snapshot for one date; the job queue calls it once per claimed job."""

    def __init__(
        self,
        database: Database,
        spotify: SpotifyClient,
        cipher: TokenCipher,
        feature_sources: Sequence[FeatureSource],
        recommender: str = "auto",
        recommendation_sources: Sequence[CandidateSource] = (),
        discovery: float = DEFAULT_DISCOVERY,
        *,
        user_deadline: float = DEFAULT_USER_DEADLINE,
    ) -> None:
        self.database = database
        self.user_deadline = user_deadline
        self.spotify = spotify
        self.cipher = cipher
        self.feature_sources = feature_sources
        self.recommender = recommender
        self.local = LocalRecommender(
            database,
            spotify,
            recommendation_sources,
            self._feature_values,
            RankingOptions(limit=RECOMMENDATIONS, discovery=discovery),
        )

    async def __call__(self, job: ClaimedJob) -> JobOutcome:
        # Every call of this user's snapshot, in whichever task, waits on 429s until then only,
        # and never past the run's own deadline.
        left = job.seconds_left()
        seconds = self.user_deadline if left is None else min(self.user_deadline, left)
        with self.spotify.deadline(seconds):
            return await self._take(job)

    async def _take(self, job: ClaimedJob) -> JobOutcome:
        try:
            refresh_token = await self._refresh_token(job.user_id)
        except TokenCipherError as exc:
            return JobOutcome(JobStatus.FAILED, str(exc))
        if refresh_token is None:
            return JobOutcome(JobStatus.REAUTH, "no refresh token is stored for this user")
        session = self.spotify.for_user(
            refresh_token, functools.partial(self._store_rotated_token, job.user_id)
        )
        try:
            listening = await fetch_listening(session, await self._earlier_saved(job))
        except InvalidGrant:
            await self.database.run(set_user_status, job.user_id, JobStatus.REAUTH)
            return JobOutcome(
                JobStatus.REAUTH, "Spotify refused the refresh token: the user must log in again"
            )
        except Unauthorized:
            return await self._needs_attention(job, REFUSED_AFTER_REFRESH)
        if listening.refused_everything():
            return await self._needs_attention(job, NOT_ALLOWED)
        await self._snapshot(job, listening)
        await self.database.run(clear_attention, job.user_id)
        return JobOutcome(JobStatus.DONE)

    async def _earlier_saved(self, job: ClaimedJob) -> list[Track]:
        """Saved tracks Spotify need not list again; none on the user's weekly full listing.

        Paging stops at saved tracks an earlier snapshot holds, so one removed since would
        stay; once a week (a weekday that depends on the user, to spread the cost) the whole
        library is listed afresh.
        """
        if (job.date.toordinal() + job.user_id) % FULL_LIBRARY_EVERY == 0:
            return []
        return await self.database.run(saved_before, job.user_id, job.date)

    async def _needs_attention(self, job: ClaimedJob, reason: str) -> JobOutcome:
        # Still tried every night, but no new failure: the status already says what to do.
        # (The job statuses are named as the user statuses they set.)
        await self.database.run(set_user_status, job.user_id, JobStatus.NEEDS_ATTENTION, reason)
        return JobOutcome(JobStatus.NEEDS_ATTENTION, reason)

    async def _refresh_token(self, user_id: int) -> str | None:
        encrypted = await self.database.run(stored_refresh_token, user_id)
        return self.cipher.decrypt(encrypted) if encrypted else None

    async def _store_rotated_token(self, user_id: int, refresh_token: str) -> None:
        await self.database.run(replace_refresh_token, user_id, self.cipher.encrypt(refresh_token))

    async def _snapshot(self, job: ClaimedJob, listening: Listening) -> None:
        await self._store_listening(job.user_id, listening)
        own = listening.track_ids()
        features = await self._features(own)
        user_features = {t: values for t, (values, _) in features.items()}
        clustering = await anyio.to_thread.run_sync(cluster_tracks, user_features)
        picks = await self._recommend(job, listening, user_features, clustering)
        content = _content(job, listening, features, clustering, picks)
        await self.database.run(write_snapshot, content)

    async def _store_listening(self, user_id: int, listening: Listening) -> None:
        await self.database.run(catalogue.upsert_artists, listening.artists())
        await self.database.run(catalogue.upsert_tracks, listening.fetched_tracks())
        plays = [(play.track.id, play.played_at) for play in listening.recent]
        await self.database.run(record_plays, user_id, plays)
        await self.database.run(record_polled_episodes, user_id, listening.episodes)

    async def _features(self, track_ids: Sequence[str]) -> Features:
        """Stored features first; only the tracks still missing are asked of the sources."""
        features: Features = await self.database.run(catalogue.stored_features, track_ids)
        missing = [track_id for track_id in track_ids if track_id not in features]
        if missing and self.feature_sources:
            found = await collect_features(self.feature_sources, missing)
            await self.database.run(catalogue.store_features, found)
            features.update(found)
        return features

    async def _feature_values(self, track_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        return {t: values for t, (values, _) in (await self._features(track_ids)).items()}

    async def _recommend(
        self,
        job: ClaimedJob,
        listening: Listening,
        user_features: Mapping[str, Mapping[str, float]],
        clustering: Clustering,
    ) -> Picks:
        if self.recommender != "local" and self.spotify.can("recommendations"):
            try:
                picks = await self._spotify_picks(listening)
            except EndpointUnavailable:
                logger.info(
                    "Spotify has no recommendations for this app; using the local recommender"
                )
            else:
                if picks.items or self.recommender == "spotify":
                    return picks
                # Every item broke the contract (each one counted): the local recommender can.
                logger.info("Spotify's recommendations held no usable track; using local ones")
        if self.recommender == "spotify":
            raise RecommenderUnavailable(
                "RECOMMENDER=spotify, but this Spotify app has no /recommendations; "
                "set RECOMMENDER=auto or local"
            )
        return await self._local_picks(job, listening, user_features, clustering)

    async def _spotify_picks(self, listening: Listening) -> Picks:
        seed_tracks, seed_artists, names = _seeds(listening)
        if not names:
            # Nothing to seed with (every top item was left out): the local recommender decides.
            return Picks("spotify", [])
        tracks = await self.spotify.recommendations(
            seed_tracks=seed_tracks,
            seed_artists=seed_artists,
            limit=RECOMMENDATIONS,
            skipped=listening.skipped,
        )
        await self.database.run(catalogue.upsert_tracks, tracks)
        reason = "Spotify's pick, seeded by " + _join(names)
        known = {a.id for t in listening.tracks() for a in t.artists} | {
            a.id for artists in listening.top_artists.values() for a in artists
        }
        rows = [
            RecommendationRow(
                t.id, reason, "spotify", not known.intersection(a.id for a in t.artists)
            )
            for t in tracks
        ]
        return Picks("spotify", rows)

    async def _local_picks(
        self,
        job: ClaimedJob,
        listening: Listening,
        user_features: Mapping[str, Mapping[str, float]],
        clustering: Clustering,
    ) -> Picks:
        played_once = await self.database.run(tracks_played_once, job.user_id)
        taste = _taste(job, listening, user_features, clustering, played_once)
        result = await self.local.recommend(taste)
        rows = [
            RecommendationRow(p.track_id, p.reason, p.source, p.new_artist) for p in result.picks
        ]
        report = {"offered": result.gathered.offered, "failed": result.gathered.failed}
        return Picks("local", rows, report)


def _taste(
    job: ClaimedJob,
    listening: Listening,
    user_features: Mapping[str, Mapping[str, float]],
    clustering: Clustering,
    played_once: Mapping[str, int],
) -> Taste:
    tracks = listening.tracks()
    top_ids = {r: [a.id for a in artists] for r, artists in listening.top_artists.items()}
    names = {a.id: a.name for t in tracks for a in t.artists}
    names.update((a.id, a.name) for artists in listening.top_artists.values() for a in artists)
    seeds = _first_non_empty(listening.top_tracks)[:SPOTIFY_SEEDS]
    return Taste(
        user_id=job.user_id,
        own_track_ids=frozenset(listening.track_ids()),
        affinity=artist_affinity(top_ids, [[a.id for a in t.artists] for t in tracks]),
        artist_names=names,
        seed_tracks=tuple((t.id, t.name) for t in seeds),
        clustering=clustering,
        user_features=user_features,
        wanted=RECOMMENDATIONS * 3,
        played_once=played_once,
    )


def _seeds(listening: Listening) -> tuple[list[str], list[str], list[str]]:
    """Up to five seeds: the user's current top tracks first, then top artists."""
    tracks = _first_non_empty(listening.top_tracks)[:3]
    artists = _first_non_empty(listening.top_artists)[: SPOTIFY_SEEDS - len(tracks)]
    names = [t.name for t in tracks] + [a.name for a in artists]
    return [t.id for t in tracks], [a.id for a in artists], names


def _first_non_empty(by_range: Mapping[str, list]) -> list:
    for time_range in ("short_term", "medium_term", "long_term"):
        if by_range.get(time_range):
            return by_range[time_range]
    return []


def _join(names: Sequence[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _features_source(
    features: Features, track_ids: Sequence[str]
) -> tuple[str | None, dict[str, int]]:
    counts = Counter(features[t][1] for t in track_ids if t in features)
    return (counts.most_common(1)[0][0] if counts else None), dict(sorted(counts.items()))


def _content(
    job: ClaimedJob, listening: Listening, features: Features, clustering: Clustering, picks: Picks
) -> SnapshotContent:
    own = listening.track_ids()
    features_source, by_source = _features_source(features, own)
    return SnapshotContent(
        user_id=job.user_id,
        date=job.date,
        top_tracks={r: [t.id for t in ts] for r, ts in listening.top_tracks.items()},
        top_artists={r: [a.id for a in artists] for r, artists in listening.top_artists.items()},
        recent=[play.track.id for play in listening.recent],
        saved=listening.saved_ids(),
        recommendations=picks.items,
        recommendation_source=picks.source,
        clusters=[ClusterRows(c.label, c.centroid, c.track_ids) for c in clustering.clusters],
        clusters_note=clustering.note,
        features_source=features_source,
        sources={
            "recommendations": picks.source,
            **({"recommendation_sources": dict(picks.report)} if picks.report else {}),
            "features": by_source,
            "tracks_with_features": sum(by_source.values()),
            "tracks": len(own),
        },
        skipped=listening.skipped.as_dict(),
    )
