"""Spotify Insight: the composition root, and the entry point of `python application.py`.

Here the settings become objects: the database, the one HTTP client, the Spotify client and
the snapshot service, opened and closed in one place (`open_resources`), and the ASGI app
whose lifespan owns them (`build_app`). The commands live in `cli.py`, the demo in `demo.py`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from starlette.applications import Starlette
from starlette.middleware import Middleware

from db.capabilities import DatabaseCapabilityStore
from db.database import Database, Timeouts
from db.migrations import check_schema
from db.token_cipher import TokenCipher
from jobs.artist_profiles import ArtistProfiles
from jobs.features import CsvFeatureSource, FeatureSource, build_feature_sources
from jobs.history_poll import HistoryPoller
from jobs.history_schedule import add_history_polling
from jobs.pipeline import SnapshotPipeline
from jobs.playlist_profiles import PlaylistProfiles
from jobs.recommend.csv_pool import CsvCandidateSource
from jobs.recommend.protocol import CandidateSource
from jobs.recommend.registry import SourceContext, build_recommendation_sources
from jobs.scheduler import create_scheduler
from jobs.service import Handler, RunCannotStart, SnapshotService
from jobs.user_sessions import UserSessions
from settings import Settings
from spotify_client import (
    PaceSettings,
    QuotaExceeded,
    RateLimited,
    RetryPolicy,
    SpotifyClient,
    create_http_client,
)
from web.key_scopes import KeyScopes
from web.problems import EXCEPTION_HANDLERS
from web.read_cache import ReadCache
from web.request_edge import RequestEdge
from web.routes import build_routes
from web.sessions import session_middleware

logger = logging.getLogger(__name__)


def open_database(settings: Settings, *, for_migration: bool = False) -> Database:
    """The configured database; only a migration may create it, and it has no statement timeout."""
    timeouts = Timeouts(
        settings.db_connect_timeout, None if for_migration else settings.db_statement_timeout
    )
    return Database(
        settings.database_url,
        settings.db_pool_size,
        read_connections=settings.db_read_connections,
        timeouts=timeouts,
        create=for_migration,
    )


def token_cipher(settings: Settings) -> TokenCipher:
    return TokenCipher([str(key) for key in settings.token_encryption_keys])


def token_cipher_or_none(settings: Settings) -> TokenCipher | None:
    """The cipher, or None before any key is configured (reads need none)."""
    return token_cipher(settings) if settings.token_encryption_keys else None


def session_secret(settings: Settings) -> str | None:
    """What signs session cookies: SESSION_SECRET, else a key derived from TOKEN_ENCRYPTION_KEY.

    Every worker process reads the same settings, so both choices sign alike everywhere; a
    random per-process secret would sign people out whenever another worker answered. Signing
    in needs TOKEN_ENCRYPTION_KEY anyway (the refresh token is stored encrypted), so without
    either setting nobody can sign in and the service runs without sessions.
    """
    if settings.session_secret is not None:
        return str(settings.session_secret)
    if settings.token_encryption_keys:
        return token_cipher(settings).derive_key("session-cookie").hex()
    return None


def admin_session_key(secret: str) -> bytes:
    """The key admin sessions are tied to ADMIN_TOKEN with, one per session secret."""
    return hmac.new(secret.encode(), b"spotify-insight:admin-session", hashlib.sha256).digest()


def _middleware(settings: Settings) -> list[Middleware]:
    # RequestEdge outermost, so every answer carries its request's id, every request is
    # counted and timed, and the sessions see the public scheme and host.
    middleware = [Middleware(RequestEdge, origin=settings.public_origin)]
    secret = session_secret(settings)
    if secret is not None:
        https = settings.public_origin.startswith("https://")
        middleware.extend(session_middleware(secret, settings.session_max_age, https=https))
    return middleware


@dataclasses.dataclass(frozen=True)
class Resources:
    """What the service holds open while it runs; the lifespan hands it to requests."""

    database: Database
    http: httpx.AsyncClient
    spotify: SpotifyClient
    cipher: TokenCipher | None
    snapshots: SnapshotService
    artists: ArtistProfiles
    playlists: PlaylistProfiles

    def as_state(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def create_spotify_client(
    settings: Settings, http: httpx.AsyncClient, database: Database
) -> SpotifyClient:
    secret = settings.spotify_client_secret
    return SpotifyClient(
        http,
        client_id=settings.spotify_client_id or "",
        client_secret=str(secret) if secret else "",
        api_url=settings.spotify_api_url,
        accounts_url=settings.spotify_accounts_url,
        max_concurrency=settings.spotify_max_concurrency,
        capability_store=DatabaseCapabilityStore(database),
        retry=RetryPolicy(pace=PaceSettings(window=settings.spotify_rate_window)),
    )


def _feature_sources_factory(
    settings: Settings, http: httpx.AsyncClient, spotify: SpotifyClient
) -> Callable[[], list[FeatureSource]]:
    """Fresh sources per run (ReccoBeats gives up for one run only); the CSV index is kept."""
    csv = CsvFeatureSource(settings.audio_features_csv) if settings.audio_features_csv else None

    def build() -> list[FeatureSource]:
        sources = build_feature_sources(
            settings.audio_features_sources,
            client=spotify,
            http=http,
            reccobeats_url=settings.reccobeats_url,
            csv_path=settings.audio_features_csv,
        )
        return [csv if csv is not None and s.name == "csv" else s for s in sources]

    return build


def _recommendation_sources_factory(
    settings: Settings, database: Database, http: httpx.AsyncClient, spotify: SpotifyClient
) -> Callable[[], list[CandidateSource]]:
    """Fresh sources per run; the CSV index is built once and kept."""
    csv = CsvCandidateSource(settings.audio_features_csv) if settings.audio_features_csv else None
    context = SourceContext(database, spotify, http, settings.reccobeats_url, csv)
    return lambda: build_recommendation_sources(settings.recommendation_sources, context)


def create_snapshot_service(
    settings: Settings,
    database: Database,
    http: httpx.AsyncClient,
    spotify: SpotifyClient,
    cipher: TokenCipher | None,
    feature_sources: Callable[[], list[FeatureSource]] | None = None,
) -> SnapshotService:
    feature_sources = feature_sources or _feature_sources_factory(settings, http, spotify)
    candidate_sources = _recommendation_sources_factory(settings, database, http, spotify)

    def make_handler() -> Handler:
        if cipher is None:
            raise RunCannotStart("TOKEN_ENCRYPTION_KEY is not set: stored tokens cannot be read")
        return SnapshotPipeline(
            database,
            spotify,
            cipher,
            feature_sources(),
            settings.recommender,
            candidate_sources(),
            settings.discovery,
            user_deadline=settings.snapshot_user_deadline,
        )

    return SnapshotService(
        database,
        make_handler,
        timezone=settings.snapshot_timezone,
        concurrency=settings.snapshot_workers,
        lease=dt.timedelta(seconds=settings.snapshot_lease),
        stop_on=(QuotaExceeded,),
        retry_on=(RateLimited,),
        run_deadline=dt.timedelta(seconds=settings.snapshot_run_deadline),
    )


@contextlib.asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Open the database, the one HTTP client and the Spotify client; close in reverse."""
    cipher = token_cipher_or_none(settings)
    database = open_database(settings)
    try:
        await database.run(check_schema, database.peewee)
        async with create_http_client(settings.spotify_timeout) as http:
            spotify = create_spotify_client(settings, http, database)
            await spotify.load_capabilities()
            # One factory: the CSV of features is indexed once per process.
            feature_sources = _feature_sources_factory(settings, http, spotify)
            snapshots = create_snapshot_service(
                settings, database, http, spotify, cipher, feature_sources
            )
            artists = ArtistProfiles(database, spotify, feature_sources)
            sessions = UserSessions(database, spotify, cipher)
            playlists = PlaylistProfiles(database, sessions, feature_sources)
            try:
                yield Resources(database, http, spotify, cipher, snapshots, artists, playlists)
            finally:
                await snapshots.close()
    finally:
        database.close()


