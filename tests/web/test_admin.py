from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from application import build_app
from db.database import Database
from db.models import Snapshot, SnapshotJob, SnapshotRun
from jobs.service import UnknownUsers
from settings import Settings
from tests.factories import make_snapshot, make_user
from web.openapi import operations
from web.routes import admin_routes, admin_sign_in_routes, build_routes

ADMIN = "admin-token-value"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


class FakeSnapshots:
    """Stands in for jobs.service.SnapshotService: records calls, knows two users."""

    def __init__(self) -> None:
        self.calls: list[tuple[dt.date | None, list[str] | None, bool, str]] = []

    async def start_run(
        self,
        date: dt.date | None,
        usernames: Sequence[str] | None,
        force: bool,
        trigger: str = "admin",
    ) -> str:
        unknown = set(usernames or ()) - {"ann", "bob"}
        if unknown:
            raise UnknownUsers(unknown)
        self.calls.append((date, list(usernames) if usernames else None, force, trigger))
        return "run-1"

    async def progress(self, run_id: str) -> dict[str, Any] | None:
        return {"run_id": run_id, "done": 1, "queued": 1} if run_id == "run-1" else None


@pytest.fixture
def fake() -> FakeSnapshots:
    return FakeSnapshots()


async def _client(
    settings: Settings, fake: FakeSnapshots, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(dataclasses.replace(settings, **overrides))
    async with app.router.lifespan_context(app) as state:

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": {**(state or {}), "snapshots": fake}}, receive, send)

        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://insight.test") as c:
            yield c


@pytest.fixture
async def admin(
    database: Database, settings: Settings, fake: FakeSnapshots
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(settings, fake, admin_token=Secret(ADMIN)):
        yield client


@pytest.fixture
async def no_admin(
    database: Database, settings: Settings, fake: FakeSnapshots
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(settings, fake):
        yield client


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(None, (None, None, False), id="defaults"),
        pytest.param({}, (None, None, False), id="empty-object"),
        pytest.param(
            {"date": "2026-03-01", "users": ["ann", "bob", "ann"], "force": True},
            (dt.date(2026, 3, 1), ["ann", "bob"], True),
            id="everything",
        ),
    ],
)
async def test_a_run_is_started_and_can_be_followed(
    admin: httpx.AsyncClient,
    fake: FakeSnapshots,
    body: dict[str, Any] | None,
    expected: tuple[Any, ...],
) -> None:
    response = await admin.post("/admin/snapshots", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "run_id": "run-1",
        "status_url": "http://127.0.0.1:8000/admin/snapshots/run-1",
    }
    assert fake.calls == [(*expected, "admin")]
    progress = await admin.get(response.json()["status_url"], headers=AUTH)
    assert progress.status_code == 200
    assert progress.json()["done"] == 1


@pytest.mark.parametrize(
    ("content", "name"),
    [
        pytest.param(b"{not json", None, id="malformed-json"),
        pytest.param(b"[1, 2]", None, id="not-an-object"),
        pytest.param(b'{"date": "2026-02-30"}', "date", id="impossible-date"),
        pytest.param(b'{"date": 20260301}', "date", id="date-not-a-string"),
        pytest.param(b'{"users": "ann"}', "users", id="users-not-a-list"),
        pytest.param(b'{"users": []}', "users", id="users-empty"),
        pytest.param(b'{"users": ["../etc"]}', "users", id="bad-username"),
        pytest.param(b'{"force": "yes"}', "force", id="force-not-boolean"),
        pytest.param(b'{"dry_run": true}', "dry_run", id="unknown-field"),
    ],
)
async def test_a_malformed_body_is_a_400_problem(
    admin: httpx.AsyncClient, fake: FakeSnapshots, content: bytes, name: str | None
) -> None:
    response = await admin.post("/admin/snapshots", content=content, headers=AUTH)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    if name:
        assert response.json()["invalid_params"][0]["name"] == name
    assert fake.calls == []


async def test_unknown_users_are_named_in_a_404_problem(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/admin/snapshots", json={"users": ["ann", "zed", "carl"]}, headers=AUTH
    )
    assert response.status_code == 404
    assert response.json()["unknown_users"] == ["carl", "zed"]


async def test_an_unknown_run_is_a_404_problem(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/snapshots/run-404", headers=AUTH)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


ADMIN_OPERATIONS = [
    pytest.param(method, path, id=f"{method} {path}")
    for method, path, _, _ in operations(admin_routes)
]


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer wrong", id="wrong"),
        pytest.param(f"Basic {ADMIN}", id="basic-scheme"),
        pytest.param("Bearer api-key", id="an-api-key"),
    ],
)
async def test_every_admin_route_needs_the_admin_token(
    database: Database,
    settings: Settings,
    fake: FakeSnapshots,
    method: str,
    path: str,
    authorization: str | None,
) -> None:
    overrides = {"admin_token": Secret(ADMIN), "api_keys": (Secret("api-key"),)}
    async for client in _client(settings, fake, **overrides):
        headers = {"Authorization": authorization} if authorization else {}
        url = path.replace("{username}", "ann").replace("{run_id}", "run-1")
        response = await client.request(method, url, headers=headers, json={})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert fake.calls == []


