"""DatabaseCapabilityStore on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import respx

from db.capabilities import DatabaseCapabilityStore
from db.database import Database
from db.models import Capability
from spotify_client import EndpointUnavailable, SpotifyClient

API = "https://api.test/v1"
NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def _store(database: Database, now: dt.datetime = NOW) -> DatabaseCapabilityStore:
    return DatabaseCapabilityStore(database, now=lambda: now)


async def test_saved_mark_loads_until_it_expires(database: Database) -> None:
    store = _store(database)
    await store.save("recommendations", False, NOW + dt.timedelta(days=1))
    assert await store.load() == {"recommendations": False}
    later = _store(database, NOW + dt.timedelta(days=1, seconds=1))
    assert await later.load() == {}


async def test_save_twice_replaces_the_mark(database: Database) -> None:
    store = _store(database)
    await store.save("audio_features", False, NOW + dt.timedelta(hours=1))
    await store.save("audio_features", True, NOW + dt.timedelta(days=2))
    assert await store.load() == {"audio_features": True}
    rows = database.run_sync(lambda: list(Capability.select().dicts()))
    assert rows == [
        {"name": "audio_features", "available": True, "expires_at": dt.datetime(2026, 5, 3, 12)}
    ]


async def test_aware_expiry_is_stored_as_naive_utc(database: Database) -> None:
    store = _store(database)
    plus_two = dt.timezone(dt.timedelta(hours=2))
    await store.save("batch_tracks", False, dt.datetime(2026, 5, 2, 14, 0, tzinfo=plus_two))
    stored = database.run_sync(lambda: Capability.get_by_id("batch_tracks").expires_at)
    assert stored == dt.datetime(2026, 5, 2, 12, 0)


async def test_failed_save_is_logged_not_raised(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    database.run_sync(lambda: database.peewee.drop_tables([Capability]))
    await _store(database).save("recommendations", False, NOW)
    assert "could not store capability 'recommendations'" in caplog.text


def _client(http: httpx.AsyncClient, database: Database) -> SpotifyClient:
    return SpotifyClient(
        http,
        client_id="id",
        client_secret="secret",
        api_url=API,
        accounts_url="https://accounts.test",
        capability_store=DatabaseCapabilityStore(database),
    )


async def test_closed_endpoint_is_persisted_so_the_next_client_does_not_probe(
    database: Database,
) -> None:
    with respx.mock() as mock:
        mock.post("https://accounts.test/api/token").respond(
            json={"access_token": "app-token", "expires_in": 3600}
        )
        closed = mock.get(f"{API}/recommendations").respond(404)
        async with httpx.AsyncClient() as http:
            first = _client(http, database)
            await first.load_capabilities()
            with pytest.raises(EndpointUnavailable):
                await first.recommendations(seed_tracks=["t1"])

            second = _client(http, database)
            assert second.can("recommendations")
            await second.load_capabilities()
            assert not second.can("recommendations")
            with pytest.raises(EndpointUnavailable):
                await second.recommendations(seed_tracks=["t1"])
    assert closed.call_count == 1
