"""Everything that speaks to Spotify: auth, limits, retries, capabilities and typed answers.

One `SpotifyClient` per process wraps the shared `httpx.AsyncClient`. Every request, the
app's and every user's, goes through one `_Requester`, so one semaphore caps concurrency and
one "not before" instant honours `Retry-After` for all tasks at once. Endpoints that Spotify
closed to development-mode apps are discovered by their first 403/404, remembered through a
`CapabilityStore`, and then never probed again until the mark expires.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx

from spotify_models import (
    TIME_RANGES,
    Album,
    Artist,
    ArtistRef,
    AudioFeatures,
    ParseError,
    Play,
    Playlist,
    Profile,
    SavedTrack,
    TokenGrant,
    Track,
    as_list,
    as_object,
    parse_album,
    parse_artist,
    parse_audio_features,
    parse_play,
    parse_playlist,
    parse_playlist_item,
    parse_profile,
    parse_saved_track,
    parse_token_grant,
    parse_track,
)

__all__ = [
    "CAPABILITIES",
    "Album",
    "Artist",
    "ArtistRef",
    "AudioFeatures",
    "BadRequest",
    "CapabilityStore",
    "EndpointUnavailable",
    "Forbidden",
    "InvalidGrant",
    "MalformedResponse",
    "MemoryCapabilityStore",
    "NotFound",
    "Play",
    "Playlist",
    "Profile",
    "QuotaExceeded",
    "RateLimited",
    "RetryPolicy",
    "SavedTrack",
    "SpotifyAuthError",
    "SpotifyClient",
    "SpotifyError",
    "SpotifyUnavailable",
    "TokenGrant",
    "Track",
    "UserSession",
    "create_http_client",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Fetch = Callable[[dict[str, Any]], Awaitable[Any]]

CAPABILITIES = ("recommendations", "audio_features", "batch_tracks", "batch_artists")

# Parameter limits of the 2026 Web API; a larger `limit` is paged here, never sent.
SEARCH_PAGE = 10
SEARCH_MAX_OFFSET = 1000
ARTIST_ALBUMS_PAGE = 10
PAGE = 50
BATCH_IDS = 50
AUDIO_FEATURES_IDS = 100
RECOMMENDATIONS_MAX = 100
MAX_SEEDS = 5

QUOTA_MESSAGE = (
    "Spotify answered QUOTA_EXCEEDED: the development-mode request quota of this app's "
    "developer account is spent; retrying will not help until Spotify resets it"
)


class SpotifyError(Exception):
    """Base of every error this module raises."""


class InvalidGrant(SpotifyError):
    """The refresh token (or authorization code) was refused: the user must log in again."""


class QuotaExceeded(SpotifyError):
    """The development-mode quota is spent; the client refuses every further call."""


class EndpointUnavailable(SpotifyError):
    """Spotify closed this endpoint to this app (see `SpotifyClient.can`)."""

    def __init__(self, capability: str) -> None:
        super().__init__(f"Spotify endpoint {capability!r} is not available to this app")
        self.capability = capability


class NotFound(SpotifyError):
    """Spotify knows no such id."""


class MalformedResponse(SpotifyError):
    """Spotify's answer was not the JSON document it should be."""


class SpotifyUnavailable(SpotifyError):
    """Spotify kept failing (5xx, timeouts, connection errors) until the retries ran out."""


class RateLimited(SpotifyUnavailable):
    """Spotify asked for a longer pause than this client is configured to wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SpotifyAuthError(SpotifyError):
    """The token endpoint refused the app's credentials, or a token was refused twice."""


class Forbidden(SpotifyError):
    """403 on a call that is not a capability probe (e.g. user not on the app's allow-list)."""


class BadRequest(SpotifyError):
    """400: Spotify rejected a parameter."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounds on waiting: backoff for 5xx and network errors, and for 429 answers."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    total_budget: float = 30.0
    default_retry_after: float = 5.0
    max_retry_after: float = 300.0
    max_rate_limited: int = 6
    # Spotify resets a spent development-mode quota later; a long-running service asks again
    # after this pause instead of refusing every call until it restarts.
    quota_pause: float = 3600.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_http_client(timeout: float) -> httpx.AsyncClient:
    """The one shared HTTP client: short connect timeout, bounded pool, no redirects."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=30),
        headers={"User-Agent": "spotify-insight/0.1"},
        follow_redirects=False,
    )


