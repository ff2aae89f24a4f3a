"""One user's `/me` calls, with access tokens from the user's stored refresh token."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, TypeVar

from spotify_client._api import Api, parse_items, segment
from spotify_client._auth import Accounts
from spotify_client._errors import Forbidden, InvalidGrant
from spotify_client._paging import PAGE, Fetch, cursor_page, cursor_pages, offset_pages
from spotify_models import (
    TIME_RANGES,
    Artist,
    EpisodePlay,
    Play,
    Playlist,
    Profile,
    SavedTrack,
    Skipped,
    TokenGrant,
    Track,
    parse_artist,
    parse_play,
    parse_playlist,
    parse_playlist_item,
    parse_profile,
    parse_saved_track,
    parse_track,
)

T = TypeVar("T")

logger = logging.getLogger(__name__)

TOP_ARTISTS = "/me/top/artists"
TOP_TRACKS = "/me/top/tracks"
RECENTLY_PLAYED = "/me/player/recently-played"
SAVED_TRACKS = "/me/tracks"
PLAYLISTS = "/me/playlists"
PLAYLIST_ITEMS = "/playlists/{id}/items"
# Only what identifies the playlist, never its first page of items.
PLAYLIST_FIELDS = "id,name,owner(id,display_name),collaborative,images,items(total),tracks(total)"
# How a page Spotify refused is counted among the skipped (Skipped reasons).
REFUSED = "refused by Spotify (403)"


@dataclasses.dataclass(frozen=True)
class RecentPlays:
    """A page of recent plays, music and podcast episodes apart, newest first."""

    music: list[Play]
    episodes: list[EpisodePlay]


@dataclasses.dataclass(frozen=True)
class CheckedLogin:
    """A refresh token Spotify accepted: whose it is, and the token to store."""

    profile: Profile
    refresh_token: str

    def __repr__(self) -> str:
        return f"CheckedLogin(profile={self.profile!r}, refresh_token=***)"


class UserSession:
    """One user's `/me` calls, with an access token refreshed from the stored refresh token."""

    def __init__(
        self,
        api: Api,
        accounts: Accounts,
        refresh_token: str,
        on_refresh_token: Callable[[str], Awaitable[None]] | None,
    ) -> None:
        self._api = api
        self._accounts = accounts
        self._refresh_token = refresh_token
        self._on_refresh_token = on_refresh_token
        self._refused = False
        self._auth = accounts.bearer(self._refresh)
        # What this session's pages left out, by endpoint and reason (a snapshot records it).
        self.skipped = Skipped()
        # Endpoints that answered 403: recorded per endpoint, never fatal on their own.
        self.refused: set[str] = set()

    def __repr__(self) -> str:
        return "UserSession(refresh_token=***)"

    async def me(self) -> Profile:
        """The user's profile (`account_id` is the stable id to link accounts by)."""
        return await self._api.get("/me", None, self._auth, parse_profile)

    async def top_artists(self, time_range: str, limit: int = 50) -> list[Artist]:
        """The user's top artists over `time_range` (short_term, medium_term, long_term)."""
        raw = await self._top("artists", time_range, limit)
        return parse_items(raw, TOP_ARTISTS, parse_artist, self.skipped)

    async def top_tracks(self, time_range: str, limit: int = 50) -> list[Track]:
        """The user's top tracks over `time_range` (short_term, medium_term, long_term)."""
        raw = await self._top("tracks", time_range, limit)
        return parse_items(raw, TOP_TRACKS, parse_track, self.skipped)

    async def recently_played(
        self, limit: int = 50, after: dt.datetime | None = None
    ) -> list[Play]:
        """Recent plays of music, newest first, only those after `after` when given."""
        return (await self.recent_plays(limit, after)).music

    async def recent_plays(self, limit: int = 50, after: dt.datetime | None = None) -> RecentPlays:
        """Recent plays (Spotify keeps 50), music and episodes apart, newest first, only those
        after `after` when given; plays of local files are left out and counted."""
        raw = await self._recent(limit, after)
        parsed = parse_items(raw, RECENTLY_PLAYED, parse_play, self.skipped)
        if after is not None:
            cutoff = after if after.tzinfo else after.replace(tzinfo=dt.UTC)
            parsed = [play for play in parsed if play.played_at > cutoff]
        parsed = parsed[:limit]
        return RecentPlays(
            music=[play for play in parsed if isinstance(play, Play)],
            episodes=[play for play in parsed if isinstance(play, EpisodePlay)],
        )

    async def saved_tracks(
        self, limit: int = 200, known: Collection[str] = frozenset()
    ) -> list[SavedTrack]:
        """The user's saved tracks (Liked Songs), newest first, down to the first `known` one.

        Spotify lists the newest first, so paging stops at a track an earlier look found.
        """
        pages = offset_pages(
            self._fetcher(SAVED_TRACKS), limit, PAGE, until=lambda item: _saved_id(item) in known
        )
        raw = await self._unless_refused(SAVED_TRACKS, pages)
        return parse_items(
            [r for r in raw if r is not None], SAVED_TRACKS, parse_saved_track, self.skipped
        )

    async def playlists(self, limit: int = 50) -> list[Playlist]:
        """The user's playlists, owned and followed."""
        raw = await offset_pages(self._fetcher(PLAYLISTS), limit, PAGE)
        return parse_items(
            [r for r in raw if r is not None], PLAYLISTS, parse_playlist, self.skipped
        )

    async def playlist(self, playlist_id: str) -> Playlist:
        """One playlist's details (owner, collaborative); NotFound for an unknown id."""
        path = f"/playlists/{segment(playlist_id)}"
        return await self._api.get(path, {"fields": PLAYLIST_FIELDS}, self._auth, parse_playlist)

    async def playlist_items(self, playlist_id: str, limit: int = 100) -> list[Track]:
        """The tracks of a playlist the user owns or collaborates on (episodes left out)."""
        path = f"/playlists/{segment(playlist_id)}/items"
        # Forbidden stays an error here: it means the playlist is not the user's to read.
        raw = await offset_pages(self._fetcher(path), limit, PAGE)
        tracks = parse_items(raw, PLAYLIST_ITEMS, parse_playlist_item, self.skipped)
        return [track for track in tracks if track is not None]

    async def _refresh(self) -> TokenGrant:
        if self._refused:
            raise InvalidGrant(
                "Spotify refused this user's refresh token: the user must log in again"
            )
        # Spotify may rotate the refresh token in its answer, and the old one may then stop
        # working: once asked, the grant and the storing of a rotated token run to the end,
        # even when this task is cancelled (SIGTERM mid-run lost a token and a user).
        return await _despite_cancellation(self._grant_and_keep())

    async def _grant_and_keep(self) -> TokenGrant:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        try:
            grant = await self._accounts.grant(form, "refresh token")
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
        return self._api.page_fetcher(path, params or {}, self._auth)

    async def _top(self, kind: str, time_range: str, limit: int) -> list[Any]:
        if time_range not in TIME_RANGES:
            raise ValueError(
                f"time_range must be one of {', '.join(TIME_RANGES)}, not {time_range!r}"
            )
        path = TOP_ARTISTS if kind == "artists" else TOP_TRACKS
        fetch = self._fetcher(path, {"time_range": time_range})
        return await self._unless_refused(path, offset_pages(fetch, limit, PAGE))

    async def _recent(self, limit: int, after: dt.datetime | None) -> list[Any]:
        # Page towards older plays with `before`, or towards newer ones with `after`.
        direction = "before" if after is None else "after"
        params: dict[str, Any] = {} if after is None else {"after": _unix_ms(after)}

        async def fetch(page_params: dict[str, Any]) -> tuple[list[Any], str | None]:
            return await self._api.get(
                RECENTLY_PLAYED, page_params, self._auth, lambda b: cursor_page(b, direction)
            )

        return await self._unless_refused(
            RECENTLY_PLAYED, cursor_pages(fetch, limit, direction, params)
        )

    async def _unless_refused(self, where: str, pages: Awaitable[list[Any]]) -> list[Any]:
        """The raw items of a listening endpoint, or none when Spotify refuses it (403): a
        missing scope costs that part of a snapshot only. A user refused everything needs
        attention (see jobs.listening)."""
        try:
            return await pages
        except Forbidden as exc:
            logger.info("%s", exc)
            self.skipped.add(where, REFUSED)
            self.refused.add(where)
            return []


def _saved_id(item: Any) -> str | None:
    track = item.get("track") if isinstance(item, Mapping) else None
    track_id = track.get("id") if isinstance(track, Mapping) else None
    return track_id if isinstance(track_id, str) else None


def _unix_ms(when: dt.datetime) -> int:
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return int(aware.timestamp() * 1000)


async def _despite_cancellation(work: Awaitable[T]) -> T:
    """Await `work` to its end; a cancellation meanwhile is raised only once it is over."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            # Unlike awaiting the task, waiting for it does not pass a cancellation on to it.
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        # Read the work's failure, if any, or asyncio logs it as "never retrieved"; the
        # cancellation stays what the caller sees, the failure its cause.
        failure = None if task.cancelled() else task.exception()
        raise asyncio.CancelledError from failure
    return task.result()
