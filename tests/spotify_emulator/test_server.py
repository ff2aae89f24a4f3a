"""The emulator over real HTTP: the whole sign-in flow, the request log and live faults."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from spotify_emulator import EmulatorServer, Faults, World
from spotify_emulator.server import BackgroundServer

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


async def test_server_controls_for_the_new_issues(world: World) -> None:
    outsider, user = world.users[5], world.users[0]
    async with EmulatorServer(world) as server, httpx.AsyncClient() as client:
        server.allow_list = {u.id for u in world.users[:5]}
        server.pick_user = True
        server.set_faults(Faults(rate_limit=1, omit_retry_after=True))

        async def user_get(who: str, path: str) -> httpx.Response:
            refresh = next(u.refresh_token for u in world.users if u.id == who)
            token = await client.post(
                f"{server.accounts_url}/api/token",
                data={"grant_type": "refresh_token", "refresh_token": refresh},
                auth=(world.client_id, world.client_secret),
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            return await client.get(f"{server.api_url}{path}", headers=headers)

        refused = await user_get(outsider.id, "/me")
        limited = await user_get(user.id, "/me")
        recommended = await client.get(
            f"{server.reccobeats_url}/track/recommendation",
            params={"seeds": next(iter(world.tracks)), "size": 3},
        )
        picker = await client.get(
            f"{server.accounts_url}/authorize",
            params={
                "client_id": world.client_id,
                "response_type": "code",
                "redirect_uri": "http://127.0.0.1:8000/cb",
            },
        )
        server.simulate_listening(1000, [user.id])
        exported = await client.get(
            f"{server.base_url}/_emulator/history-export",
            params={"user_id": user.id, "entries": 50},
        )
    assert refused.status_code == 403  # the first request in the window: allowed, then refused
    assert limited.status_code == 429
    assert "retry-after" not in limited.headers
    assert recommended.status_code == 200
    assert len(recommended.json()["content"]) <= 3
    assert picker.status_code == 200
    assert user.display_name in picker.text
    assert exported.status_code == 200
    assert server.allow_list == frozenset(u.id for u in world.users[:5])
    assert len(server.plays(user.id)) >= len(user.recent)


async def _failing_startup(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


def test_a_server_that_cannot_start_gives_its_port_back() -> None:
    """uvicorn leaves the socket it was handed open when the app's startup fails."""
    server = BackgroundServer(_failing_startup, lifespan="on")
    with pytest.raises(RuntimeError, match="did not start"):
        server.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", server.port))  # EADDRINUSE while the socket is held