class CapabilityStore(Protocol):
    """Where marks of closed endpoints outlive the process."""

    async def load(self) -> dict[str, bool]: ...

    async def save(self, name: str, available: bool, expires_at: dt.datetime) -> None: ...


class MemoryCapabilityStore:
    """A CapabilityStore in memory, for tests and the CLI without a database."""

    def __init__(self, now: Callable[[], dt.datetime] = _utcnow) -> None:
        self._now = now
        self.marks: dict[str, tuple[bool, dt.datetime]] = {}

    async def load(self) -> dict[str, bool]:
        """Unexpired marks only."""
        now = self._now()
        return {name: ok for name, (ok, expires) in self.marks.items() if expires > now}

    async def save(self, name: str, available: bool, expires_at: dt.datetime) -> None:
        """Remember `name` until `expires_at` (aware UTC)."""
        self.marks[name] = (available, expires_at)


class _Capabilities:
    """Which optional endpoints this app may call: True until proven closed."""

    def __init__(self, store: CapabilityStore, ttl: dt.timedelta, now: Callable[[], dt.datetime]):
        self._store = store
        self._ttl = ttl
        self._now = now
        self._known: dict[str, bool] = {}

    async def load(self) -> None:
        loaded = await self._store.load()
        # A mark learnt in this process is newer than anything stored.
        loaded.update(self._known)
        self._known = loaded

    def available(self, name: str) -> bool:
        return self._known.get(name, True)

    async def mark_closed(self, name: str) -> None:
        if self._known.get(name) is False:
            return
        self._known[name] = False
        expires_at = self._now() + self._ttl
        logger.warning(
            "Spotify endpoint %r is closed to this app; not probing it until %s",
            name,
            expires_at.isoformat(timespec="seconds"),
        )
        await self._store.save(name, False, expires_at)


