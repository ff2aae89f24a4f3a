"""Absolute URLs come from PUBLIC_URL (default: the redirect URI's origin), never from Host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from db.database import Database
from tests.factories import make_user

HOSTILE = {"Host": "evil.example:666", "X-Forwarded-Host": "evil.example"}


@pytest.fixture
def ann(database: Database) -> None:
    database.run_sync(make_user, "ann")


@pytest.mark.parametrize(
    ("overrides", "origin"),
    [
        pytest.param({}, "http://127.0.0.1:8000", id="redirect-uri-origin"),
        pytest.param(
            {"spotify_redirect_uri": "https://music.example.org/auth/callback"},
            "https://music.example.org",
            id="other-redirect-uri",
        ),
        pytest.param(
            {"public_url": "https://insight.example.org"},
            "https://insight.example.org",
            id="public-url",
        ),
    ],
)
async def test_the_reauth_link_ignores_the_host_header(
    app_client: Callable[..., Any], ann: None, overrides: dict[str, Any], origin: str
) -> None:
    client = await app_client(**overrides)
    response = await client.get("/users/ann", headers=HOSTILE)
    assert response.status_code == 200
    assert response.json()["reauth_url"] == f"{origin}/auth/login?username=ann"


async def test_a_trailing_slash_redirect_ignores_the_host_header(
    app_client: Callable[..., Any], ann: None
) -> None:
    client = await app_client(public_url="https://insight.example.org")
    response = await client.get("/users/ann/snapshots/", headers=HOSTILE)
    assert response.is_redirect
    assert response.headers["location"] == "https://insight.example.org/users/ann/snapshots"
