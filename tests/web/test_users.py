from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret

from db.database import Database
from db.models import Snapshot, User, utcnow
from tests.factories import make_snapshot, make_user

ADMIN = "admin-token-value"


def _user_with_token_age(days: int, status: str = User.ACTIVE) -> None:
    user = make_user("ann", status=status)
    user.token_obtained_at = utcnow() - dt.timedelta(days=days)
    user.display_name = "Ann"
    user.save()
    Snapshot.create(user=user, date=dt.date(2026, 5, 1), status=Snapshot.COMPLETE)


@pytest.mark.parametrize(
    ("days", "status", "expiring"),
    [
        pytest.param(10, User.ACTIVE, False, id="fresh"),
        pytest.param(160, User.ACTIVE, True, id="older-than-five-months"),
        pytest.param(200, User.REAUTH_REQUIRED, True, id="revoked"),
    ],
)
async def test_a_user_shows_token_health_and_a_reauth_link(
    api: httpx.AsyncClient, database: Database, days: int, status: str, expiring: bool
) -> None:
    database.run_sync(_user_with_token_age, days, status)
    response = await api.get("/users/ann")
    assert response.status_code == 200
    body = response.json()
    obtained = (utcnow() - dt.timedelta(days=days)).date()
    assert body["token_age_days"] in (days, days + 1)  # the test may straddle midnight
    assert body["token_expiring"] is expiring
    assert dt.date.fromisoformat(body["token_expires_on"]) > obtained + dt.timedelta(days=180)
    assert body == {
        **body,
        "username": "ann",
        "display_name": "Ann",
        "status": status,
        "last_snapshot": "2026-05-01",
        "reauth_url": "http://127.0.0.1:8000/auth/login?username=ann",
    }
    assert "refresh" not in str(body).lower()


async def test_an_unknown_user_is_a_404_problem(api: httpx.AsyncClient) -> None:
    response = await api.get("/users/nobody")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_user_endpoint_needs_an_api_key(
    app_client: Callable[..., Any], database: Database
) -> None:
    database.run_sync(make_user, "ann")
    client = await app_client(api_keys=(Secret("key-one"),))
    assert (await client.get("/users/ann")).status_code == 401
    ok = await client.get("/users/ann", headers={"Authorization": "Bearer key-one"})
    assert ok.status_code == 200


def _ann_with_a_snapshot() -> None:
    Snapshot.create(user=make_user("ann"), date=dt.date(2026, 5, 1))


async def test_admin_removes_a_user_and_their_data(
    app_client: Callable[..., Any], database: Database
) -> None:
    database.run_sync(_ann_with_a_snapshot)
    client = await app_client(admin_token=Secret(ADMIN))
    response = await client.delete("/users/ann", headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 204
    assert database.run_sync(User.select().count) == 0
    assert database.run_sync(Snapshot.select().count) == 0
    again = await client.delete("/users/ann", headers={"Authorization": f"Bearer {ADMIN}"})
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


async def test_a_removed_user_is_no_longer_served_from_memory(
    app_client: Callable[..., Any], database: Database
) -> None:
    database.run_sync(lambda: make_snapshot(make_user("ann"), dt.date(2026, 5, 1)))
    client = await app_client(admin_token=Secret(ADMIN))
    assert (await client.get("/users/ann/clusters")).status_code == 200
    await client.delete("/users/ann", headers={"Authorization": f"Bearer {ADMIN}"})
    assert (await client.get("/users/ann/clusters")).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer wrong", id="wrong"),
        pytest.param("Bearer key-one", id="api-key-is-not-admin"),
    ],
)
async def test_removing_a_user_needs_the_admin_token(
    app_client: Callable[..., Any], database: Database, authorization: str | None
) -> None:
    database.run_sync(make_user, "ann")
    client = await app_client(admin_token=Secret(ADMIN), api_keys=(Secret("key-one"),))
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.delete("/users/ann", headers=headers)
    assert response.status_code == 401
    assert database.run_sync(User.select().count) == 1


async def test_without_admin_token_users_cannot_be_removed(
    api: httpx.AsyncClient, database: Database
) -> None:
    database.run_sync(make_user, "ann")
    response = await api.delete("/users/ann", headers={"Authorization": "Bearer anything"})
    # The path exists for GET only: DELETE is not a method of it at all.
    assert response.status_code == 405
    assert "DELETE" not in response.headers.get("allow", "")
    assert database.run_sync(User.select().count) == 1
