"""The emulator over real HTTP: the whole sign-in flow, the request log and live faults."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from spotify_emulator import EmulatorServer, Faults, World

pytestmark = pytest.mark.slow


def test_sign_in_and_read_over_real_http(world: World) -> None:
    redirect = "http://127.0.0.1:8000/auth/callback"
    with EmulatorServer(world, mode="development", port=0) as server, httpx.Client() as client:
        server.consent_user = world.users[1].id
        consent = client.get(
            f"{server.accounts_url}/authorize",
            params={
                "client_id": world.client_id,
                "response_type": "code",
                "redirect_uri": redirect,
                "state": "s1",
            },
        )
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        token = client.post(
            f"{server.accounts_url}/api/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
            auth=(world.client_id, world.client_secret),
        ).json()
        me = client.get(
            f"{server.api_url}/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        records = server.requests
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.api_url == f"{server.base_url}/v1"
    assert me.status_code == 200
    assert me.json()["id"] == world.users[1].id
    assert me.json()["href"] == f"{server.api_url}/users/{world.users[1].id}"
    assert [r.status for r in records] == [302, 200, 200]


async def test_async_server_with_live_faults(world: World) -> None:
    async with EmulatorServer(world, mode="extended") as server, httpx.AsyncClient() as client:
        server.set_faults(Faults(targets=("/reccobeats",), fail_first=1))
        url = f"{server.reccobeats_url}/audio-features"
        failed = await client.get(url, params={"ids": next(iter(world.tracks))})
        healthy = await client.get(url, params={"ids": next(iter(world.tracks))})
        posted = await client.post(f"{server.base_url}/_emulator/faults", json={"quota": 0})
        spent = await client.get(f"{server.api_url}/tracks/x")
    assert failed.status_code == 503
    assert healthy.status_code == 200
    assert posted.status_code == 200
    assert spent.json()["error"]["reason"] == "QUOTA_EXCEEDED"
