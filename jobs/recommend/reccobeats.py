"""Source `reccobeats`: ReccoBeats' track recommendations, seeded with the user's top tracks.

`GET /v1/track/recommendation?seeds=<up to 5 Spotify ids>&size=<1..100>` answers
`{"content": [{"trackTitle", "artists": [{"name", "href"}], "href", "durationMs", ...}]}`;
the hrefs are open.spotify.com links, the only way back to Spotify ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from db import catalogue
from db.database import Database
from jobs.features import spotify_id_from_href
from jobs.recommend.protocol import RECCOBEATS, Candidate, Taste
from spotify_models import ArtistRef, Track

logger = logging.getLogger(__name__)

MAX_SEEDS = 5
MAX_SIZE = 100
MAX_RETRY_AFTER = 60.0


class ReccoBeatsError(ValueError):
    """ReccoBeats answered with something other than a recommendation list."""


class ReccoBeatsSource:
    name = RECCOBEATS

    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._database = database
        self._http = http
        self._url = f"{base_url.rstrip('/')}/track/recommendation"
        self._sleep = sleep

    def available(self) -> bool:
        return True

    async def candidates(self, taste: Taste) -> list[Candidate]:
        seeds = taste.seed_tracks[:MAX_SEEDS]
        if not seeds:
            return []
        params = {"seeds": ",".join(s for s, _ in seeds), "size": min(taste.wanted, MAX_SIZE)}
        tracks = _tracks(await self._content(params))
        stored = await self._database.run(catalogue.stored_track_ids, [t.id for t in tracks])
        # A partial track must never overwrite a fuller one (album, popularity) already stored.
        await self._database.run(catalogue.upsert_tracks, [t for t in tracks if t.id not in stored])
        seed = _seed_phrase([name for _, name in seeds])
        return [Candidate.of(t, self.name, seed) for t in tracks if t.id not in taste.own_track_ids]

    async def _content(self, params: dict[str, Any]) -> list[Any]:
        response = await self._http.get(self._url, params=params)
        if response.status_code == 429:
            delay = _retry_after(response)
            if delay > MAX_RETRY_AFTER:
                raise ReccoBeatsError(f"rate limited for {delay:.0f} s")
            await self._sleep(delay)
            response = await self._http.get(self._url, params=params)
        if response.status_code != 200:
            raise ReccoBeatsError(f"HTTP {response.status_code}")
        body = response.json()
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, list):
            raise ReccoBeatsError("a body without a content list")
        return content


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.0)
    except ValueError:
        return 1.0


def _tracks(items: Sequence[Any]) -> list[Track]:
    tracks: dict[str, Track] = {}
    for item in items:
        track = _track(item) if isinstance(item, dict) else None
        if track is not None:
            tracks.setdefault(track.id, track)
    return list(tracks.values())


def _track(item: dict[str, Any]) -> Track | None:
    track_id = spotify_id_from_href(item.get("href"))
    artists = tuple(
        ArtistRef(artist_id, str(a.get("name") or artist_id))
        for a in item.get("artists") or ()
        if isinstance(a, dict) and (artist_id := _artist_id(a.get("href")))
    )
    if not track_id or not artists:
        return None
    duration = item.get("durationMs")
    return Track(
        id=track_id,
        name=str(item.get("trackTitle") or track_id),
        uri=f"spotify:track:{track_id}",
        duration_ms=duration if isinstance(duration, int) else None,
        artists=artists,
        album=None,
        popularity=item.get("popularity") if isinstance(item.get("popularity"), int) else None,
        isrc=item.get("isrc") if isinstance(item.get("isrc"), str) else None,
        explicit=None,
    )


def _artist_id(href: Any) -> str | None:
    if not isinstance(href, str) or "/artist/" not in href:
        return None
    return href.rstrip("/").rsplit("/", 1)[-1] or None


def _seed_phrase(names: Sequence[str]) -> str:
    first = f"'{names[0]}'"
    return first if len(names) == 1 else f"{first} and {len(names) - 1} more of your top tracks"
