"""Each endpoint: the request it sends (paths, 2026 limits, paging) and what it returns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx

from spotify_client import Album, ArtistRef, SpotifyClient, UserSession
from tests.spotify_client.conftest import API, REFRESH_TOKEN, artist_json, page, track_json


def _params(route: respx.Route) -> list[dict[str, str]]:
    return [dict(call.request.url.params) for call in route.calls]


def _paged(make_item: Any, total: int) -> Any:
    """A side effect serving `total` items through limit/offset pages."""

    def answer(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        offset = int(request.url.params.get("offset", "0"))
        items = [make_item(f"x{n}") for n in range(offset, min(offset + limit, total))]
        return httpx.Response(200, json=page(items, more=offset + limit < total))

    return answer


@pytest.fixture
def session(client: SpotifyClient) -> UserSession:
    return client.for_user(REFRESH_TOKEN)


async def test_search_tracks_pages_ten_at_a_time(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    serve = _paged(track_json, 100)
    route = spotify.get(f"{API}/search").mock(
        side_effect=lambda request: httpx.Response(200, json={"tracks": serve(request).json()})
    )
    tracks = await client.search_tracks("daft punk", limit=25)
    assert [t.id for t in tracks] == [f"x{n}" for n in range(25)]
    assert _params(route) == [
        {"q": "daft punk", "type": "track", "limit": "10", "offset": "0"},
        {"q": "daft punk", "type": "track", "limit": "10", "offset": "10"},
        {"q": "daft punk", "type": "track", "limit": "5", "offset": "20"},
    ]


async def test_search_artists_stops_at_the_last_page(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    serve = _paged(artist_json, 12)
    route = spotify.get(f"{API}/search").mock(
        side_effect=lambda request: httpx.Response(200, json={"artists": serve(request).json()})
    )
    artists = await client.search_artists("x", limit=50)
    assert len(artists) == 12
    assert [p["limit"] for p in _params(route)] == ["10", "10"]
    assert {p["type"] for p in _params(route)} == {"artist"}


async def test_removed_fields_become_none(client: SpotifyClient, spotify: respx.MockRouter) -> None:
    spotify.get(f"{API}/tracks/t1").respond(json=track_json())
    spotify.get(f"{API}/artists/a1").respond(json=artist_json())
    track = await client.track("t1")
    artist = await client.artist("a1")
    assert track.popularity is None
    assert track.isrc == "GBABC2000001"
    assert track.artists == (ArtistRef("a1", "Artist a1"),)
    assert track.album is not None
    assert track.album.release_date == "2020-01-01"
    assert (artist.genres, artist.popularity, artist.image_url) == (None, None, None)


async def test_extended_quota_fields_are_kept(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    spotify.get(f"{API}/tracks/t1").respond(json=track_json(popularity=77, explicit=True))
    spotify.get(f"{API}/artists/a1").respond(
        json=artist_json(
            genres=["house"], popularity=80, images=[{"url": "https://i/1.jpg"}], followers={}
        )
    )
    track = await client.track("t1")
    artist = await client.artist("a1")
    assert (track.popularity, track.explicit) == (77, True)
    assert (artist.genres, artist.popularity, artist.image_url) == (
        ("house",),
        80,
        "https://i/1.jpg",
    )


async def test_artist_albums_pages_ten_at_a_time(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/artists/a1/albums").mock(
        side_effect=_paged(lambda i: {"id": i, "name": i, "artists": []}, 50)
    )
    albums = await client.artist_albums("a1", limit=20, include_groups="album")
    assert len(albums) == 20
    assert [(p["limit"], p["offset"], p["include_groups"]) for p in _params(route)] == [
        ("10", "0", "album"),
        ("10", "10", "album"),
    ]


async def test_album_tracks_carry_the_album(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    album = Album("al9", "Nine", (), "1999", None)
    simplified = {k: v for k, v in track_json().items() if k != "album"}
    route = spotify.get(f"{API}/albums/al9/tracks").respond(json=page([simplified]))
    tracks = await client.album_tracks(album, limit=80)
    assert tracks[0].album == album
    assert _params(route) == [{"limit": "50", "offset": "0"}]


@pytest.mark.parametrize("time_range", ["short_term", "medium_term", "long_term"])
async def test_top_items_for_each_time_range(
    session: UserSession, spotify: respx.MockRouter, time_range: str
) -> None:
    artists = spotify.get(f"{API}/me/top/artists").respond(json=page([artist_json()]))
    tracks = spotify.get(f"{API}/me/top/tracks").respond(json=page([track_json()]))
    assert [a.id for a in await session.top_artists(time_range)] == ["a1"]
    assert [t.id for t in await session.top_tracks(time_range, limit=20)] == ["t1"]
    assert _params(artists) == [{"time_range": time_range, "limit": "50", "offset": "0"}]
    assert _params(tracks) == [{"time_range": time_range, "limit": "20", "offset": "0"}]
    assert artists.calls.last.request.headers["Authorization"] == "Bearer user-token-1"


async def test_top_items_beyond_fifty_are_paged(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    route = spotify.get(f"{API}/me/top/tracks").mock(side_effect=_paged(track_json, 99))
    tracks = await session.top_tracks("long_term", limit=99)
    assert len(tracks) == 99
    assert [(p["limit"], p["offset"]) for p in _params(route)] == [("50", "0"), ("49", "50")]


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
    assert _params(route) == [{"after": str(int(after.timestamp() * 1000)), "limit": "50"}]
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
    assert _params(route) == [{"limit": "50"}, {"before": "1777600000000", "limit": "50"}]


async def test_saved_tracks_are_paged_by_fifty(
    session: UserSession, spotify: respx.MockRouter
) -> None:
    def saved(track_id: str) -> dict[str, Any]:
        return {"added_at": "2026-04-01T08:00:00Z", "track": track_json(track_id)}

    route = spotify.get(f"{API}/me/tracks").mock(side_effect=_paged(saved, 500))
    tracks = await session.saved_tracks(limit=120)
    assert len(tracks) == 120
    assert tracks[0].added_at == dt.datetime(2026, 4, 1, 8, tzinfo=dt.UTC)
    assert [(p["limit"], p["offset"]) for p in _params(route)] == [
        ("50", "0"),
        ("50", "50"),
        ("20", "100"),
    ]


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
    assert _params(route) == [{"limit": "50", "offset": "0"}]


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
    assert _params(route) == [{"limit": "50", "offset": "0"}]


async def test_me(session: UserSession, spotify: respx.MockRouter) -> None:
    spotify.get(f"{API}/me").respond(json={"id": "user1", "display_name": None})
    profile = await session.me()
    assert (profile.id, profile.account_id, profile.display_name) == ("user1", None, None)
