"""A night in which every library holds local files and podcast episodes, and every artist has
genres (an extended-quota app): every user is snapshotted, genres are served as lists, episodes
are stored as episodes, and each snapshot says what it left out (issue 11)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from application import Settings
from db.database import Database
from db.models import EpisodePlay, Play, Track, User
from spotify_emulator import Faults, World
from spotify_models import TIME_RANGES
from tests.e2e.conftest import DAY, ApiServer, Emulator, configure, take_snapshots

pytestmark = pytest.mark.slow

ODD = Faults(local_files=True, episodes=True)
# Where the emulator puts them (spotify_emulator/oddities.py): three local files among the
# saved tracks, two local-file plays and two episode plays among the recent plays.
SKIPPED = {"/me/player/recently-played": {"local file": 2}, "/me/tracks": {"local file": 3}}
EPISODE_PLAYS = 2


def _stored(database: Database, username: str) -> tuple[list[str], set[str], int]:
    def read() -> tuple[list[str], set[str], int]:
        user = User.get(User.username == username)
        episodes = EpisodePlay.select(EpisodePlay.episode).where(EpisodePlay.user == user)
        plays = Play.select(Play.track).where(Play.user == user)
        local = Track.select().where(Track.uri.startswith("spotify:local:")).count()
        return sorted(e.episode_id for e in episodes), {p.track_id for p in plays}, local

    return database.run_sync(read)


async def test_local_files_and_episodes_cost_nobody_their_snapshot(
    settings: Settings,
    register_users: list[str],
    emulator: Callable[..., Emulator],
    world: World,
    encryption_key: str,
    database: Database,
) -> None:
    server = emulator("extended", ODD)
    configured = configure(
        settings, server, world, encryption_key, audio_features_sources=("spotify",)
    )

    summary = await take_snapshots(configured)

    assert summary.failed == {}
    assert sorted(summary.ok) == sorted(register_users)
    with ApiServer(configured) as served:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as api:
            for user in world.users:
                for time_range in TIME_RANGES:
                    answer = await api.get(
                        f"/users/{user.id}/top-items",
                        params={"type": "artists", "time_range": time_range},
                    )
                    artists = answer.json()["items"]
                    assert artists
                    for artist in artists:
                        assert artist["genres"] == world.artists[artist["id"]].genres
                listed = (await api.get(f"/users/{user.id}/snapshots")).json()["snapshots"]
                assert [(s["date"], s["skipped"]) for s in listed] == [(DAY.isoformat(), SKIPPED)]
    for user in world.users:
        episodes, played, local = _stored(database, user.id)
        assert len(episodes) == EPISODE_PLAYS
        assert set(episodes) <= set(world.episodes)
        assert played
        assert played <= set(world.tracks)
        assert local == 0
