"""Who may read whose data: API keys of both kinds, sessions, the admin token, open mode."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from application import _middleware
from db.api_keys import create_key, revoke_key
from db.database import Database
from db.users import set_user_public
from settings import Settings
from tests.conftest import with_lifespan_state
from tests.factories import make_user
from tests.web.signed_in import session_cookie
from web.access import require_page_viewer
from web.key_scopes import VISIBILITY_SECONDS, KeyScopes
from web.problems import EXCEPTION_HANDLERS

SECRET = Secret("a-session-secret-of-the-tests-0123456789")
INSTANCE_KEY = "instance-key-value"
ADMIN = "admin-token-value"

Client = Callable[..., Awaitable[httpx.AsyncClient]]


def _users(database: Database, *names: str) -> None:
    def create() -> None:
        for name in names:
            make_user(name)

    database.run_sync(create)


def _key(database: Database, *users: str) -> str:
    return database.run_sync(create_key, list(users)).secret


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _signed_in(settings: Settings, username: str) -> dict[str, str]:
    return session_cookie(dataclasses.replace(settings, session_secret=SECRET), username)


@pytest.fixture
async def closed(app_client: Client, database: Database) -> httpx.AsyncClient:
    """The API with instance keys and an admin token, users alice and bob."""
    _users(database, "alice", "bob")
    return await app_client(
        api_keys=(Secret(INSTANCE_KEY),), admin_token=Secret(ADMIN), session_secret=SECRET
    )


async def test_with_no_key_of_either_kind_the_api_is_open(
    app_client: Client, database: Database
) -> None:
    _users(database, "alice")
    api = await app_client()
    assert (await api.get("/users/alice")).status_code == 200


async def test_without_credentials_a_closed_api_asks_for_them(closed: httpx.AsyncClient) -> None:
    response = await closed.get("/users/alice")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="spotify-insight"'
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_wrong_key_is_an_invalid_token(closed: httpx.AsyncClient) -> None:
    response = await closed.get("/users/alice", headers=_bearer("si_not-a-key"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("token", [INSTANCE_KEY, ADMIN], ids=["instance-key", "admin-token"])
async def test_instance_keys_and_the_admin_token_read_every_user(
    closed: httpx.AsyncClient, token: str
) -> None:
    for name in ("alice", "bob"):
        assert (await closed.get(f"/users/{name}", headers=_bearer(token))).status_code == 200


async def test_a_scoped_key_reads_exactly_its_users(
    closed: httpx.AsyncClient, database: Database
) -> None:
    _users(database, "carol")
    key = _key(database, "bob", "carol")
    assert (await closed.get("/users/bob", headers=_bearer(key))).status_code == 200
    assert (await closed.get("/users/carol", headers=_bearer(key))).status_code == 200
    refused = await closed.get("/users/alice", headers=_bearer(key))
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/forbidden"


async def test_a_stranger_cannot_tell_a_registered_user_from_an_unknown_one(
    closed: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    key = _key(database, "bob")
    for credentials in (_bearer(key), _signed_in(settings, "bob")):
        exists = await closed.get("/users/alice", headers=credentials)
        unknown = await closed.get("/users/zed", headers=credentials)
        assert exists.status_code == unknown.status_code == 403
        assert exists.json()["detail"].replace("alice", "zed") == unknown.json()["detail"]


async def test_a_scoped_key_alone_closes_the_api(app_client: Client, database: Database) -> None:
    _users(database, "alice", "bob")
    key = _key(database, "bob")
    api = await app_client()
    assert (await api.get("/users/alice")).status_code == 401
    assert (await api.get("/users/alice", headers=_bearer(key))).status_code == 403
    assert (await api.get("/users/bob", headers=_bearer(key))).status_code == 200


async def test_a_revoked_key_stops_working_and_the_api_stays_closed(
    app_client: Client, database: Database
) -> None:
    _users(database, "bob")
    key = _key(database, "bob")
    api = await app_client()
    assert (await api.get("/users/bob", headers=_bearer(key))).status_code == 200
    database.run_sync(revoke_key, "1")
    assert (await api.get("/users/bob", headers=_bearer(key))).status_code == 401
    assert (await api.get("/users/bob")).status_code == 401


async def test_a_session_reads_its_own_user_only(
    closed: httpx.AsyncClient, settings: Settings
) -> None:
    bob = _signed_in(settings, "bob")
    assert (await closed.get("/users/bob", headers=bob)).status_code == 200
    assert (await closed.get("/users/alice", headers=bob)).status_code == 403


async def test_a_forged_session_is_no_session(
    closed: httpx.AsyncClient, settings: Settings
) -> None:
    other = Secret("another-secret-another-secret-another-secret")
    forged = session_cookie(dataclasses.replace(settings, session_secret=other), "alice")
    assert (await closed.get("/users/alice", headers=forged)).status_code == 401


async def test_a_username_in_the_query_is_checked_like_one_in_the_path(
    closed: httpx.AsyncClient, database: Database
) -> None:
    key = _key(database, "bob")
    artist = "/artists/0123456789abcdefghijkl/profile"
    mine = await closed.get(f"{artist}?username=bob", headers=_bearer(key))
    assert mine.status_code not in (401, 403)
    for query in ("username=alice", "username=bob&username=alice"):
        refused = await closed.get(f"{artist}?{query}", headers=_bearer(key))
        assert refused.status_code == 403, query


async def test_catalogue_routes_take_any_valid_credential(
    closed: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    artist = "/artists/0123456789abcdefghijkl/profile"
    assert (await closed.get(artist)).status_code == 401
    for credentials in (_bearer(_key(database, "bob")), _signed_in(settings, "bob")):
        assert (await closed.get(artist, headers=credentials)).status_code not in (401, 403)


async def test_keys_created_elsewhere_close_the_open_api_within_the_interval(
    database: Database,
) -> None:
    now = [0.0]
    scopes = KeyScopes(clock=lambda: now[0])
    assert not await scopes.any_configured(database)
    _users(database, "bob")
    _key(database, "bob")
    assert not await scopes.any_configured(database)  # still within the interval
    now[0] += VISIBILITY_SECONDS
    assert await scopes.any_configured(database)


async def _viewer_page(request: Request) -> Response:
    await require_page_viewer(request, request.path_params["username"])
    return PlainTextResponse("the page")


@pytest.fixture
def pages(database: Database, settings: Settings) -> Callable[..., Awaitable[httpx.AsyncClient]]:
    """A page guarded as the pages engineer guards theirs, on the service's middleware."""

    async def make(**overrides: Any) -> httpx.AsyncClient:
        configured = dataclasses.replace(settings, session_secret=SECRET, **overrides)
        app = Starlette(
            routes=[Route("/u/{username}", _viewer_page)],
            middleware=_middleware(configured),
            exception_handlers=EXCEPTION_HANDLERS,
        )
        app.state.settings = configured
        transport = httpx.ASGITransport(app=with_lifespan_state(app, {"database": database}))
        return httpx.AsyncClient(transport=transport, base_url="http://insight.test")

    return make


