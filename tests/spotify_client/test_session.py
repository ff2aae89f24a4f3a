"""One user's `/me` calls: the request each sends (paths, 2026 limits, paging, cursors)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx

from spotify_client import Playlist, SpotifyClient, UserSession
from tests.spotify_client.conftest import (
    API,
    REFRESH_TOKEN,
    artist_json,
    page,
    paged,
    params_of,
    track_json,
)


@pytest.fixture
def session(client: SpotifyClient) -> UserSession:
    return client.for_user(REFRESH_TOKEN)


@pytest.mark.parametrize("time_range", ["short_term", "medium_term", "long_term"])
async def test_top_items_for_each_time_range(
    session: UserSession, spotify: respx.MockRouter, time_range: str
) -> None:
    artists = spotify.get(f"{API}/me/top/artists").respond(json=page([artist_json()]))
    tracks = spotify.get(f"{API}/me/top/tracks").respond(json=page([track_json()]))
    assert [a.id for a in await session.top_artists(time_range)] == ["a1"]
    assert [t.id for t in await session.top_tracks(time_range, limit=20)] == ["t1"]
    assert params_of(artists) == [{"time_range": time_range, "limit": "50", "offset": "0"}]
    assert params_of(tracks) == [{"time_range": time_range, "limit": "20", "offset": "0"}]
    assert artists.calls.last.request.headers["Authorization"] == "Bearer user-token-1"


async def test_top_items_beyond_fifty_arepaged(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/me/top/tracks").mock(side_effect=paged(track_json, 99))
    tracks = await session.top_tracks("long_term", limit=99)
    assert len(tracks) == 99
    assert [(p["limit"], p["offset"]) for p in params_of(route)] == [("50", "0"), ("49", "50")]


async def test_unknown_time_range_is_refused(session: UserSession) -> None:
    with pytest.raises(ValueError, match="time_range"):
        await session.top_tracks("all_time")


def _play(track_id: str, played_at: str) -> dict[str, Any]:
    return {"track": track_json(track_id), "played_at": played_at}


async def test_recently_played_after_an_instant(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/me/player/recently-played").respond(
        json={
            "items": [
                _play("t2", "2026-05-01T10:00:00.500Z"),
                _play("t1", "2026-05-01T09:00:00Z"),
            ],
            "next": None,
            "cursors": {"after": "1", "before": "2"},
        }
    )
    after = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
    plays = await session.recently_played(after=after)
    assert params_of(route) == [{"after": str(int(after.timestamp() * 1000)), "limit": "50"}]
    assert [p.track.id for p in plays] == ["t2"]  # t1 is not after the instant
    assert plays[0].played_at == dt.datetime(2026, 5, 1, 10, 0, 0, 500_000, tzinfo=dt.UTC)


async def test_recently_played_follows_the_before_cursor(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/me/player/recently-played").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "items": [_play("t3", "2026-05-01T10:00:00Z")],
                    "next": "https://api.test/next",
                    "cursors": {"before": "1777600000000", "after": "9"},
                },
            ),
            httpx.Response(
                200, json={"items": [_play("t2", "2026-05-01T09:00:00Z")], "next": None}
            ),
        ]
    )
    plays = await session.recently_played(limit=60)
    assert [p.track.id for p in plays] == ["t3", "t2"]
    assert params_of(route) == [{"limit": "50"}, {"before": "1777600000000", "limit": "50"}]


async def test_saved_tracks_are_paged_by_fifty(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    def saved(track_id: str) -> dict[str, Any]:
        return {"added_at": "2026-04-01T08:00:00Z", "track": track_json(track_id)}

    route = spotify.get(f"{API}/me/tracks").mock(side_effect=paged(saved, 500))
    tracks = await session.saved_tracks(limit=120)
    assert len(tracks) == 120
    assert tracks[0].added_at == dt.datetime(2026, 4, 1, 8, tzinfo=dt.UTC)
    assert [(p["limit"], p["offset"]) for p in params_of(route)] == [
        ("50", "0"),
        ("50", "50"),
        ("20", "100"),
    ]


async def test_saved_tracks_stop_at_the_first_one_already_known(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    def saved(track_id: str) -> dict[str, Any]:
        return {"added_at": "2026-04-01T08:00:00Z", "track": track_json(track_id)}

    route = spotify.get(f"{API}/me/tracks").mock(side_effect=paged(saved, 500))
    tracks = await session.saved_tracks(limit=200, known={"x70", "x120"})
    assert [t.track.id for t in tracks] == [f"x{n}" for n in range(70)]
    assert len(route.calls) == 2  # the page holding x70 is the last one asked for
    assert await session.saved_tracks(limit=200, known={"x0"}) == []
    assert len(route.calls) == 3


async def test_playlists(session: UserSession, spotify: respx.MockRouter) -> None:
    route = spotify.get(f"{API}/me/playlists").respond(
        json=page(
            [
                {"id": "p1", "name": "Mine", "owner": {"id": "user1"}, "collaborative": True},
                {"id": "p2", "name": "Theirs", "owner": {"id": "other"}},
            ]
        )
    )
    playlists = await session.playlists()
    assert [(p.id, p.owner_id, p.collaborative) for p in playlists] == [
        ("p1", "user1", True),
        ("p2", "other", False),
    ]
    assert params_of(route) == [{"limit": "50", "offset": "0"}]


async def test_one_playlist_asks_for_its_details_only(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/playlists/p1").respond(
        json={
            "id": "p1",
            "name": "Road trip",
            "owner": {"id": "other", "display_name": "Other"},
            "collaborative": True,
            "items": {"total": 42},
            "images": [{"url": "https://img.test/p1"}],
        }
    )
    playlist = await session.playlist("p1")
    assert playlist == Playlist(
        "p1", "Road trip", "other", True, "Other", 42, "https://img.test/p1"
    )
    assert "items(total)" in params_of(route)[0]["fields"]


async def test_playlist_items_accept_both_item_keys_and_skip_non_tracks(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/playlists/p1/items").respond(
        json=page(
            [
                {"item": track_json("new-key")},
                {"track": track_json("old-key")},
                {
                    "item": {
                        "type": "episode",
                        "id": "e1",
                        "name": "Pod",
                        "uri": "spotify:episode:e1",
                    }
                },
                {"item": track_json("local", is_local=True, id=None)},
                {"item": None},
            ]
        )
    )
    tracks = await session.playlist_items("p1", limit=100)
    assert [t.id for t in tracks] == ["new-key", "old-key"]
    assert params_of(route) == [{"limit": "50", "offset": "0"}]


async def test_me(session: UserSession, spotify: respx.MockRouter) -> None:
    spotify.get(f"{API}/me").respond(json={"id": "user1", "display_name": None})
    profile = await session.me()
    assert (profile.id, profile.account_id, profile.display_name) == ("user1", None, None)
