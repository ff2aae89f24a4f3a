"""The signed-in user's endpoints: shapes, paging, cursors, scopes and ownership."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spotify_emulator import World
from spotify_emulator.model import TIME_RANGES
from tests.spotify_emulator.helpers import Connect, app_headers, app_of, user_headers

PAGING_KEYS = {"href", "items", "limit", "next", "offset", "previous", "total"}


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        pytest.param("extended", {"email", "country", "product"}, set(), id="extended"),
        pytest.param("development", set(), {"email", "country", "product"}, id="development"),
    ],
)
async def test_me(
    connect: Connect, world: World, mode: str, present: set[str], absent: set[str]
) -> None:
    user = world.users[1]
    async with connect(mode) as client:
        body = (await client.get("/v1/me", headers=await user_headers(client, world, user))).json()
    assert body["id"] == user.id
    assert body["account_id"] == user.account_id
    assert body["display_name"] == user.display_name
    assert present <= set(body)
    assert not absent & set(body)


@pytest.mark.parametrize("time_range", TIME_RANGES)
async def test_top_tracks_page_through_the_ranking(
    connect: Connect, world: World, time_range: str
) -> None:
    user = world.users[0]
    async with connect() as client:
        headers = await user_headers(client, world, user)
        first = (
            await client.get(
                "/v1/me/top/tracks", params={"time_range": time_range, "limit": 50}, headers=headers
            )
        ).json()
        second = (await client.get(first["next"], headers=headers)).json()
    assert set(first) == PAGING_KEYS
    assert [t["id"] for t in first["items"] + second["items"]] == user.top_tracks[time_range]
    assert first["total"] == len(user.top_tracks[time_range])
    assert second["previous"] is not None
    assert second["next"] is None


async def test_top_artists_default_to_medium_term(connect: Connect, world: World) -> None:
    user = world.users[4]
    async with connect() as client:
        body = (
            await client.get("/v1/me/top/artists", headers=await user_headers(client, world, user))
        ).json()
    assert [a["id"] for a in body["items"]] == user.top_artists["medium_term"][:20]
    assert body["limit"] == 20


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"limit": "51"}, "Invalid limit", id="limit-over-50"),
        pytest.param({"limit": "0"}, "Invalid limit", id="limit-zero"),
        pytest.param({"limit": "ten"}, "Invalid limit", id="limit-not-a-number"),
        pytest.param({"offset": "-1"}, "Invalid offset", id="negative-offset"),
        pytest.param({"time_range": "forever"}, "Invalid time range", id="bad-time-range"),
    ],
)
async def test_top_rejects_bad_parameters(
    connect: Connect, world: World, params: dict[str, str], message: str
) -> None:
    async with connect() as client:
        answer = await client.get(
            "/v1/me/top/tracks",
            params=params,
            headers=await user_headers(client, world, world.users[0]),
        )
    assert answer.status_code == 400
    assert answer.json() == {"error": {"status": 400, "message": message}}


async def test_recently_played_shape(connect: Connect, world: World) -> None:
    user = world.users[0]
    async with connect() as client:
        body = (
            await client.get(
                "/v1/me/player/recently-played",
                params={"limit": 50},
                headers=await user_headers(client, world, user),
            )
        ).json()
    assert set(body) >= {"items", "next", "cursors", "limit", "href"}
    assert [item["track"]["id"] for item in body["items"]] == [t for t, _ in user.recent]
    newest = user.recent[0][1]
    assert (
        body["items"][0]["played_at"]
        == newest.strftime("%Y-%m-%dT%H:%M:%S.") + f"{newest.microsecond // 1000:03d}Z"
    )
    assert body["cursors"] == {"after": str(_ms(newest)), "before": str(_ms(user.recent[-1][1]))}
    assert body["next"] is None


async def test_recently_played_pages_backwards_with_before(connect: Connect, world: World) -> None:
    user = world.users[2]
    async with connect() as client:
        headers = await user_headers(client, world, user)
        first = (
            await client.get("/v1/me/player/recently-played", params={"limit": 20}, headers=headers)
        ).json()
        second = (await client.get(first["next"], headers=headers)).json()
    assert "before=" in first["next"]
    assert [i["track"]["id"] for i in first["items"] + second["items"]] == [
        t for t, _ in user.recent[:40]
    ]


async def test_recently_played_after_cursor_gives_only_newer_plays(
    connect: Connect, world: World
) -> None:
    user = world.users[3]
    cursor = _ms(user.recent[10][1])
    async with connect() as client:
        body = (
            await client.get(
                "/v1/me/player/recently-played",
                params={"after": cursor, "limit": 50},
                headers=await user_headers(client, world, user),
            )
        ).json()
    assert [i["track"]["id"] for i in body["items"]] == [t for t, _ in user.recent[:10]]


async def test_after_cursor_pages_forward_without_gaps(connect: Connect, world: World) -> None:
    user = world.users[3]
    cursor = _ms(user.recent[30][1])
    async with connect() as client:
        headers = await user_headers(client, world, user)
        first = (
            await client.get(
                "/v1/me/player/recently-played",
                params={"after": cursor, "limit": 20},
                headers=headers,
            )
        ).json()
        second = (await client.get(first["next"], headers=headers)).json()
    assert [i["track"]["id"] for i in second["items"] + first["items"]] == [
        t for t, _ in user.recent[:30]
    ]


async def test_recently_played_keeps_only_the_last_50_plays(connect: Connect, world: World) -> None:
    user = world.users[0]
    new_track = world.users[1].saved[0]
    async with connect() as client:
        state = app_of(client).state.emulator
        state.play(user.id, new_track, user.recent[0][1] + dt.timedelta(minutes=5))
        body = (
            await client.get(
                "/v1/me/player/recently-played",
                params={"limit": 50},
                headers=await user_headers(client, world, user),
            )
        ).json()
    ids = [i["track"]["id"] for i in body["items"]]
    assert ids[0] == new_track
    assert ids[1:] == [t for t, _ in user.recent[:49]]


async def test_recently_played_refuses_both_cursors(connect: Connect, world: World) -> None:
    async with connect() as client:
        answer = await client.get(
            "/v1/me/player/recently-played",
            params={"after": 1, "before": 2},
            headers=await user_headers(client, world, world.users[0]),
        )
    assert answer.status_code == 400


async def test_saved_tracks(connect: Connect, world: World) -> None:
    user = world.users[5]
    async with connect() as client:
        body = (
            await client.get(
                "/v1/me/tracks",
                params={"limit": 50},
                headers=await user_headers(client, world, user),
            )
        ).json()
    assert [i["track"]["id"] for i in body["items"]] == user.saved
    assert body["items"][0]["added_at"].endswith("Z")


async def test_playlists_own_one_follow_one(connect: Connect, world: World) -> None:
    user = world.users[0]
    async with connect() as client:
        body = (
            await client.get("/v1/me/playlists", headers=await user_headers(client, world, user))
        ).json()
    owners = [(p["id"], p["owner"]["id"]) for p in body["items"]]
    assert owners == [(user.playlist_id, user.id), (world.users[1].playlist_id, world.users[1].id)]


async def test_playlist_items_use_the_item_key(connect: Connect, world: World) -> None:
    user = world.users[0]
    playlist = world.playlists[user.playlist_id]
    async with connect() as client:
        headers = await user_headers(client, world, user)
        items = (
            await client.get(
                f"/v1/playlists/{playlist.id}/items", params={"limit": 50}, headers=headers
            )
        ).json()
        whole = (await client.get(f"/v1/playlists/{playlist.id}", headers=headers)).json()
    assert [i["item"]["id"] for i in items["items"]] == playlist.track_ids
    assert "track" not in items["items"][0]
    assert whole["items"]["total"] == len(playlist.track_ids)


async def test_playlist_items_of_someone_elses_playlist_are_forbidden(
    connect: Connect, world: World
) -> None:
    async with connect() as client:
        answer = await client.get(
            f"/v1/playlists/{world.users[1].playlist_id}/items",
            headers=await user_headers(client, world, world.users[0]),
        )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v1/me", id="me"),
        pytest.param("/v1/me/top/tracks", id="top"),
        pytest.param("/v1/me/player/recently-played", id="history"),
    ],
)
async def test_user_endpoints_refuse_client_credentials(
    connect: Connect, world: World, path: str
) -> None:
    async with connect() as client:
        answer = await client.get(path, headers=await app_headers(client, world))
    assert answer.status_code == 401


async def test_missing_scope_is_forbidden(connect: Connect, world: World) -> None:
    async with connect() as client:
        state = app_of(client).state.emulator
        token = state.tokens.issue_access(world.users[0].id, "user-read-private", None)
        answer = await client.get("/v1/me/top/tracks", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


def _unknown(body: dict[str, Any]) -> bool:
    return body == {"error": {"status": 404, "message": "Resource not found"}}


async def test_unknown_playlist_is_404(connect: Connect, world: World) -> None:
    async with connect() as client:
        answer = await client.get(
            "/v1/playlists/nope", headers=await user_headers(client, world, world.users[0])
        )
    assert answer.status_code == 404
    assert _unknown(answer.json())