@pytest.mark.parametrize(
    ("method", "path"),
    [p for p in ADMIN_OPERATIONS if str(p.values[1]).startswith("/admin/")],
)
async def test_admin_routes_do_not_exist_without_admin_token(
    no_admin: httpx.AsyncClient, fake: FakeSnapshots, method: str, path: str
) -> None:
    url = path.replace("{run_id}", "run-1")
    response = await no_admin.request(method, url, headers=AUTH, json={})
    assert response.status_code == 404
    assert fake.calls == []


def test_routes_are_built_with_admin_only_when_the_token_is_set(
    settings_without_database: Settings,
) -> None:
    settings = settings_without_database

    def keyed(routes: Sequence[Any]) -> set[tuple[str, str]]:
        return {(m, r.path) for r in routes if isinstance(r, Route) for m in r.methods or ()}

    without = keyed(build_routes(settings))
    with_admin = keyed(build_routes(dataclasses.replace(settings, admin_token=Secret(ADMIN))))
    assert with_admin - without == keyed(admin_routes) | keyed(admin_sign_in_routes)
    assert not keyed(admin_routes) & without


def test_every_route_is_protected_admin_or_deliberately_open(
    settings_without_database: Settings,
) -> None:
    routes = build_routes(dataclasses.replace(settings_without_database, admin_token=Secret(ADMIN)))
    for method, path, _, spec in operations(routes):
        # Only the service's own pages (and their static assets) and the OAuth screens may be
        # read without a key.
        open_ok = spec.tag in ("service", "auth", "pages", "assets")
        assert spec.protected or spec.tag == "admin" or open_ok, (method, path)
        assert not (spec.protected and spec.tag == "admin"), (method, path)


async def test_a_run_that_cannot_start_is_refused_before_anything_is_queued(
    app_client: Callable[..., Awaitable[httpx.AsyncClient]], database: Database
) -> None:
    """The real service without TOKEN_ENCRYPTION_KEY: a 503 naming it, not a 202 that dies."""
    await database.run(make_user, "ann")
    client = await app_client(admin_token=Secret(ADMIN))
    response = await client.post("/admin/snapshots", json={}, headers=AUTH)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("TOKEN_ENCRYPTION_KEY is not set")
    assert await database.run(SnapshotRun.select().count) == 0
    assert await database.run(SnapshotJob.select().count) == 0


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"[" * 30_000 + b"]" * 30_000, id="60kb-of-brackets"),
        pytest.param(b'{"users": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", id="deep-field"),
        pytest.param(b'{"date": ' + b'{"a":' * 8_000 + b"1" + b"}" * 8_001, id="deep-objects"),
    ],
)
async def test_a_deeply_nested_body_is_a_400_problem(
    admin: httpx.AsyncClient, fake: FakeSnapshots, content: bytes
) -> None:
    response = await admin.post("/admin/snapshots", content=content, headers=AUTH)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "nested" in response.json()["detail"]
    assert fake.calls == []