def schedule_history_polls(
    scheduler: AsyncIOScheduler, settings: Settings, resources: Resources
) -> None:
    """Add HISTORY_INTERVAL polls of every active user to the nightly job's scheduler."""
    if not settings.history_interval:
        return
    if resources.cipher is None:
        logger.warning("history polling is off: TOKEN_ENCRYPTION_KEY is not set")
        return
    poller = HistoryPoller(resources.database, resources.spotify, resources.cipher)
    add_history_polling(scheduler, poller, dt.timedelta(minutes=settings.history_interval))


def build_app(settings: Settings, *, scheduler: bool = False) -> Starlette:
    """The ASGI application; its lifespan owns the database and every other resource."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with open_resources(settings) as resources:
            nightly = None
            if scheduler:
                nightly = create_scheduler(
                    cron=settings.snapshot_cron,
                    timezone=settings.snapshot_timezone,
                    job=resources.snapshots.nightly,
                )
                schedule_history_polls(nightly, settings, resources)
                nightly.start()
            try:
                cache = ReadCache(resources.database, settings.read_cache_mb * 2**20)
                yield {**resources.as_state(), "scheduler": nightly, "read_cache": cache}
            finally:
                if nightly is not None:
                    nightly.shutdown(wait=False)

    app = Starlette(
        routes=build_routes(settings),
        middleware=_middleware(settings),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.key_scopes = KeyScopes()
    secret = session_secret(settings)
    # Admin sessions hold ADMIN_TOKEN keyed with this (web.access.admin_fingerprint).
    app.state.admin_session_key = admin_session_key(secret) if secret else None
    return app


if __name__ == "__main__":
    import sys

    from cli import main

    sys.exit(main())
