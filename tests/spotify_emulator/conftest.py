"""Fixtures for the emulator's own tests: one world, a virtual clock, clients on the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from spotify_emulator import Faults, World, create_app
from tests.spotify_emulator.helpers import Connect, VirtualClock


@pytest.fixture(scope="session")
def world() -> World:
    """The world every emulator test runs against."""
    return World.generate(seed=7)


@pytest.fixture
def clock() -> VirtualClock:
    """A fresh virtual clock."""
    return VirtualClock()


@pytest.fixture
def connect(world: World, clock: VirtualClock) -> Connect:
    """Open a client on a fresh emulator app: `async with connect("extended", faults) as c`."""

    @asynccontextmanager
    async def _connect(
        mode: str = "development", faults: Faults | None = None
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(world, mode, faults, clock=clock, sleep=clock.sleep)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://emu"
        ) as client:
            yield client

    return _connect
