"""Playlist profiles for the cases the emulator has no playlist for: collaborative ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import pytest
import respx

from db.database import Database
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from jobs.clustering import CLUSTER_FEATURES
from jobs.playlist_profiles import PlaylistNotReadable, PlaylistProfiles
from jobs.user_sessions import UserSessions
from spotify_client import SpotifyClient
from spotify_models import AUDIO_FEATURE_NAMES

API = "https://api.test/v1"
ACCOUNTS = "https://accounts.test"
CIPHER = TokenCipher([generate_key()])


class QuietSource:
    """Features for ids t0..t11: half quiet and acoustic, half loud and electronic."""

    name = "fake"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def available(self) -> bool:
        return True

    async def fetch(self, track_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        self.asked.extend(track_ids)
        return {t: _features(int(t[1:])) for t in track_ids}


def _features(n: int) -> dict[str, float]:
    loud = n >= 6
    values = dict.fromkeys(AUDIO_FEATURE_NAMES, 0.5) | {"key": 5, "mode": 1, "time_signature": 4}
    return values | {
        "energy": (0.9 if loud else 0.1) + n * 0.001,
        "acousticness": 0.05 if loud else 0.9,
        "loudness": -4.0 if loud else -20.0,
        "tempo": 128.0 if loud else 80.0,
    }


def _track(n: int) -> dict[str, Any]:
    return {
        "id": f"t{n}",
        "name": f"Track {n}",
        "uri": f"spotify:track:t{n}",
        "duration_ms": 200_000,
        "artists": [{"id": "a1", "name": "Artist"}],
        "album": {"id": "al1", "name": "Album"},
    }


@pytest.fixture
def spotify() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{ACCOUNTS}/api/token").respond(
            json={"access_token": "tok", "expires_in": 3600, "token_type": "Bearer"}
        )
        router.get(f"{API}/me").respond(json={"id": "me"})
        router.get(f"{API}/playlists/p1").respond(
            json={"id": "p1", "name": "Jam", "owner": {"id": "friend"}, "collaborative": True}
        )
        yield router


@pytest.fixture
async def profiles(database: Database) -> AsyncIterator[tuple[PlaylistProfiles, QuietSource]]:
    database.run_sync(save_user_token, "ann", CIPHER.encrypt("refresh"))
    source = QuietSource()
    async with httpx.AsyncClient() as http:
        client = SpotifyClient(
            http, client_id="id", client_secret="secret", api_url=API, accounts_url=ACCOUNTS
        )
        sessions = UserSessions(database, client, CIPHER)
        yield PlaylistProfiles(database, sessions, lambda: [source]), source


async def test_a_collaborative_playlist_is_profiled(
    profiles: tuple[PlaylistProfiles, QuietSource], spotify: respx.MockRouter
) -> None:
    playlists, source = profiles
    items = [{"item": _track(n)} for n in range(12)] + [{"item": _track(3)}]
    spotify.get(f"{API}/playlists/p1/items").respond(json={"items": items, "next": None})
    body = await playlists.profile("ann", "p1")
    assert body["playlist"]["readable"] is True
    assert body["playlist"]["owned"] is False
    assert body["tracks"] == 12  # the repeated track counts once
    assert sorted(source.asked) == sorted(f"t{n}" for n in range(12))
    assert [c["size"] for c in body["clusters"]] == [6, 6]
    quiet = next(c for c in body["clusters"] if c["centroid"]["energy"] < 0.5)
    assert quiet["track_ids"] == [f"t{n}" for n in range(6)]
    assert set(quiet["centroid"]) == set(CLUSTER_FEATURES)
    assert "acoustic" in quiet["label"] or "quiet" in quiet["label"] or "mellow" in quiet["label"]
    assert body["features"]["profile"]["tempo"] == {
        "mean": 104.0,
        "std": 24.0,
        "min": 80.0,
        "max": 128.0,
    }


async def test_features_are_asked_once_then_read_from_the_catalogue(
    profiles: tuple[PlaylistProfiles, QuietSource], spotify: respx.MockRouter
) -> None:
    playlists, source = profiles
    items = [{"item": _track(n)} for n in range(12)]
    spotify.get(f"{API}/playlists/p1/items").respond(json={"items": items, "next": None})
    first = await playlists.profile("ann", "p1")
    source.asked.clear()
    again = await playlists.profile("ann", "p1")
    assert source.asked == []
    assert again["clusters"] == first["clusters"]


async def test_a_collaborative_playlist_spotify_refuses_is_not_readable(
    profiles: tuple[PlaylistProfiles, QuietSource], spotify: respx.MockRouter
) -> None:
    playlists, _ = profiles
    spotify.get(f"{API}/playlists/p1/items").respond(
        403, json={"error": {"status": 403, "message": "Forbidden"}}
    )
    with pytest.raises(PlaylistNotReadable, match="owns or collaborates on"):
        await playlists.profile("ann", "p1")
