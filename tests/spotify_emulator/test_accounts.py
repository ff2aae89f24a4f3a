"""The accounts service: authorize with auto-consent, and the three token grants."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from spotify_emulator import Faults, World
from tests.spotify_emulator.helpers import Connect, VirtualClock, app_of, basic_auth

REDIRECT = "http://127.0.0.1:8000/auth/callback"


def _authorize_params(world: World, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": world.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "xyz",
        "scope": "user-top-read user-read-private",
    }
    params.update(overrides)
    return params


async def _code(client: httpx.AsyncClient, world: World) -> str:
    answer = await client.get("/accounts/authorize", params=_authorize_params(world))
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


async def _exchange(
    client: httpx.AsyncClient, world: World, code: str, redirect: str = REDIRECT
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    return await client.post("/accounts/api/token", data=data, headers=basic_auth(world))


async def _refresh(client: httpx.AsyncClient, world: World, token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return await client.post("/accounts/api/token", data=data, headers=basic_auth(world))


async def test_authorize_redirects_with_code_and_state(connect: Connect, world: World) -> None:
    async with connect() as client:
        answer = await client.get("/accounts/authorize", params=_authorize_params(world))
    location = urlsplit(answer.headers["location"])
    assert answer.status_code == 302
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    assert query["code"][0]


async def test_denied_consent_redirects_with_access_denied(connect: Connect, world: World) -> None:
    async with connect() as client:
        app_of(client).state.emulator.deny_consent = True
        answer = await client.get("/accounts/authorize", params=_authorize_params(world))
    assert parse_qs(urlsplit(answer.headers["location"]).query) == {
        "error": ["access_denied"],
        "state": ["xyz"],
    }


async def test_unsupported_response_type_is_redirected_as_an_error(
    connect: Connect, world: World
) -> None:
    async with connect() as client:
        answer = await client.get(
            "/accounts/authorize", params=_authorize_params(world, response_type="token")
        )
    assert parse_qs(urlsplit(answer.headers["location"]).query)["error"] == [
        "unsupported_response_type"
    ]


@pytest.mark.parametrize(
    "override",
    [
        pytest.param({"client_id": "nope"}, id="unknown-client"),
        pytest.param({"redirect_uri": "http://localhost:8000/cb"}, id="localhost-redirect"),
        pytest.param({"redirect_uri": "http://example.com/cb"}, id="plain-http-redirect"),
        pytest.param({"redirect_uri": ""}, id="missing-redirect"),
    ],
)
async def test_authorize_refuses_bad_client_or_redirect(
    connect: Connect, world: World, override: dict[str, str]
) -> None:
    async with connect() as client:
        answer = await client.get(
            "/accounts/authorize", params=_authorize_params(world, **override)
        )
    assert answer.status_code == 400
    assert "location" not in answer.headers


async def test_https_redirect_is_accepted(connect: Connect, world: World) -> None:
    params = _authorize_params(world, redirect_uri="https://insight.example.org/cb")
    async with connect() as client:
        answer = await client.get("/accounts/authorize", params=params)
    assert answer.headers["location"].startswith("https://insight.example.org/cb?code=")


async def test_code_exchange_signs_in_the_consenting_user(connect: Connect, world: World) -> None:
    async with connect() as client:
        app_of(client).state.emulator.consent_user = world.users[2].id
        answer = await _exchange(client, world, await _code(client, world))
        body = answer.json()
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert answer.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "user-top-read user-read-private"
    assert body["refresh_token"]
    assert me.json()["id"] == world.users[2].id


async def test_code_is_single_use(connect: Connect, world: World) -> None:
    async with connect() as client:
        code = await _code(client, world)
        first = await _exchange(client, world, code)
        second = await _exchange(client, world, code)
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


async def test_code_exchange_needs_the_same_redirect_uri(connect: Connect, world: World) -> None:
    async with connect() as client:
        answer = await _exchange(
            client, world, await _code(client, world), "http://127.0.0.1:9/other"
        )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_refresh_answers_an_access_token(connect: Connect, world: World) -> None:
    async with connect() as client:
        answer = await _refresh(client, world, world.users[0].refresh_token)
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) >= {"access_token", "token_type", "expires_in", "scope"}


async def test_rotation_replaces_the_refresh_token_deterministically(
    connect: Connect, world: World
) -> None:
    token = world.users[0].refresh_token
    async with connect(faults=Faults(rotate_refresh_every=2)) as client:
        first = (await _refresh(client, world, token)).json()
        second = (await _refresh(client, world, token)).json()
        stale = await _refresh(client, world, token)
        fresh = await _refresh(client, world, second["refresh_token"])
    assert "refresh_token" not in first
    assert second["refresh_token"] != token
    assert stale.json() == {"error": "invalid_grant", "error_description": "Refresh token revoked"}
    assert fresh.status_code == 200


async def test_no_rotation_when_disabled(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(rotate_refresh_every=0)) as client:
        answers = [await _refresh(client, world, world.users[1].refresh_token) for _ in range(4)]
    assert all(a.status_code == 200 and "refresh_token" not in a.json() for a in answers)


@pytest.mark.parametrize(
    "token",
    [pytest.param("AQunknown", id="unknown"), pytest.param("", id="empty")],
)
async def test_unknown_refresh_token_is_invalid_grant(
    connect: Connect, world: World, token: str
) -> None:
    async with connect() as client:
        answer = await _refresh(client, world, token)
    assert answer.status_code == 400
    assert answer.json()["error"] in ("invalid_grant", "invalid_request")


async def test_revoked_user_gets_invalid_grant(connect: Connect, world: World) -> None:
    async with connect() as client:
        app_of(client).state.emulator.revoke(world.users[3].id)
        revoked = await _refresh(client, world, world.users[3].refresh_token)
        other = await _refresh(client, world, world.users[4].refresh_token)
    assert revoked.status_code == 400
    assert revoked.json() == {
        "error": "invalid_grant",
        "error_description": "Refresh token revoked",
    }
    assert other.status_code == 200


async def test_revoked_users_fault_refuses_refresh(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(revoked_users=frozenset({world.users[5].id}))) as client:
        answer = await _refresh(client, world, world.users[5].refresh_token)
    assert answer.json()["error"] == "invalid_grant"


async def test_refresh_token_dies_six_months_after_consent(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(rotate_refresh_every=0)) as client:
        clock.advance(170 * 86400)
        still = await _refresh(client, world, world.users[0].refresh_token)
        clock.advance(20 * 86400)
        dead = await _refresh(client, world, world.users[0].refresh_token)
    assert still.status_code == 200
    assert dead.json()["error"] == "invalid_grant"


async def test_client_credentials_token_has_no_refresh_token(
    connect: Connect, world: World
) -> None:
    async with connect() as client:
        answer = await client.post(
            "/accounts/api/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth(world),
        )
    body = answer.json()
    assert answer.status_code == 200
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param({"Authorization": "Basic bm9wZTpub3Bl"}, id="wrong-credentials"),
        pytest.param({"Authorization": "Basic !!!"}, id="garbled-header"),
    ],
)
async def test_bad_client_is_invalid_client(connect: Connect, headers: dict[str, str]) -> None:
    async with connect() as client:
        answer = await client.post(
            "/accounts/api/token", data={"grant_type": "client_credentials"}, headers=headers
        )
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_client"}


async def test_credentials_in_the_body_are_accepted(connect: Connect, world: World) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": world.client_id,
        "client_secret": world.client_secret,
    }
    async with connect() as client:
        answer = await client.post("/accounts/api/token", data=data)
    assert answer.status_code == 200


async def test_unknown_grant_type(connect: Connect, world: World) -> None:
    async with connect() as client:
        answer = await client.post(
            "/accounts/api/token", data={"grant_type": "password"}, headers=basic_auth(world)
        )
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"
