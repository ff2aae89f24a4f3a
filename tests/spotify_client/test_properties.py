"""Property tests of the client's pages through respx (issue 11): whatever items and cursors
Spotify sends, a page keeps every item inside the contract, counts every other one, sends
back only cursors that are milliseconds, and raises nothing but the client's own errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spotify_models as sm
from spotify_client import RetryPolicy, SpotifyClient
from tests.spotify_client.conftest import ACCOUNTS, API, REFRESH_TOKEN, TOKEN_URL
from tests.spotify_strategies import (
    NOW,
    artists,
    as_sent,
    cursors,
    episodes,
    local_files,
    mutated,
    pages_of,
    plays,
    saved,
    tracks,
)

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAYABLE = st.one_of(tracks(), local_files(), episodes())
TOKEN = {"access_token": "user-token", "token_type": "Bearer", "expires_in": 3600}


def _client(http: httpx.AsyncClient) -> SpotifyClient:
    return SpotifyClient(
        http,
        client_id="id",
        client_secret="secret",
        api_url=API,
        accounts_url=ACCOUNTS,
        retry=RetryPolicy(max_attempts=1),
    )


async def _read(routes: dict[str, Any], call: Any) -> Any:
    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(TOKEN_URL).respond(json=TOKEN)
            for path, answer in routes.items():
                mock.get(f"{API}{path}").mock(side_effect=answer)
            session = _client(http).for_user(REFRESH_TOKEN)
            return await call(session), session.skipped


def _page(items: list[Any]) -> Any:
    return lambda request: as_sent(200, {"items": items, "next": None})


@PROPERTY
@given(pages_of(mutated(PLAYABLE), max_size=20), pages_of(mutated(artists()), max_size=20))
def test_top_pages_keep_the_good_and_count_the_rest(
    top_tracks: list[Any], top_artists: list[Any]
) -> None:
    routes = {"/me/top/tracks": _page(top_tracks), "/me/top/artists": _page(top_artists)}

    async def read(session: Any) -> tuple[list[sm.Track], list[sm.Artist]]:
        return await session.top_tracks("short_term"), await session.top_artists("short_term")

    (kept_tracks, kept_artists), skipped = asyncio.run(_read(routes, read))

    assert kept_tracks == sm.parse_each(top_tracks, sm.parse_track, "t", sm.Skipped())
    assert kept_artists == sm.parse_each(top_artists, sm.parse_artist, "a", sm.Skipped())
    counts = skipped.as_dict()
    assert sum(counts.get("/me/top/tracks", {}).values()) == len(top_tracks) - len(kept_tracks)
    assert sum(counts.get("/me/top/artists", {}).values()) == len(top_artists) - len(kept_artists)


@PROPERTY
@given(
    pages_of(mutated(plays(PLAYABLE)), max_size=20),
    cursors,
    pages_of(mutated(saved(PLAYABLE)), max_size=20),
)
def test_recent_plays_follow_only_millisecond_cursors(
    recent: list[Any], cursor: Any, library: list[Any]
) -> None:
    sent: list[dict[str, str]] = []

    def recently_played(request: httpx.Request) -> httpx.Response:
        sent.append(dict(request.url.params))
        if "before" in request.url.params:
            return as_sent(200, {"items": [], "next": None})
        body = {"items": recent, "next": "https://api.test/next", "cursors": {"before": cursor}}
        return as_sent(200, body)

    routes = {"/me/player/recently-played": recently_played, "/me/tracks": _page(library)}

    async def read(session: Any) -> Any:
        return await session.recent_plays(), await session.saved_tracks()

    (recent_plays, kept_saved), skipped = asyncio.run(_read(routes, read))

    assert all(p.get("before", "0").isdigit() for p in sent)
    assert len(sent) <= 2
    expected = sm.parse_each(recent, lambda v: sm.parse_play(v, now=NOW), "r", sm.Skipped())
    # The client reads with its own clock; nothing generated is within a day of it.
    assert len(recent_plays.music) + len(recent_plays.episodes) == len(expected)
    assert all(isinstance(p, sm.Play) for p in recent_plays.music)
    assert all(isinstance(p, sm.EpisodePlay) for p in recent_plays.episodes)
    non_null = [item for item in library if item is not None]
    assert len(kept_saved) + sum(skipped.as_dict().get("/me/tracks", {}).values()) == len(non_null)
