"""/artists/{id}: the artist's sound against the listener's clusters, checked like every page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable

from starlette.datastructures import Secret

from db.database import Database
from db.models import User
from settings import Settings
from tests.factories import make_snapshot, make_track
from tests.web.conftest import WORLD, Emulated
from tests.web.signed_in import session_cookie

Make = Callable[..., Awaitable[Emulated]]
SECRET = Secret("a-session-secret-of-the-artist-tests-01")
CENTROID = {"danceability": 0.5, "energy": 0.6, "loudness": -8.0, "speechiness": 0.1,
            "acousticness": 0.3, "instrumentalness": 0.2, "liveness": 0.1, "valence": 0.5,
            "tempo": 120.0}  # fmt: skip


def _as(settings: Settings, username: str) -> dict[str, str]:
    return session_cookie(dataclasses.replace(settings, session_secret=SECRET), username)


def _clustered(database: Database, username: str) -> None:
    def write() -> None:
        make_track("own-track", ["own-artist"])
        user = User.get(User.username == username)
        clusters = [("night drive", ["own-track"], CENTROID)]
        make_snapshot(user, dt.date(2026, 11, 20), clusters=clusters)

    database.run_sync(write)


async def test_the_artist_is_drawn_against_the_listeners_clusters(
    emulated: Make, database: Database, settings: Settings
) -> None:
    env = await emulated("development", session_secret=SECRET)
    listener = WORLD.users[0].id
    _clustered(database, listener)
    artist = next(a for a in WORLD.artists.values() if a.album_ids)
    response = await env.api.get(f"/artists/{artist.id}", headers=_as(settings, listener))
    assert response.status_code == 200, response.text
    page = response.text
    block = re.search(r'id="artist-radar-figure">(.*?)</script>', page, re.S)
    assert block
    names = [trace["name"] for trace in json.loads(block.group(1))["data"]]
    assert names == [artist.name, "your night drive (1)"]
    table = re.search(r'<table id="artist-radar-table">(.*?)</table>', page, re.S)
    assert table
    assert "your night drive (1)" in table.group(1)
    assert WORLD.albums[artist.album_ids[0]].name in page


async def test_only_the_listener_or_a_public_page_opens_it(
    emulated: Make, database: Database, settings: Settings
) -> None:
    env = await emulated("development", session_secret=SECRET)
    listener, other = WORLD.users[0].id, WORLD.users[1].id
    artist = next(iter(WORLD.artists.values()))
    anonymous = await env.api.get(f"/artists/{artist.id}")
    assert anonymous.status_code == 401
    assert 'href="/auth/login"' in anonymous.text
    stranger = await env.api.get(
        f"/artists/{artist.id}?username={listener}", headers=_as(settings, other)
    )
    assert stranger.status_code == 404
    assert env.spotify_paths() == []  # refused before anything was fetched