class _TokenCache:
    """One access token, fetched once however many tasks want it at the same moment."""

    def __init__(
        self, fetch: Callable[[], Awaitable[TokenGrant]], clock: Callable[[], float], margin: float
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    async def get(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                grant = await self._fetch()
                self._token = grant.access_token
                # Renew a little early, but never turn a short-lived token into no token.
                lifetime = max(grant.expires_in - self._margin, grant.expires_in / 2)
                self._expires_at = self._clock() + lifetime
            return self._token

    async def invalidate(self, token: str) -> None:
        """Forget `token` after a 401, unless another task already replaced it."""
        async with self._lock:
            if self._token == token:
                self._token = None


class _BearerAuth(httpx.Auth):
    """Bearer token from a cache; a 401 refreshes it once and retries the request."""

    def __init__(self, tokens: _TokenCache) -> None:
        self._tokens = tokens

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._tokens.get()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await self._tokens.invalidate(token)
            request.headers["Authorization"] = f"Bearer {await self._tokens.get()}"
            yield request


def _describe(request: httpx.Request) -> str:
    # Path only: queries hold search terms and ids, never needed to explain an error.
    return f"{request.method} {request.url.path}"


def _parse(request: httpx.Request, body: Any, parse: Callable[[Any], T]) -> T:
    """`parse` a decoded answer; a missing or mistyped field becomes MalformedResponse."""
    try:
        return parse(body)
    except ParseError as exc:
        raise MalformedResponse(f"{_describe(request)}: {exc}") from None


def _body_object(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _is_quota_exceeded(response: httpx.Response) -> bool:
    body = _body_object(response)
    error = body.get("error")
    nested = error.get("reason") if isinstance(error, Mapping) else None
    return "QUOTA_EXCEEDED" in (body.get("reason"), nested)


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, (when - _utcnow()).total_seconds())


def _status_error(response: httpx.Response) -> SpotifyError:
    where = _describe(response.request)
    error = _body_object(response).get("error")
    message = error.get("message") if isinstance(error, Mapping) else None
    detail = f"{where} answered {response.status_code}" + (f": {message}" if message else "")
    status = response.status_code
    if status == 400:
        return BadRequest(detail)
    if status == 401:
        return SpotifyAuthError(f"{detail} (token refused even after a refresh)")
    if status == 403:
        return Forbidden(detail)
    if status == 404:
        return NotFound(detail)
    return SpotifyError(detail)


def _token_error(response: httpx.Response, purpose: str) -> SpotifyError:
    # Only the OAuth error code is repeated: descriptions could echo what was sent.
    code = _body_object(response).get("error")
    code = code if isinstance(code, str) else None
    if code == "invalid_grant":
        return InvalidGrant(
            f"Spotify refused the {purpose} (invalid_grant): the user must log in again"
        )
    return SpotifyAuthError(
        f"Spotify's token endpoint refused the {purpose}: {code or response.status_code}"
    )


class _Requester:
    """Sends every request: concurrency cap, the shared Retry-After gate, retries, quota stop."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        max_concurrency: int,
        retry: RetryPolicy,
        sleep: Callable[[float], Awaitable[object]],
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._http = http
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._not_before = 0.0
        self._quota_spent_until = float("-inf")

    @property
    def quota_spent(self) -> bool:
        return self._clock() < self._quota_spent_until

    def build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        return self._http.build_request(method, url, **kwargs)

    async def send(
        self, request: httpx.Request, auth: httpx.Auth | None, *, limited: bool = True
    ) -> httpx.Response:
        """The first answer that is neither 429 nor 5xx, within the retry bounds."""
        started = self._clock()
        failures = throttled = 0
        while True:
            if self.quota_spent:
                raise QuotaExceeded(QUOTA_MESSAGE)
            try:
                response = await self._send_once(request, auth, limited)
            except httpx.TransportError as exc:
                failures += 1
                await self._back_off(request, failures, started, type(exc).__name__)
                continue
            except httpx.DecodingError:
                raise MalformedResponse(f"{_describe(request)}: undecodable answer") from None
            if response.status_code == 429:
                throttled += 1
                self._throttle(request, response, throttled)
            elif response.status_code >= 500:
                failures += 1
                await self._back_off(request, failures, started, f"HTTP {response.status_code}")
            else:
                return response

    async def _send_once(
        self, request: httpx.Request, auth: httpx.Auth | None, limited: bool
    ) -> httpx.Response:
        # Token requests bypass the semaphore: they run inside an API request's auth flow,
        # which already holds a slot, and would deadlock when every slot is taken.
        if not limited:
            await self._wait_for_window()
            return await self._http.send(request, auth=auth)
        async with self._semaphore:
            # Checked once the slot is ours: a 429 may have closed the window while we queued.
            await self._wait_for_window()
            return await self._http.send(request, auth=auth)

    async def send_json(
        self, request: httpx.Request, auth: httpx.Auth | None, *, limited: bool = True
    ) -> tuple[httpx.Response, Any]:
        """`send`, then decode a successful answer; a truncated body is fetched again."""
        for attempt in range(1, self._retry.max_attempts + 1):
            response = await self.send(request, auth, limited=limited)
            if not response.is_success:
                return response, None
            try:
                return response, response.json()
            except ValueError:
                logger.warning(
                    "%s: answer is not valid JSON (attempt %d)", _describe(request), attempt
                )
            if attempt < self._retry.max_attempts:
                await self._sleep(self._jitter(attempt))
        raise MalformedResponse(
            f"{_describe(request)}: answer is not valid JSON ({len(response.content)} bytes)"
        )

    def _jitter(self, failures: int) -> float:
        # Full jitter: spreads the retries of many tasks that failed together.
        policy = self._retry
        return self._rng.uniform(
            0, min(policy.backoff_cap, policy.backoff_base * 2 ** (failures - 1))
        )

    async def _wait_for_window(self) -> None:
        while (delay := self._not_before - self._clock()) > 0:
            if delay > self._retry.max_retry_after:
                raise RateLimited(f"Spotify asked for a {delay:.0f} s pause", delay)
            await self._sleep(delay)

    def _throttle(self, request: httpx.Request, response: httpx.Response, count: int) -> None:
        if _is_quota_exceeded(response):
            self._quota_spent_until = self._clock() + self._retry.quota_pause
            logger.error("%s", QUOTA_MESSAGE)
            raise QuotaExceeded(QUOTA_MESSAGE)
        wait = _retry_after(response, self._retry.default_retry_after)
        self._not_before = max(self._not_before, self._clock() + wait)
        logger.warning(
            "Spotify rate limit on %s: nothing leaves for %.1f s", _describe(request), wait
        )
        if count > self._retry.max_rate_limited:
            raise RateLimited(f"{_describe(request)} was rate limited {count} times", wait)

    async def _back_off(
        self, request: httpx.Request, failures: int, started: float, reason: str
    ) -> None:
        policy = self._retry
        where = _describe(request)
        if failures >= policy.max_attempts:
            raise SpotifyUnavailable(f"{where} failed {failures} times, last with {reason}")
        delay = self._jitter(failures)
        if self._clock() - started + delay > policy.total_budget:
            raise SpotifyUnavailable(
                f"{where} still failing after {policy.total_budget:.0f} s: {reason}"
            )
        logger.warning("%s failed with %s; retry %d in %.2f s", where, reason, failures, delay)
        await self._sleep(delay)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _segment(value: str) -> str:
    if not value:
        raise ValueError("a Spotify id must not be empty")
    return quote(value, safe="")


def _page(body: Any, container: str | None) -> tuple[list[Any], bool]:
    """The items of an offset page and whether another page follows."""
    page = as_object(body)
    if container is not None:
        page = as_object(page.get(container), container)
    return as_list(page.get("items"), "items"), bool(page.get("next"))


async def _offset_pages(
    fetch: Fetch,
    limit: int,
    page_size: int,
    *,
    container: str | None = None,
    max_offset: int | None = None,
) -> list[Any]:
    """Up to `limit` raw items, requested `page_size` at a time (the 2026 caps)."""
    items: list[Any] = []
    offset = 0
    while len(items) < limit and (max_offset is None or offset <= max_offset):
        count = min(page_size, limit - len(items))
        batch, more = await fetch({"limit": count, "offset": offset})
        items.extend(batch)
        offset += len(batch)
        if not more or len(batch) < count:
            break
    return items[:limit]


def _items_of(key: str) -> Callable[[Any], list[Any]]:
    def parse(body: Any) -> list[Any]:
        return as_list(as_object(body).get(key), key)

    return parse


def _unix_ms(when: dt.datetime) -> int:
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return int(aware.timestamp() * 1000)


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
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _utcnow,
        rng: random.Random | None = None,
        token_margin: float = 60.0,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._api_url = api_url.rstrip("/")
        self._token_url = accounts_url.rstrip("/") + "/api/token"
        self._basic = httpx.BasicAuth(client_id, client_secret)
        self._clock = clock
        self._token_margin = token_margin
        self._requester = _Requester(
            http, max_concurrency, retry, sleep, clock, rng or random.Random()
        )
        self._capabilities = _Capabilities(
            capability_store or MemoryCapabilityStore(now), capability_ttl, now
        )
        self._app_auth = _BearerAuth(self._token_cache(self._client_credentials))

    def __repr__(self) -> str:
        return f"SpotifyClient(api_url={self._api_url!r})"

    async def load_capabilities(self) -> None:
        """Learn from the store which endpoints earlier runs found closed."""
        await self._capabilities.load()

    @property
    def quota_exceeded(self) -> bool:
        """Whether Spotify said the quota is spent (then every call raises QuotaExceeded)."""
        return self._requester.quota_spent

    def can(self, capability: str) -> bool:
        """Whether `capability` may still work: True until Spotify proves it closed."""
        return self._capabilities.available(capability)

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        """Trade the OAuth callback's authorization code for the user's tokens."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._token_request(form, "authorization code")

    def for_user(
        self, refresh_token: str, on_refresh_token: Callable[[str], Awaitable[None]] | None = None
    ) -> UserSession:
        """A session for one user's `/me` calls; a rotated refresh token goes to the callback."""
        return UserSession(self, refresh_token, on_refresh_token)

    async def search_tracks(self, query: str, limit: int = 10) -> list[Track]:
        """Tracks matching `query`, in pages of at most 10."""
        raw = await self._search(query, "track", limit)
        return self._parse_items(raw, "/search", parse_track)

    async def search_artists(self, query: str, limit: int = 10) -> list[Artist]:
        """Artists matching `query`, in pages of at most 10."""
        raw = await self._search(query, "artist", limit)
        return self._parse_items(raw, "/search", parse_artist)

    async def artist(self, artist_id: str) -> Artist:
        """One artist; NotFound for an unknown id."""
        return await self._get(
            f"/artists/{_segment(artist_id)}", None, self._app_auth, parse_artist
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
        path = f"/artists/{_segment(artist_id)}/albums"
        fetch = self._page_fetcher(path, {"include_groups": include_groups}, self._app_auth)
        raw = await _offset_pages(fetch, limit, ARTIST_ALBUMS_PAGE)
        return self._parse_items(raw, path, parse_album)

    async def album_tracks(self, album: Album, limit: int = 50) -> list[Track]:
        """An album's tracks, each carrying `album` (Spotify sends them without it)."""
        path = f"/albums/{_segment(album.id)}/tracks"
        raw = await _offset_pages(self._page_fetcher(path, {}, self._app_auth), limit, PAGE)
        return self._parse_items(raw, path, lambda item: parse_track(item, album=album))

    async def track(self, track_id: str) -> Track:
        """One track; NotFound for an unknown id."""
        return await self._get(f"/tracks/{_segment(track_id)}", None, self._app_auth, parse_track)

    async def tracks(self, ids: Sequence[str]) -> list[Track]:
        """Tracks by id (batch when the app may, else one by one); unknown ids left out."""
        return await self._batch(ids, "batch_tracks", "/tracks", "tracks", parse_track, self.track)

    async def audio_features(self, ids: Sequence[str]) -> dict[str, AudioFeatures]:
        """Audio features by track id, 100 ids a call; EndpointUnavailable when closed."""
        found: dict[str, AudioFeatures] = {}
        for chunk in _chunks(list(dict.fromkeys(ids)), AUDIO_FEATURES_IDS):
            entries = await self._get(
                "/audio-features",
                {"ids": ",".join(chunk)},
                self._app_auth,
                _items_of("audio_features"),
                capability="audio_features",
            )
            present = [entry for entry in entries if entry is not None]
            parsed = self._parse_items(present, "/audio-features", parse_audio_features)
            found.update((features.track_id, features) for features in parsed)
        return found

    async def recommendations(
        self, *, seed_tracks: Sequence[str] = (), seed_artists: Sequence[str] = (), limit: int = 50
    ) -> list[Track]:
        """Spotify's recommendations (at most 100); EndpointUnavailable when closed."""
        seeds = len(seed_tracks) + len(seed_artists)
        if not 1 <= seeds <= MAX_SEEDS:
            raise ValueError(f"recommendations take 1 to {MAX_SEEDS} seeds in total, not {seeds}")
        params: dict[str, Any] = {"limit": max(1, min(limit, RECOMMENDATIONS_MAX))}
        if seed_tracks:
            params["seed_tracks"] = ",".join(seed_tracks)
        if seed_artists:
            params["seed_artists"] = ",".join(seed_artists)
        raw = await self._get(
            "/recommendations",
            params,
            self._app_auth,
            _items_of("tracks"),
            capability="recommendations",
        )
        return self._parse_items(
            [item for item in raw if item is not None], "/recommendations", parse_track
        )

    def _token_cache(self, fetch: Callable[[], Awaitable[TokenGrant]]) -> _TokenCache:
        return _TokenCache(fetch, self._clock, self._token_margin)

    async def _client_credentials(self) -> TokenGrant:
        return await self._token_request({"grant_type": "client_credentials"}, "client credentials")

    async def _token_request(self, form: dict[str, str], purpose: str) -> TokenGrant:
        request = self._requester.build("POST", self._token_url, data=form)
        response, body = await self._requester.send_json(request, self._basic, limited=False)
        if not response.is_success:
            raise _token_error(response, purpose)
        return _parse(request, body, parse_token_grant)

    async def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        auth: httpx.Auth,
        parse: Callable[[Any], T],
        *,
        capability: str | None = None,
    ) -> T:
        """GET `path`, translate the status, parse the answer."""
        if capability is not None and not self.can(capability):
            raise EndpointUnavailable(capability)
        request = self._requester.build("GET", self._api_url + path, params=params)
        response, body = await self._requester.send_json(request, auth)
        if response.is_success:
            return _parse(request, body, parse)
        # A removed endpoint answers 403 or 404; the batch and feature endpoints answer
        # unknown ids with null entries, so on them neither status can mean "no such id".
        if capability is not None and response.status_code in (403, 404):
            await self._capabilities.mark_closed(capability)
            raise EndpointUnavailable(capability)
        raise _status_error(response)

    def _page_fetcher(
        self, path: str, params: Mapping[str, Any], auth: httpx.Auth, container: str | None = None
    ) -> Fetch:
        async def fetch(paging: dict[str, Any]) -> Any:
            return await self._get(
                path, {**params, **paging}, auth, lambda body: _page(body, container)
            )

        return fetch

    def _parse_items(self, raw: Sequence[Any], where: str, parse: Callable[[Any], T]) -> list[T]:
        try:
            return [parse(item) for item in raw]
        except ParseError as exc:
            raise MalformedResponse(f"GET {where}: {exc}") from None

    async def _search(self, query: str, kind: str, limit: int) -> list[Any]:
        fetch = self._page_fetcher(
            "/search", {"q": query, "type": kind}, self._app_auth, f"{kind}s"
        )
        return await _offset_pages(fetch, limit, SEARCH_PAGE, max_offset=SEARCH_MAX_OFFSET)

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
        for chunk in _chunks(unique, BATCH_IDS):
            if self.can(capability):
                try:
                    found.update(await self._batch_chunk(chunk, capability, path, key, parse))
                    continue
                except EndpointUnavailable:
                    logger.info("batch %s closed; fetching %d ids one by one", path, len(chunk))
            found.update(await self._singles(chunk, single))
        return [found[i] for i in unique if i in found]

    async def _batch_chunk(
        self, chunk: Sequence[str], capability: str, path: str, key: str, parse: Callable[[Any], T]
    ) -> dict[str, T]:
        entries = await self._get(
            path, {"ids": ",".join(chunk)}, self._app_auth, _items_of(key), capability=capability
        )
        # Keyed by the id asked for: a relinked track comes back under another id.
        pairs = [(i, e) for i, e in zip(chunk, entries, strict=False) if e is not None]
        parsed = self._parse_items([e for _, e in pairs], path, parse)
        return {i: item for (i, _), item in zip(pairs, parsed, strict=True)}

    async def _singles(
        self, chunk: Sequence[str], single: Callable[[str], Awaitable[T]]
    ) -> dict[str, T]:
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


class UserSession:
    """One user's `/me` calls, with an access token refreshed from the stored refresh token."""

    def __init__(
        self,
        client: SpotifyClient,
        refresh_token: str,
        on_refresh_token: Callable[[str], Awaitable[None]] | None,
    ) -> None:
        self._client = client
        self._refresh_token = refresh_token
        self._on_refresh_token = on_refresh_token
        self._refused = False
        self._auth = _BearerAuth(client._token_cache(self._refresh))

    def __repr__(self) -> str:
        return "UserSession(refresh_token=***)"

    async def me(self) -> Profile:
        """The user's profile (`account_id` is the stable id to link accounts by)."""
        return await self._client._get("/me", None, self._auth, parse_profile)

    async def top_artists(self, time_range: str, limit: int = 50) -> list[Artist]:
        """The user's top artists over `time_range` (short_term, medium_term, long_term)."""
        raw = await self._top("artists", time_range, limit)
        return self._client._parse_items(raw, "/me/top/artists", parse_artist)

    async def top_tracks(self, time_range: str, limit: int = 50) -> list[Track]:
        """The user's top tracks over `time_range` (short_term, medium_term, long_term)."""
        raw = await self._top("tracks", time_range, limit)
        return self._client._parse_items(raw, "/me/top/tracks", parse_track)

    async def recently_played(
        self, limit: int = 50, after: dt.datetime | None = None
    ) -> list[Play]:
        """Recent plays, newest first, only those after `after` when given (Spotify keeps 50)."""
        raw = await self._cursor_pages(limit, after)
        parsed = self._client._parse_items(raw, "/me/player/recently-played", parse_play)
        plays = [play for play in parsed if isinstance(play, Play)]
        if after is not None:
            cutoff = after if after.tzinfo else after.replace(tzinfo=dt.UTC)
            plays = [play for play in plays if play.played_at > cutoff]
        return plays[:limit]

    async def saved_tracks(self, limit: int = 200) -> list[SavedTrack]:
        """The user's saved tracks (Liked Songs), newest first."""
        raw = await _offset_pages(self._fetcher("/me/tracks"), limit, PAGE)
        return self._client._parse_items(
            [r for r in raw if r is not None], "/me/tracks", parse_saved_track
        )

    async def playlists(self, limit: int = 50) -> list[Playlist]:
        """The user's playlists, owned and followed."""
        raw = await _offset_pages(self._fetcher("/me/playlists"), limit, PAGE)
        return self._client._parse_items(
            [r for r in raw if r is not None], "/me/playlists", parse_playlist
        )

    async def playlist_items(self, playlist_id: str, limit: int = 100) -> list[Track]:
        """The tracks of a playlist the user owns or collaborates on (episodes left out)."""
        path = f"/playlists/{_segment(playlist_id)}/items"
        raw = await _offset_pages(self._fetcher(path), limit, PAGE)
        tracks = self._client._parse_items(raw, path, parse_playlist_item)
        return [track for track in tracks if track is not None]

    async def _refresh(self) -> TokenGrant:
        if self._refused:
            raise InvalidGrant(
                "Spotify refused this user's refresh token: the user must log in again"
            )
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        try:
            grant = await self._client._token_request(form, "refresh token")
        except InvalidGrant:
            self._refused = True
            raise
        rotated = grant.refresh_token
        if rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            if self._on_refresh_token is not None:
                await self._on_refresh_token(rotated)
        return grant

    def _fetcher(self, path: str, params: Mapping[str, Any] | None = None) -> Fetch:
        return self._client._page_fetcher(path, params or {}, self._auth)

    async def _top(self, kind: str, time_range: str, limit: int) -> list[Any]:
        if time_range not in TIME_RANGES:
            raise ValueError(
                f"time_range must be one of {', '.join(TIME_RANGES)}, not {time_range!r}"
            )
        fetch = self._fetcher(f"/me/top/{kind}", {"time_range": time_range})
        return await _offset_pages(fetch, limit, PAGE)

    async def _cursor_pages(self, limit: int, after: dt.datetime | None) -> list[Any]:
        # Page towards older plays with `before`, or towards newer ones with `after`.
        direction = "before" if after is None else "after"
        params: dict[str, Any] = {} if after is None else {"after": _unix_ms(after)}
        items: list[Any] = []
        while len(items) < limit:
            params["limit"] = min(PAGE, limit - len(items))
            batch, cursor = await self._client._get(
                "/me/player/recently-played",
                params,
                self._auth,
                lambda b: _cursor_page(b, direction),
            )
            items.extend(batch)
            if not batch or cursor is None:
                break
            params = {direction: cursor}
        return items


def _cursor_page(body: Any, direction: str) -> tuple[list[Any], str | None]:
    """The items of a cursor page and the cursor to the next one, if any."""
    page = as_object(body)
    items = as_list(page.get("items"), "items")
    cursors = page.get("cursors")
    cursor = cursors.get(direction) if isinstance(cursors, Mapping) and page.get("next") else None
    return items, str(cursor) if cursor else None
