"""Changes between two real snapshots: the pipeline against the emulator, the API reading them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from application import open_resources
from db.database import Database
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from settings import Settings
from spotify_emulator import EmulatorServer, World
from tests.e2e.conftest import configure

BEFORE, AFTER = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
TOP = 50  # Spotify shows the first 50 top items of each range
MODES = [pytest.param("development", id="dev-mode"), pytest.param("extended", id="extended")]


async def _snapshot(settings: Settings, day: dt.date, username: str) -> None:
    async with open_resources(settings) as resources:
        summary = await resources.snapshots.run(day, [username], trigger="cli")
    assert summary.succeeded, summary


def _change_taste(world: World, user_id: str) -> dict[str, list[str]]:
    """Between the snapshots the first two tracks swap places and a newcomer takes the third's;
    the ids each kind of change should list."""
    user = world.user(user_id)
    tracks = user.top_tracks["short_term"]
    newcomer = next(t for t in world.tracks if t not in tracks)
    first, second, third = tracks[0], tracks[1], tracks[2]
    changed = [second, first, newcomer, *tracks[3:]]
    user.top_tracks["short_term"] = changed
    return {"risers": [second], "fallers": [first], "dropped": [third], "new": [newcomer]}


@pytest.mark.parametrize("mode", MODES)
async def test_changes_between_two_snapshots_of_a_changing_taste(
    database: Database,
    settings: Settings,
    app_client: Callable[..., Awaitable[httpx.AsyncClient]],
    emulator_features_csv: Path,
    mode: str,
) -> None:
    world = World.generate(seed=7)  # its own: the test changes a user's taste
    user = world.users[0]
    key = generate_key()
    database.run_sync(save_user_token, user.id, TokenCipher([key]).encrypt(user.refresh_token))
    with EmulatorServer(world, mode) as server:
        configured = configure(
            settings, server, world, key, audio_features_csv=emulator_features_csv
        )
        await _snapshot(configured, BEFORE, user.id)
        expected = _change_taste(world, user.id)
        await _snapshot(configured, AFTER, user.id)
    api = await app_client()
    response = await api.get(f"/users/{user.id}/changes")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (BEFORE.isoformat(), AFTER.isoformat())
    short = body["lists"]["tracks"]["short_term"]
    for kind, ids in expected.items():
        assert [entry["id"] for entry in short[kind]] == ids, kind
    assert [(e["previous_rank"], e["rank"]) for e in short["risers"]] == [(2, 1)]
    assert short["unchanged"] == len(user.top_tracks["short_term"][:TOP]) - 3
    long_term = body["lists"]["tracks"]["long_term"]
    assert long_term["unchanged"] == len(user.top_tracks["long_term"][:TOP])
    assert body["taste"]["moves"], body["taste"]
