"""The /_emulator control endpoints, for tests that drive the emulator from another process."""

from __future__ import annotations

import datetime as dt

import pytest

from spotify_emulator import World
from tests.spotify_emulator.helpers import Connect, app_headers, basic_auth, user_headers


async def test_set_and_read_faults(connect: Connect, world: World) -> None:
    async with connect() as client:
        posted = await client.post("/_emulator/faults", json={"fail_first": 1, "error_status": 500})
        read = await client.get("/_emulator/faults")
        failed = await client.get(
            f"/v1/tracks/{next(iter(world.tracks))}", headers=await app_headers(client, world)
        )
    assert posted.status_code == 200
    assert read.json()["fail_first"] == 1
    assert failed.status_code == 500


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"no_such_fault": 1}, id="unknown-setting"),
        pytest.param([1, 2], id="not-an-object"),
    ],
)
async def test_bad_faults_are_refused(connect: Connect, body: object) -> None:
    async with connect() as client:
        answer = await client.post("/_emulator/faults", json=body)
    assert answer.status_code == 400


async def test_request_log_lists_and_clears(connect: Connect, world: World) -> None:
    async with connect() as client:
        await app_headers(client, world)
        listed = (await client.get("/_emulator/requests")).json()["requests"]
        cleared = await client.delete("/_emulator/requests")
        empty = (await client.get("/_emulator/requests")).json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in listed] == [
        ("POST", "/accounts/api/token", 200)
    ]
    assert {"time", "early", "fault", "query"} <= set(listed[0])
    assert cleared.status_code == 204
    assert empty == []


async def test_revoke_over_http(connect: Connect, world: World) -> None:
    user = world.users[2]
    async with connect() as client:
        await client.post("/_emulator/revoke", json={"user_id": user.id})
        answer = await client.post(
            "/accounts/api/token",
            data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
            headers=basic_auth(world),
        )
    assert answer.json()["error"] == "invalid_grant"


async def test_consent_over_http(connect: Connect, world: World) -> None:
    params = {
        "client_id": world.client_id,
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:1/cb",
        "state": "s",
    }
    async with connect() as client:
        await client.post("/_emulator/consent", json={"deny": True})
        denied = await client.get("/accounts/authorize", params=params)
        unknown = await client.post("/_emulator/consent", json={"user_id": "nobody"})
    assert "error=access_denied" in denied.headers["location"]
    assert unknown.status_code == 400


async def test_expire_tokens_over_http(connect: Connect, world: World) -> None:
    async with connect() as client:
        headers = await user_headers(client, world, world.users[0])
        await client.post("/_emulator/expire-tokens")
        answer = await client.get("/v1/me", headers=headers)
    assert answer.status_code == 401


async def test_play_over_http_appears_in_history(connect: Connect, world: World) -> None:
    user, track = world.users[1], world.users[0].saved[0]
    played_at = (user.recent[0][1] + dt.timedelta(minutes=3)).isoformat()
    async with connect() as client:
        added = await client.post(
            "/_emulator/play", json={"user_id": user.id, "track_id": track, "played_at": played_at}
        )
        naive = await client.post(
            "/_emulator/play",
            json={"user_id": user.id, "track_id": track, "played_at": "2026-01-01T00:00:00"},
        )
        history = (
            await client.get(
                "/v1/me/player/recently-played",
                params={"limit": 1},
                headers=await user_headers(client, world, user),
            )
        ).json()
    assert added.status_code == 204
    assert naive.status_code == 400
    assert history["items"][0]["track"]["id"] == track


async def test_control_requests_are_not_logged(connect: Connect) -> None:
    async with connect() as client:
        await client.get("/_emulator/faults")
        listed = (await client.get("/_emulator/requests")).json()["requests"]
    assert listed == []
