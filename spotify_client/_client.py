"""`SpotifyClient`: the app's catalogue calls, and the factory of each user's session."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx

from spotify_client._api import Api, parse_items, segment
from spotify_client._auth import Accounts
from spotify_client._capabilities import Capabilities, CapabilityStore, MemoryCapabilityStore
from spotify_client._clock import utcnow
from spotify_client._deadline import deadline_at
from spotify_client._errors import EndpointUnavailable, NotFound
from spotify_client._paging import (
    ARTIST_ALBUMS_PAGE,
    PAGE,
    SEARCH_MAX_OFFSET,
    SEARCH_PAGE,
    chunks,
    items_of,
    offset_pages,
)
from spotify_client._requester import DEFAULT_RETRY, Requester, RetryPolicy
from spotify_client._session import CheckedLogin, UserSession
from spotify_models import (
    Album,
    Artist,
    AudioFeatures,
    Skipped,
    TokenGrant,
    Track,
    parse_album,
    parse_artist,
    parse_audio_features,
    parse_track,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Parameter limits of the 2026 Web API for batch look-ups and recommendations.
BATCH_IDS = 50
AUDIO_FEATURES_IDS = 100
RECOMMENDATIONS_MAX = 100
MAX_SEEDS = 5


class SpotifyClient:
    """The app's client of the Spotify Web API (catalogue calls with client credentials)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        api_url: str,
        accounts_url: str,
        max_concurrency: int = 8,
        capability_store: CapabilityStore | None = None,
        capability_ttl: dt.timedelta = dt.timedelta(days=1),
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utcnow,
        rng: random.Random | None = None,
        token_margin: float = 60.0,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._api_url = api_url.rstrip("/")
        self._clock = clock
        self._requester = Requester(
            http,
            max_concurrency,
            retry,
            sleep=sleep,
            clock=clock,
            now=now,
            rng=rng or random.Random(),
        )
        self._capabilities = Capabilities(
            capability_store or MemoryCapabilityStore(now), capability_ttl, now
        )
        self._api = Api(self._requester, api_url, self._capabilities)
        self._accounts = Accounts(
            self._requester,
            accounts_url,
            httpx.BasicAuth(client_id, client_secret),
            clock=clock,
            token_margin=token_margin,
        )
        self._app_auth = self._accounts.bearer(self._client_credentials)

    def __repr__(self) -> str:
        return f"SpotifyClient(api_url={self._api_url!r})"

    async def load_capabilities(self) -> None:
        """Learn from the store which endpoints earlier runs found closed."""
        await self._capabilities.load()

    @property
    def quota_exceeded(self) -> bool:
        """Whether Spotify said the quota is spent (then every call raises QuotaExceeded)."""
        return self._requester.quota_spent

    @property
    def pace(self) -> float | None:
        """Requests per second this process allows itself since a 429; None before any."""
        return self._requester.pace

    def deadline(self, seconds: float) -> contextlib.AbstractContextManager[None]:
        """Within the block (and the tasks it starts), rate-limit waits end `seconds` from now.

        A request whose turn would come later raises `RateLimited` instead of waiting.
        """
        return deadline_at(self._clock() + seconds)

    def can(self, capability: str) -> bool:
        """Whether `capability` may still work: True until Spotify proves it closed."""
        return self._capabilities.available(capability)

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        """Trade the OAuth callback's authorization code for the user's tokens."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._accounts.grant(form, "authorization code")

    def for_user(
        self, refresh_token: str, on_refresh_token: Callable[[str], Awaitable[None]] | None = None
    ) -> UserSession:
        """A session for one user's `/me` calls; a rotated refresh token goes to the callback."""
        return UserSession(self._api, self._accounts, refresh_token, on_refresh_token)

    async def check_login(self, refresh_token: str) -> CheckedLogin:
        """The profile `refresh_token` opens, and the refresh token to store from now on.

        Spotify may rotate the refresh token while the access token is fetched; the old one
        may then stop working, so the stored token is the newest one Spotify sent.
        InvalidGrant (or another SpotifyError) when the token does not open the profile.
        """
        tokens = [refresh_token]

        async def keep(rotated: str) -> None:
            tokens.append(rotated)

        profile = await self.for_user(refresh_token, keep).me()
        return CheckedLogin(profile, tokens[-1])

    async def search_tracks(self, query: str, limit: int = 10) -> list[Track]:
        """Tracks matching `query`, in pages of at most 10."""
        raw = await self._search(query, "track", limit)
        return parse_items(raw, "/search", parse_track)

    async def search_artists(self, query: str, limit: int = 10, offset: int = 0) -> list[Artist]:
        """Artists matching `query` from result `offset` on, in pages of at most 10."""
        raw = await self._search(query, "artist", limit, offset)
        return parse_items(raw, "/search", parse_artist)

    async def artist(self, artist_id: str) -> Artist:
        """One artist; NotFound for an unknown id."""
        return await self._api.get(
            f"/artists/{segment(artist_id)}", None, self._app_auth, parse_artist
        )

    async def artists(self, ids: Sequence[str]) -> list[Artist]:
        """Artists by id (batch when the app may, else one by one); unknown ids left out."""
        return await self._batch(
            ids, "batch_artists", "/artists", "artists", parse_artist, self.artist
        )

    async def artist_albums(
        self, artist_id: str, limit: int = 20, include_groups: str = "album,single"
    ) -> list[Album]:
        """An artist's albums, in pages of at most 10."""
        path = f"/artists/{segment(artist_id)}/albums"
        fetch = self._api.page_fetcher(path, {"include_groups": include_groups}, self._app_auth)
        raw = await offset_pages(fetch, limit, ARTIST_ALBUMS_PAGE)
        return parse_items(raw, path, parse_album)

    async def album_tracks(self, album: Album, limit: int = 50) -> list[Track]:
        """An album's tracks, each carrying `album` (Spotify sends them without it)."""
        path = f"/albums/{segment(album.id)}/tracks"
        raw = await offset_pages(self._api.page_fetcher(path, {}, self._app_auth), limit, PAGE)
        return parse_items(raw, path, lambda item: parse_track(item, album=album))

    async def track(self, track_id: str) -> Track:
        """One track; NotFound for an unknown id."""
        return await self._api.get(
            f"/tracks/{segment(track_id)}", None, self._app_auth, parse_track
        )

    async def tracks(self, ids: Sequence[str]) -> list[Track]:
        """Tracks by id (batch when the app may, else one by one); unknown ids left out."""
        return await self._batch(ids, "batch_tracks", "/tracks", "tracks", parse_track, self.track)

    async def audio_features(self, ids: Sequence[str]) -> dict[str, AudioFeatures]:
        """Audio features by track id, 100 ids a call; EndpointUnavailable when closed."""
        found: dict[str, AudioFeatures] = {}
        for chunk in chunks(list(dict.fromkeys(ids)), AUDIO_FEATURES_IDS):
            entries = await self._api.get(
                "/audio-features",
                {"ids": ",".join(chunk)},
                self._app_auth,
                items_of("audio_features"),
                capability="audio_features",
            )
            present = [entry for entry in entries if entry is not None]
            parsed = parse_items(present, "/audio-features", parse_audio_features)
            found.update((features.track_id, features) for features in parsed)
        return found

    async def recommendations(
        self,
        *,
        seed_tracks: Sequence[str] = (),
        seed_artists: Sequence[str] = (),
        limit: int = 50,
        skipped: Skipped | None = None,
    ) -> list[Track]:
        """Spotify's recommendations (at most 100); EndpointUnavailable when closed.

        Items that break the contract, local files and episodes are left out and counted in
        `skipped`: one bad item never costs the list, nor the fallback to the local recommender.
        """
        seeds = len(seed_tracks) + len(seed_artists)
        if not 1 <= seeds <= MAX_SEEDS:
            raise ValueError(f"recommendations take 1 to {MAX_SEEDS} seeds in total, not {seeds}")
        params: dict[str, Any] = {"limit": max(1, min(limit, RECOMMENDATIONS_MAX))}
        if seed_tracks:
            params["seed_tracks"] = ",".join(seed_tracks)
        if seed_artists:
            params["seed_artists"] = ",".join(seed_artists)
        raw = await self._api.get(
            "/recommendations",
            params,
            self._app_auth,
            items_of("tracks"),
            capability="recommendations",
        )
        return parse_items(
            [item for item in raw if item is not None], "/recommendations", parse_track, skipped
        )

    async def _client_credentials(self) -> TokenGrant:
        return await self._accounts.grant(
            {"grant_type": "client_credentials"}, "client credentials"
        )

    async def _search(self, query: str, kind: str, limit: int, offset: int = 0) -> list[Any]:
        fetch = self._api.page_fetcher(
            "/search", {"q": query, "type": kind}, self._app_auth, f"{kind}s"
        )
        return await offset_pages(
            fetch, limit, SEARCH_PAGE, max_offset=SEARCH_MAX_OFFSET, start=offset
        )

    async def _batch(
        self,
        ids: Sequence[str],
        capability: str,
        path: str,
        key: str,
        parse: Callable[[Any], T],
        single: Callable[[str], Awaitable[T]],
    ) -> list[T]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, T] = {}
        for chunk in chunks(unique, BATCH_IDS):
            if self.can(capability):
                try:
                    found.update(await self._batch_chunk(chunk, capability, path, key, parse))
                    continue
                except EndpointUnavailable:
                    logger.info("batch %s closed; fetching %d ids one by one", path, len(chunk))
            found.update(await _singles(chunk, single))
        return [found[i] for i in unique if i in found]

    async def _batch_chunk(
        self, chunk: Sequence[str], capability: str, path: str, key: str, parse: Callable[[Any], T]
    ) -> dict[str, T]:
        entries = await self._api.get(
            path, {"ids": ",".join(chunk)}, self._app_auth, items_of(key), capability=capability
        )
        # Keyed by the id asked for: a relinked track comes back under another id.
        pairs = [(i, e) for i, e in zip(chunk, entries, strict=False) if e is not None]
        parsed = parse_items(pairs, path, lambda pair: (pair[0], parse(pair[1])))
        return dict(parsed)


async def _singles(chunk: Sequence[str], single: Callable[[str], Awaitable[T]]) -> dict[str, T]:
    async def one(item_id: str) -> T | None:
        try:
            return await single(item_id)
        except NotFound:
            logger.info("Spotify knows no id %s", item_id)
            return None

    # At most one chunk in flight; the requester's semaphore caps the actual requests.
    # Not a TaskGroup: callers must get QuotaExceeded itself, not an ExceptionGroup.
    tasks = [asyncio.ensure_future(one(i)) for i in chunk]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return {i: result for i, result in zip(chunk, results, strict=True) if result is not None}
