"""One odd item never costs a page: items that break the contract, local files and episodes
are left out of tracks and counted by endpoint and reason (issue 11, defects 2, 3 and 5)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from spotify_client import SpotifyClient, UserSession
from spotify_models import Skipped
from tests.spotify_client.conftest import (
    API,
    REFRESH_TOKEN,
    artist_json,
    page,
    params_of,
    track_json,
)

RECENT = f"{API}/me/player/recently-played"

LOCAL_FILE = {
    "id": None,
    "name": "Demo take 3",
    "uri": "spotify:local:Me:Demos:Demo+take+3:181",
    "is_local": True,
    "type": "track",
    "duration_ms": 181000,
    "artists": [{"id": None, "name": "Me"}],
    "album": {"id": None, "name": "Demos"},
}
EPISODE = {
    "id": "ep1",
    "name": "Episode one",
    "type": "episode",
    "uri": "spotify:episode:ep1",
    "duration_ms": 1_800_000,
    "show": {"id": "sh1", "name": "A show"},
}


@pytest.fixture
def session(client: SpotifyClient) -> UserSession:
    return client.for_user(REFRESH_TOKEN)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(LOCAL_FILE, "local file", id="local-file"),
        pytest.param({**LOCAL_FILE, "id": "abc123"}, "local file", id="local-file-with-an-id"),
        pytest.param(EPISODE, "episode", id="episode"),
        pytest.param(
            track_json("t9", id=None), "field 'id' is missing or not a string", id="no-id"
        ),
        pytest.param(
            track_json("t9", name=""), "field 'name' is missing or not a string", id="empty-name"
        ),
        pytest.param(
            {"id": "t9", "name": "x"}, "field 'uri' is missing or not a string", id="no-uri"
        ),
        pytest.param(
            track_json("t9", duration_ms=-5),
            "field 'duration_ms' is not an integer in 1..86400000",
            id="negative-duration",
        ),
    ],
)
async def test_a_bad_top_track_is_left_out_and_counted(
    session: UserSession, spotify: respx.MockRouter, bad: dict[str, Any], reason: str
) -> None:
    spotify.get(f"{API}/me/top/tracks").respond(
        json=page([track_json("t1"), bad, track_json("t2")])
    )
    tracks = await session.top_tracks("short_term")
    assert [t.id for t in tracks] == ["t1", "t2"]
    assert session.skipped.as_dict() == {"/me/top/tracks": {reason: 1}}


async def test_a_bad_artist_costs_only_itself(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    spotify.get(f"{API}/me/top/artists").respond(
        json=page([artist_json("a1"), artist_json("a2", name="   "), artist_json("a3")])
    )
    assert [a.id for a in await session.top_artists("long_term")] == ["a1", "a3"]
    assert session.skipped.as_dict() == {"/me/top/artists": {"field 'name' is blank": 1}}


async def test_saved_local_files_are_counted_not_stored(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    saved = [
        {"added_at": "2026-04-01T08:00:00Z", "track": track_json("t1")},
        {"added_at": "2026-04-01T07:00:00Z", "track": LOCAL_FILE},
        {"added_at": "1890-04-01T07:00:00Z", "track": track_json("t2")},
    ]
    spotify.get(f"{API}/me/tracks").respond(json=page(saved))
    assert [s.track.id for s in await session.saved_tracks()] == ["t1"]
    assert session.skipped.as_dict() == {
        "/me/tracks": {"added_at is not a plausible instant": 1, "local file": 1}
    }


def _play(track: dict[str, Any], played_at: str) -> dict[str, Any]:
    return {"track": track, "played_at": played_at}


async def test_recent_episodes_are_episodes_and_local_files_are_counted(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    spotify.get(RECENT).respond(
        json={
            "items": [
                _play(track_json("t2"), "2026-05-01T10:00:00Z"),
                _play(EPISODE, "2026-05-01T09:30:00Z"),
                _play(LOCAL_FILE, "2026-05-01T09:20:00Z"),
                _play(track_json("t1"), "1890-01-01T00:00:00Z"),
                _play(track_json("t1"), "2026-05-01T09:00:00Z"),
            ],
            "next": None,
        }
    )
    recent = await session.recent_plays()
    assert [p.track.id for p in recent.music] == ["t2", "t1"]
    assert [(p.episode.id, p.episode.show_name) for p in recent.episodes] == [("ep1", "A show")]
    assert session.skipped.as_dict() == {
        "/me/player/recently-played": {"local file": 1, "played_at is not a plausible instant": 1}
    }


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("lorem ipsum", id="text"),
        pytest.param("12abc", id="digits-then-text"),
        pytest.param(-5, id="negative"),
        pytest.param(1.5, id="float"),
        pytest.param(True, id="boolean"),
        pytest.param({"ms": 1}, id="object"),
    ],
)
async def test_a_cursor_that_is_not_milliseconds_ends_the_paging(
    session: UserSession, spotify: respx.MockRouter, cursor: Any
) -> None:
    route = spotify.get(RECENT).respond(
        json={
            "items": [_play(track_json("t1"), "2026-05-01T09:00:00Z")],
            "next": "https://api.test/next",
            "cursors": {"before": cursor},
        }
    )
    plays = await session.recently_played(limit=120)
    assert [p.track.id for p in plays] == ["t1"]
    assert params_of(route) == [{"limit": "50"}]


async def test_a_numeric_cursor_is_followed(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    route = spotify.get(RECENT).mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "items": [_play(track_json("t2"), "2026-05-01T10:00:00Z")],
                    "next": "https://api.test/next",
                    "cursors": {"before": 1777600000000},
                },
            ),
            httpx.Response(200, json={"items": [], "next": None}),
        ]
    )
    await session.recently_played(limit=120)
    assert params_of(route)[1] == {"before": "1777600000000", "limit": "50"}


async def test_bad_recommendations_are_left_out_and_counted(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    spotify.get(f"{API}/recommendations").respond(
        json={"tracks": [LOCAL_FILE, track_json("t1"), None, track_json("t2", uri=None)]}
    )
    skipped = Skipped()
    tracks = await client.recommendations(seed_tracks=["t9"], skipped=skipped)
    assert [t.id for t in tracks] == ["t1"]
    assert skipped.as_dict() == {
        "/recommendations": {"field 'uri' is missing or not a string": 1, "local file": 1}
    }


async def test_a_bad_entry_of_a_batch_costs_only_itself(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    spotify.get(f"{API}/tracks").respond(
        json={"tracks": [track_json("t1"), track_json("t2", name=None), track_json("t3")]}
    )
    assert [t.id for t in await client.tracks(["t1", "t2", "t3"])] == ["t1", "t3"]
