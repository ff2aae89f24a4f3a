"""A development-mode app's allow-list (at most five users) and the 401 that no refresh cures."""

from __future__ import annotations

import pytest

from spotify_emulator import Faults, World
from spotify_emulator.state import NOT_REGISTERED
from tests.spotify_emulator.helpers import Connect, app_headers, basic_auth, user_headers

USER_ENDPOINTS = (
    "/v1/me",
    "/v1/me/top/tracks",
    "/v1/me/top/artists",
    "/v1/me/player/recently-played",
    "/v1/me/tracks",
    "/v1/me/playlists",
)


async def test_every_user_is_allowed_by_default(connect: Connect, world: World) -> None:
    async with connect("development") as client:
        statuses = [
            (await client.get("/v1/me", headers=await user_headers(client, world, u))).status_code
            for u in world.users
        ]
    assert statuses == [200] * len(world.users)


async def test_a_user_missing_from_the_allow_list_gets_403_everywhere(
    connect: Connect, world: World
) -> None:
    allowed, outsider = world.users[:5], world.users[5]
    async with connect("development") as client:
        control = await client.post(
            "/_emulator/allow-list", json={"user_ids": [u.id for u in allowed]}
        )
        # The token endpoint still works: Spotify refuses the calls, not the sign-in.
        headers = await user_headers(client, world, outsider)
        refused = [await client.get(path, headers=headers) for path in USER_ENDPOINTS]
        own = f"/v1/playlists/{outsider.playlist_id}/items"
        refused.append(await client.get(own, headers=headers))
        insider = await client.get("/v1/me", headers=await user_headers(client, world, allowed[0]))
        catalogue = await client.get(
            f"/v1/tracks/{next(iter(world.tracks))}", headers=await app_headers(client, world)
        )
    assert control.json() == {"user_ids": sorted(u.id for u in allowed)}
    assert [r.status_code for r in refused] == [403] * (len(USER_ENDPOINTS) + 1)
    assert refused[0].json() == {"error": {"status": 403, "message": NOT_REGISTERED}}
    assert insider.status_code == 200
    assert catalogue.status_code == 200


async def test_extended_apps_have_no_allow_list(connect: Connect, world: World) -> None:
    async with connect("extended") as client:
        await client.post("/_emulator/allow-list", json={"user_ids": [world.users[0].id]})
        answer = await client.get(
            "/v1/me", headers=await user_headers(client, world, world.users[1])
        )
    assert answer.status_code == 200


async def test_allow_list_can_be_lifted(connect: Connect, world: World) -> None:
    async with connect("development") as client:
        await client.post("/_emulator/allow-list", json={"user_ids": [world.users[0].id]})
        lifted = await client.post("/_emulator/allow-list", json={"user_ids": None})
        read = await client.get("/_emulator/allow-list")
        answer = await client.get(
            "/v1/me", headers=await user_headers(client, world, world.users[1])
        )
    assert lifted.json() == read.json() == {"user_ids": None}
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"user_ids": "alice.0"}, id="not-a-list"),
        pytest.param({"user_ids": ["nobody"]}, id="unknown-user"),
        pytest.param({}, id="missing"),
        pytest.param("six", id="six-users"),
    ],
)
async def test_bad_allow_lists_are_refused(connect: Connect, world: World, body: object) -> None:
    if body == "six":
        body = {"user_ids": [u.id for u in world.users]}
    async with connect("development") as client:
        answer = await client.post("/_emulator/allow-list", json=body)
        after = await client.get("/_emulator/allow-list")
    assert answer.status_code == 400
    assert after.json() == {"user_ids": None}


async def test_unauthorized_user_gets_401_even_after_a_fresh_token(
    connect: Connect, world: World
) -> None:
    stuck, other = world.users[2], world.users[3]
    async with connect(faults=Faults(unauthorized_users=frozenset({stuck.id}))) as client:
        refreshed = await client.post(
            "/accounts/api/token",
            data={"grant_type": "refresh_token", "refresh_token": stuck.refresh_token},
            headers=basic_auth(world),
        )
        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        answers = [await client.get(path, headers=headers) for path in USER_ENDPOINTS]
        fine = await client.get("/v1/me", headers=await user_headers(client, world, other))
    assert refreshed.status_code == 200
    assert {a.status_code for a in answers} == {401}
    assert answers[0].json()["error"]["status"] == 401
    assert fine.status_code == 200