async def test_the_run_location_ignores_the_host_header(
    admin: httpx.AsyncClient, fake: FakeSnapshots
) -> None:
    hostile = {"Host": "evil.example:666", "X-Forwarded-Host": "evil.example"}
    response = await admin.post("/admin/snapshots", json={}, headers={**hostile, **AUTH})
    assert response.status_code == 202
    # The default public origin: SPOTIFY_REDIRECT_URI's.
    assert response.json()["status_url"] == "http://127.0.0.1:8000/admin/snapshots/run-1"
    assert response.headers["location"] == response.json()["status_url"]


@pytest.fixture
async def real_admin(app_client: Callable[..., Any]) -> httpx.AsyncClient:
    """The admin API over the real snapshot service."""
    client: httpx.AsyncClient = await app_client(admin_token=Secret(ADMIN))
    return client


@pytest.mark.parametrize("date", ["2999-01-01", "9999-12-31"])
async def test_a_snapshot_date_after_tomorrow_is_a_400_naming_it(
    real_admin: httpx.AsyncClient, database: Database, date: str
) -> None:
    database.run_sync(make_user, "ann")
    response = await real_admin.post("/admin/snapshots", json={"date": date}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "date"
    assert "after tomorrow" in response.json()["detail"]
    assert database.run_sync(SnapshotRun.select().count) == 0


def _ann_with_snapshots(*dates: dt.date) -> None:
    user = make_user("ann")
    for date in dates:
        make_snapshot(user, date)
        SnapshotJob.create(user=user, date=date, status="done")


async def test_one_snapshot_is_deleted_with_its_rows_and_job(
    real_admin: httpx.AsyncClient, database: Database
) -> None:
    keep, drop = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
    database.run_sync(_ann_with_snapshots, keep, drop)
    response = await real_admin.delete("/users/ann/snapshots/2026-11-20", headers=AUTH)
    assert response.status_code == 204
    dates = database.run_sync(lambda: sorted(s.date for s in Snapshot.select()))
    assert dates == [keep]
    assert database.run_sync(lambda: [j.date for j in SnapshotJob.select()]) == [keep]
    again = await real_admin.delete("/users/ann/snapshots/2026-11-20", headers=AUTH)
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/users/nobody/snapshots/2026-11-20", 404, id="unknown-user"),
        pytest.param("/users/ann/snapshots/2026-02-30", 400, id="impossible-date"),
        pytest.param("/users/ann/snapshots/yesterday", 400, id="not-a-date"),
    ],
)
async def test_deleting_a_snapshot_that_is_not_there_is_a_problem(
    real_admin: httpx.AsyncClient, database: Database, path: str, status: int
) -> None:
    database.run_sync(_ann_with_snapshots, dt.date(2026, 11, 20))
    response = await real_admin.delete(path, headers=AUTH)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert database.run_sync(Snapshot.select().count) == 1


async def test_a_snapshot_being_taken_is_not_deleted(
    real_admin: httpx.AsyncClient, database: Database
) -> None:
    day = dt.date(2026, 11, 20)
    database.run_sync(_ann_with_snapshots, day)
    database.run_sync(lambda: SnapshotJob.update(status="running").execute())
    response = await real_admin.delete("/users/ann/snapshots/2026-11-20", headers=AUTH)
    assert response.status_code == 409
    assert database.run_sync(Snapshot.select().count) == 1


async def test_deleting_a_snapshot_needs_the_admin_token(
    real_admin: httpx.AsyncClient, database: Database
) -> None:
    database.run_sync(_ann_with_snapshots, dt.date(2026, 11, 20))
    response = await real_admin.delete("/users/ann/snapshots/2026-11-20")
    assert response.status_code == 401
    assert database.run_sync(Snapshot.select().count) == 1
