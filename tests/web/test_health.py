from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import peewee as pw
import pytest
from starlette.routing import Route

from application import build_app
from db import database as database_module
from db.database import Database
from settings import Settings
from tests.conftest import with_lifespan_state
from tests.freezing_proxy import freezing_proxy
from web.openapi import operations
from web.routes import routes


async def test_health_checks_the_database(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_health_is_503_when_the_database_fails(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise pw.OperationalError("connection refused")

    monkeypatch.setattr(database_module, "ping", broken)
    response = await api.get("/health")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


async def test_openapi_documents_every_route_and_parameter(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    for route in routes:
        assert isinstance(route, Route)
        assert route.path in document["paths"], route.path
        for method in (route.methods or set()) - {"HEAD"}:
            documented = document["paths"][route.path][method.lower()]
            names = {p["name"] for p in documented["parameters"]}
            assert set(re.findall(r"{(\w+)}", route.path)) <= names
            assert all(p["description"] for p in documented["parameters"])
            assert documented["summary"]


async def test_openapi_documents_the_refusals_schemathesis_met(api: httpx.AsyncClient) -> None:
    """An unknown query parameter is a 400 on every strict endpoint, pages included, and a
    page refused before it is reached answers a problem document, not HTML."""
    document = (await api.get("/openapi.json")).json()
    login = document["paths"]["/auth/login"]["get"]["responses"]
    assert "application/problem+json" in login["400"]["content"]
    assert "text/html" in login["400"]["content"]
    for method, path, _, spec in operations(routes):
        if spec.strict:
            assert "400" in document["paths"][path][method.lower()]["responses"], (method, path)


def test_every_route_declares_an_operation() -> None:
    declared = {(route.path, method) for method, _, route, _ in operations(routes)}
    expected = {
        (route.path, method)
        for route in routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert declared == expected


PROTECTED = [
    pytest.param(method, path, id=f"{method} {path}")
    for method, path, _, spec in operations(routes)
    if spec.protected
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer wrong-key", id="wrong"),
        pytest.param("Basic a2V5LW9uZQ==", id="basic-scheme"),
        pytest.param("Bearer key-one2", id="prefix-of-nothing"),
    ],
)
async def test_protected_routes_refuse_a_bad_api_key(
    app_client: Callable[..., Any], method: str, path: str, authorization: str | None
) -> None:
    from starlette.datastructures import Secret

    client = await app_client(api_keys=(Secret("key-one"), Secret("key-two")))
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.request(method, path.replace("{username}", "ann"), headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_valid_api_key_opens_reads_and_health_stays_open(
    app_client: Callable[..., Any],
) -> None:
    from starlette.datastructures import Secret

    client = await app_client(api_keys=(Secret("key-one"), Secret("key-two")))
    response = await client.get("/users/ann/snapshots", headers={"Authorization": "Bearer key-two"})
    assert response.status_code == 404  # past the key check: the user does not exist
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_openapi_names_the_credential_each_operation_needs(
    app_client: Callable[..., Any],
) -> None:
    from starlette.datastructures import Secret

    client = await app_client(admin_token=Secret("admin-secret"))
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert paths["/admin/snapshots"]["post"]["security"] == [{"adminToken": []}]
    assert paths["/users/{username}"]["delete"]["security"] == [{"adminToken": []}]
    assert paths["/users/{username}/history"]["get"]["security"] == [{"apiKey": []}]
    assert "security" not in paths["/health"]["get"]
    login_errors = paths["/auth/callback"]["get"]["responses"]
    assert all("text/html" in r.get("content", {}) for r in login_errors.values())


async def test_published_patterns_are_anchored(app_client: Callable[..., Any]) -> None:
    """JSON Schema patterns match anywhere; ours describe the whole value, as parsing does."""
    from starlette.datastructures import Secret

    client = await app_client(admin_token=Secret("admin-secret"))
    document = (await client.get("/openapi.json")).json()
    patterns = [
        parameter["schema"]["pattern"]
        for item in document["paths"].values()
        for operation in item.values()
        for parameter in operation["parameters"]
        if "pattern" in parameter["schema"]
    ]
    assert patterns
    assert all(p.startswith("^") and p.endswith("$") for p in patterns), patterns


async def test_health_is_503_in_time_when_the_database_never_answers(
    settings: Settings, database: Database, silent_server: tuple[str, int]
) -> None:
    """A PostgreSQL that accepts connections and never answers: /health must not hang."""
    host, port = silent_server
    silent = Database(f"postgresql://insight@{host}:{port}/insight", pool_size=2)
    app = build_app(settings)
    async with app.router.lifespan_context(app) as state:
        asgi = with_lifespan_state(app, {**(state or {}), "database": silent})
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://insight.test") as client:
            # Waits far longer than /health's own deadline, and fails rather than hang.
            asked = asyncio.ensure_future(client.get("/health"))
            done, _ = await asyncio.wait({asked}, timeout=30)
            assert asked in done, "/health hung on a silent database"
            response = asked.result()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_data_route_is_503_when_the_database_file_is_gone(
    settings: Settings, database: Database, database_url: str
) -> None:
    """A moved SQLite file is not re-created empty: health and data routes say so."""
    if not database_url.startswith("sqlite:///"):
        pytest.skip("PostgreSQL has no file to move; it never creates a database either")
    path = Path(database_url.removeprefix("sqlite:///"))
    app = build_app(settings)
    async with app.router.lifespan_context(app) as state:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        transport = httpx.ASGITransport(app=with_lifespan_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://insight.test") as client:
            health_answer = await client.get("/health")
            data_answer = await client.get("/users/ann/snapshots")
    assert health_answer.status_code == 503
    assert data_answer.status_code == 503
    assert not path.exists()


async def test_a_data_route_is_503_in_time_on_a_connection_opened_before_the_database_froze(
    settings: Settings, database: Database, database_url: str
) -> None:
    """The server cannot enforce its statement_timeout once frozen: the client bounds it."""
    if not database.is_postgres:
        pytest.skip("SQLite runs in-process; a server that freezes is PostgreSQL's")
    parts = urlsplit(database_url)
    with freezing_proxy((parts.hostname or "", parts.port or 5432)) as proxy:
        through = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
        configured = dataclasses.replace(
            settings,
            database_url=through,
            db_pool_size=1,
            db_statement_timeout=1.0,
            db_connect_timeout=2.0,
        )
        app = build_app(configured)
        async with app.router.lifespan_context(app) as state:
            transport = httpx.ASGITransport(app=with_lifespan_state(app, state))
            async with httpx.AsyncClient(transport=transport, base_url="http://insight.test") as c:
                assert (await c.get("/users/ann/snapshots")).status_code == 404  # pooled now
                proxy.freeze()
                # Waits far longer than the bounds (1 s + 2 s), and fails rather than hang.
                asked = asyncio.ensure_future(c.get("/users/ann/snapshots"))
                done, _ = await asyncio.wait({asked}, timeout=30)
                proxy.close()  # else a hung statement would hold the pool's shutdown too
                assert asked in done, "a data route hung on a frozen database"
                response = asked.result()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