async def test_pages_are_private_to_their_person(
    pages: Callable[..., Awaitable[httpx.AsyncClient]], database: Database, settings: Settings
) -> None:
    _users(database, "alice", "bob")
    async with await pages(api_keys=(), admin_token=Secret(ADMIN)) as client:
        own = await client.get("/u/alice", headers=_signed_in(settings, "alice"))
        assert own.status_code == 200
        anonymous = await client.get("/u/alice")
        assert (anonymous.status_code, anonymous.json()["type"]) == (
            401,
            "/problems/sign-in-required",
        )
        other = await client.get("/u/alice", headers=_signed_in(settings, "bob"))
        unknown = await client.get("/u/zed", headers=_signed_in(settings, "bob"))
        assert other.status_code == unknown.status_code == 404
        assert (await client.get("/u/alice", headers=_bearer(ADMIN))).status_code == 200
        # An API key is for the JSON API, not for pages.
        key = _key(database, "alice")
        assert (await client.get("/u/alice", headers=_bearer(key))).status_code == 401


async def test_a_public_user_s_pages_are_open_to_everyone(
    pages: Callable[..., Awaitable[httpx.AsyncClient]], database: Database, settings: Settings
) -> None:
    _users(database, "alice", "bob")
    database.run_sync(set_user_public, "alice", True)
    async with await pages() as client:
        assert (await client.get("/u/alice")).status_code == 200
        assert (
            await client.get("/u/alice", headers=_signed_in(settings, "bob"))
        ).status_code == 200
        assert (await client.get("/u/bob")).status_code == 401
    database.run_sync(set_user_public, "alice", False)
    async with await pages() as client:
        assert (await client.get("/u/alice")).status_code == 401


async def test_a_user_s_account_says_whether_their_pages_are_public(
    api: httpx.AsyncClient, database: Database
) -> None:
    _users(database, "alice")
    assert (await api.get("/users/alice")).json()["public"] is False
    database.run_sync(set_user_public, "alice", True)
    assert (await api.get("/users/alice")).json()["public"] is True


async def test_the_openapi_document_says_every_user_route_may_refuse(
    api: httpx.AsyncClient,
) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for path in ("/users/{username}/clusters", "/users/{username}", "/users/{username}/playlists"):
        responses = paths[path]["get"]["responses"]
        assert {"401", "403"} <= set(responses), path
        assert "do not cover this user" in responses["403"]["description"], path
    catalogue = paths["/artists/search"]["get"]["responses"]
    assert "401" in catalogue
    assert "403" not in catalogue
    assert (
        "Spotify refuses"
        in paths["/users/{username}/playlists"]["get"]["responses"]["403"]["description"]
    )
