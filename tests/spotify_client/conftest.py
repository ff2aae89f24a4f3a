"""Fixtures for the Spotify client: respx routes, a token endpoint and virtual time."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import itertools
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from spotify_client import MemoryCapabilityStore, RetryPolicy, SpotifyClient, VirtualTime

API = "https://api.test/v1"
ACCOUNTS = "https://accounts.test"
TOKEN_URL = f"{ACCOUNTS}/api/token"
CLIENT_ID = "client-id-123"
CLIENT_SECRET = "client-secret-SECRET"
REFRESH_TOKEN = "refresh-token-SECRET"
EPOCH = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class TokenEndpoint:
    """The accounts service: answers each grant type, records what it was asked."""

    app_tokens: Iterator[str] = dataclasses.field(
        default_factory=lambda: (f"app-token-{n}" for n in itertools.count(1))
    )
    user_tokens: Iterator[str] = dataclasses.field(
        default_factory=lambda: (f"user-token-{n}" for n in itertools.count(1))
    )
    expires_in: int = 3600
    rotated_refresh_token: str | None = None
    refresh_error: str | None = None
    forms: list[dict[str, str]] = dataclasses.field(default_factory=list)
    authorizations: list[str] = dataclasses.field(default_factory=list)

    def grants(self, grant_type: str) -> list[dict[str, str]]:
        return [form for form in self.forms if form["grant_type"] == grant_type]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        self.authorizations.append(request.headers.get("Authorization", ""))
        if form["grant_type"] == "client_credentials":
            return httpx.Response(
                200, json={"access_token": next(self.app_tokens), "expires_in": self.expires_in}
            )
        if self.refresh_error:
            return httpx.Response(400, json={"error": self.refresh_error})
        answer: dict[str, Any] = {
            "access_token": next(self.user_tokens),
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": "user-top-read",
        }
        if self.rotated_refresh_token:
            answer["refresh_token"] = self.rotated_refresh_token
        return httpx.Response(200, json=answer)


def basic_header() -> str:
    return "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


def track_json(track_id: str = "t1", **fields: Any) -> dict[str, Any]:
    """A track as development-mode apps get it in 2026: no popularity, markets, preview."""
    return {
        "id": track_id,
        "name": f"Track {track_id}",
        "uri": f"spotify:track:{track_id}",
        "duration_ms": 200_000,
        "explicit": False,
        "artists": [{"id": "a1", "name": "Artist a1"}],
        "album": {"id": "al1", "name": "Album", "release_date": "2020-01-01", "images": []},
        "external_ids": {"isrc": "GBABC2000001"},
        **fields,
    }


def artist_json(artist_id: str = "a1", **fields: Any) -> dict[str, Any]:
    """An artist as development-mode apps get it in 2026: no genres, popularity, followers."""
    return {"id": artist_id, "name": f"Artist {artist_id}", "images": [], **fields}


def page(items: list[Any], *, more: bool = False) -> dict[str, Any]:
    return {"items": items, "next": "https://api.test/next" if more else None}


def params_of(route: respx.Route) -> list[dict[str, str]]:
    """The query parameters of each request a route received."""
    return [dict(call.request.url.params) for call in route.calls]


def ids_of(request: httpx.Request) -> list[str]:
    """The ids a batch request asked for."""
    return request.url.params["ids"].split(",")


def paged(make_item: Any, total: int) -> Any:
    """A side effect serving `total` items through limit/offset pages."""

    def answer(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        offset = int(request.url.params.get("offset", "0"))
        items = [make_item(f"x{n}") for n in range(offset, min(offset + limit, total))]
        return httpx.Response(200, json=page(items, more=offset + limit < total))

    return answer


@pytest.fixture
async def vtime() -> AsyncIterator[VirtualTime]:
    time = VirtualTime(EPOCH)
    ticker = asyncio.create_task(time.run())
    yield time
    ticker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ticker


@pytest.fixture
def token_endpoint() -> TokenEndpoint:
    return TokenEndpoint()


@pytest.fixture
def spotify(token_endpoint: TokenEndpoint) -> Iterator[respx.MockRouter]:
    """Every request to Spotify is mocked; an unmocked one fails the test."""
    with respx.mock(assert_all_called=False) as mock:
        mock.post(TOKEN_URL).mock(side_effect=token_endpoint)
        yield mock


@pytest.fixture
def store(vtime: VirtualTime) -> MemoryCapabilityStore:
    return MemoryCapabilityStore(now=vtime.wall)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_client(http: httpx.AsyncClient, vtime: VirtualTime, store: MemoryCapabilityStore) -> Any:
    def make(**overrides: Any) -> SpotifyClient:
        options: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_url": API,
            "accounts_url": ACCOUNTS,
            "capability_store": store,
            "retry": RetryPolicy(),
            "sleep": vtime.sleep,
            "clock": vtime.clock,
            "now": vtime.wall,
            "rng": random.Random(7),
            **overrides,
        }
        return SpotifyClient(http, **options)

    return make


@pytest.fixture
def client(make_client: Any, spotify: respx.MockRouter) -> SpotifyClient:
    return make_client()
