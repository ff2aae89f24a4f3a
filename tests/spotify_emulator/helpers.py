"""Helpers for the emulator's tests: a virtual clock and token shortcuts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from starlette.applications import Starlette

from spotify_emulator import EmulatedUser, World

Connect = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


class VirtualClock:
    """A clock that only moves when told to (or when the emulator 'sleeps')."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def app_of(client: httpx.AsyncClient) -> Starlette:
    """The emulator app behind a client opened by `connect`."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, Starlette)
    return app


def basic_auth(world: World) -> dict[str, str]:
    """The Authorization header of the world's client credentials."""
    encoded = base64.b64encode(f"{world.client_id}:{world.client_secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


async def user_headers(
    client: httpx.AsyncClient, world: World, user: EmulatedUser
) -> dict[str, str]:
    """Bearer headers of a fresh user access token, got with the user's known refresh token."""
    answer = await client.post(
        "/accounts/api/token",
        data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
        headers=basic_auth(world),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def app_headers(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """Bearer headers of a client-credentials token."""
    answer = await client.post(
        "/accounts/api/token", data={"grant_type": "client_credentials"}, headers=basic_auth(world)
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
