"""No route shows one user's data to another: a walk of the app's whole route table.

The walk reads the route table the app serves, so a route added later is covered without
touching this file. Bob, with his own session or a key scoped to him, asks every route for
alice's data (as the path's username, and as a `username` query parameter). Every answer must
be free of alice's data; a route with `{username}` in its path must refuse him exactly as it
refuses a user who does not exist; and alice herself, with the same kinds of credentials,
must get past the check, so the refusal is about bob and not about a malformed request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret
from starlette.routing import Route

from application import build_app
from db.api_keys import create_key
from db.database import Database
from db.models import Track
from settings import Settings
from tests.factories import make_snapshot, make_track, make_user
from tests.web.signed_in import session_cookie
from web.routes import admin_routes

SECRET = Secret("a-session-secret-of-the-leak-walk-0123456789")
ADMIN = "admin-token-of-the-leak-walk"
DATE = dt.date(2026, 11, 20)
# Text that exists only in alice's data: her display name, a track only she has, her mix.
MARKERS = ("Alice Zyxwv", "Qwzx Alice-only track", "qwzx-alice-mix")
# Values for path parameters other than the username: each names nothing that exists, or a
# date alice has a snapshot of, so an answer can only carry data through the username.
PATH_VALUES = {"date": DATE.isoformat(), "year": str(DATE.year), "id": "0" * 22}
FALLBACK_VALUE = "0"
# Routes with `{username}` in the path that may answer bob about alice, and why. None may
# today; an entry must name a route that exists (checked below), so the list cannot go stale.
EXEMPT: dict[str, str] = {}
REFUSED = (401, 403, 404)

Client = Callable[..., Awaitable[httpx.AsyncClient]]


def _world() -> None:
    alice = make_user("alice")
    alice.display_name = MARKERS[0]
    alice.save()
    mine = make_track(
        "qwzxAliceOnlyTrack0000", ("qwzxAliceArtist0000000",), "qwzxAliceAlbum00000000"
    )
    Track.update(name=MARKERS[1]).where(Track.id == mine.id).execute()
    centroid = {"energy": 0.5}
    make_snapshot(
        alice,
        DATE,
        recommendations=[mine.id],
        top_tracks={"medium_term": [mine.id]},
        clusters=[(MARKERS[2], [mine.id], centroid)],
    )
    bob = make_user("bob")
    theirs = make_track(
        "bobTrack00000000000000", ("bobArtist0000000000000",), "bobAlbum00000000000000"
    )
    make_snapshot(
        bob, DATE, recommendations=[theirs.id], clusters=[("bob mix", [theirs.id], centroid)]
    )


def _routes(app: Any) -> Iterator[tuple[str, Route]]:
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, route


def _path(route: Route, username: str) -> str:
    values = {name: PATH_VALUES.get(name, FALLBACK_VALUE) for name in route.param_convertors}
    return route.path_format.format(**{**values, "username": username})


def _has_user_path(route: Route) -> bool:
    return "username" in route.param_convertors


def _urls(route: Route, username: str) -> list[str]:
    path = _path(route, username)
    return [path, f"{path}?username={username}"] if not _has_user_path(route) else [path]


@dataclasses.dataclass
class Walk:
    client: httpx.AsyncClient
    found: list[str] = dataclasses.field(default_factory=list)

    async def ask(self, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
        return await self.client.request(method, url, headers=headers)

    def leaked(self, label: str, response: httpx.Response) -> None:
        shown = [marker for marker in MARKERS if marker in response.text]
        if shown:
            self.found.append(f"{label}: {response.status_code} shows {shown}")


@pytest.fixture
def credentials(database: Database, settings: Settings) -> dict[str, dict[str, str]]:
    """Bob's and alice's session and scoped key, the key created before the app starts."""
    database.run_sync(_world)
    signed = dataclasses.replace(settings, session_secret=SECRET)
    made: dict[str, dict[str, str]] = {}
    for name in ("alice", "bob"):
        key = database.run_sync(create_key, [name]).secret
        made[f"{name}-session"] = session_cookie(signed, name)
        made[f"{name}-key"] = {"Authorization": f"Bearer {key}"}
    return made


@pytest.fixture
async def walk(app_client: Client, credentials: dict[str, dict[str, str]]) -> Walk:
    client = await app_client(
        session_secret=SECRET,
        admin_token=Secret(ADMIN),
        # Nowhere to reach quickly: a route that calls Spotify fails at once.
        spotify_api_url="http://127.0.0.1:9/v1",
        spotify_accounts_url="http://127.0.0.1:9",
    )
    return Walk(client)


def _served_routes(settings: Settings) -> list[tuple[str, Route]]:
    app = build_app(dataclasses.replace(settings, admin_token=Secret(ADMIN)))
    return list(_routes(app))


def test_the_exempt_routes_exist(settings: Settings) -> None:
    served = {f"{method} {route.path}" for method, route in _served_routes(settings)}
    assert set(EXEMPT) <= served


async def test_bob_never_sees_alice_s_data_on_any_route(
    walk: Walk, credentials: dict[str, dict[str, str]], settings: Settings
) -> None:
    for method, route in _served_routes(settings):
        if f"{method} {route.path}" in EXEMPT:
            continue
        for who in ("bob-session", "bob-key"):
            for url in _urls(route, "alice"):
                walk.leaked(f"{who} {method} {url}", await walk.ask(method, url, credentials[who]))
    assert walk.found == []


async def test_user_routes_refuse_bob_as_they_refuse_a_stranger(
    walk: Walk, credentials: dict[str, dict[str, str]], settings: Settings
) -> None:
    wrong = []
    for method, route in _served_routes(settings):
        label = f"{method} {route.path}"
        if not _has_user_path(route) or label in EXEMPT:
            continue
        for who in ("bob-session", "bob-key"):
            alice = await walk.ask(method, _path(route, "alice"), credentials[who])
            nobody = await walk.ask(method, _path(route, "zed"), credentials[who])
            if alice.status_code not in REFUSED or alice.status_code != nobody.status_code:
                wrong.append(f"{who} {label}: alice {alice.status_code}, zed {nobody.status_code}")
    assert wrong == []


async def test_alice_gets_past_the_check_on_her_own_routes(
    walk: Walk, credentials: dict[str, dict[str, str]], settings: Settings
) -> None:
    """The control: bob's refusals are about bob, not about requests nobody could make."""
    admin_paths = {
        (m, r.path) for r in admin_routes if isinstance(r, Route) for m in r.methods or ()
    }
    refused = []
    for method, route in _served_routes(settings):
        if not _has_user_path(route) or (method, route.path) in admin_paths:
            continue
        statuses = [
            (await walk.ask(method, _path(route, "alice"), credentials[who])).status_code
            for who in ("alice-session", "alice-key")
        ]
        # A page takes the session and not the key, the JSON API both: one must get past.
        if all(status in (401, 403) for status in statuses):
            refused.append(f"{method} {route.path}: {statuses}")
    assert refused == []


async def test_with_the_api_open_no_page_shows_alice_s_data_to_bob(
    app_client: Client, database: Database, settings: Settings
) -> None:
    """No key of either kind: the JSON API is open by choice, but nothing else is."""
    database.run_sync(_world)
    client = await app_client(session_secret=SECRET, spotify_api_url="http://127.0.0.1:9/v1")
    bob = session_cookie(dataclasses.replace(settings, session_secret=SECRET), "bob")
    walk = Walk(client)
    for method, route in _served_routes(settings):
        operation = getattr(route.endpoint, "__operation__", None)
        if operation is not None and operation.protected:
            continue  # the JSON API, open by configuration
        for headers in ({}, bob):
            for url in _urls(route, "alice"):
                who = "bob-session" if headers else "anonymous"
                walk.leaked(f"{who} {method} {url}", await walk.ask(method, url, headers))
    assert walk.found == []
