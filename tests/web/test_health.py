from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import peewee as pw
import pytest
from starlette.routing import Route

from web import health
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

    monkeypatch.setattr(health, "ping", broken)
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
