"""The API in front of an emulated Spotify over real HTTP (loopback), in either kind of app."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret

from db.database import Database
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from settings import Settings
from spotify_emulator import EmulatorServer, Faults, World, write_features_csv

WORLD = World.generate(seed=7)


@dataclasses.dataclass
class Emulated:
    """An API client whose Spotify is `server`, with every user of WORLD registered."""

    api: httpx.AsyncClient
    server: EmulatorServer
    world: World

    def spotify_paths(self) -> list[str]:
        """Paths of the Web API requests the emulator has seen so far."""
        return [r.path for r in self.server.requests if r.path.startswith("/v1/")]


@pytest.fixture(scope="session")
def emulator_features_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every track's features in the Kaggle layout: a development-mode app's feature source."""
    path = tmp_path_factory.mktemp("features") / "tracks.csv"
    write_features_csv(WORLD, path)
    return path


@pytest.fixture
def emulated(
    database: Database,
    settings: Settings,
    app_client: Callable[..., Awaitable[httpx.AsyncClient]],
    emulator_features_csv: Path,
) -> Iterator[Callable[..., Awaitable[Emulated]]]:
    """Factory: the API (real app, real lifespan) in front of an emulator in `mode`."""
    servers: list[EmulatorServer] = []
    key = generate_key()
    cipher = TokenCipher([key])
    for user in WORLD.users:
        database.run_sync(save_user_token, user.id, cipher.encrypt(user.refresh_token))

    async def make(mode: str, faults: Faults | None = None, **overrides: Any) -> Emulated:
        server = EmulatorServer(WORLD, mode, faults)
        server.start()
        servers.append(server)
        configured: dict[str, Any] = {
            "spotify_api_url": server.api_url,
            "spotify_accounts_url": server.accounts_url,
            "reccobeats_url": server.reccobeats_url,
            "spotify_client_id": WORLD.client_id,
            "spotify_client_secret": Secret(WORLD.client_secret),
            "token_encryption_keys": (Secret(key),),
            "audio_features_csv": emulator_features_csv,
        }
        api = await app_client(**(configured | overrides))
        return Emulated(api, server, WORLD)

    yield make
    for server in servers:
        server.stop()
