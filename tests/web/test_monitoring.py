"""GET /metrics: admin-only, labelled by templates, and showing a real snapshot run."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.datastructures import Secret

import logs
from db.capabilities import DatabaseCapabilityStore
from db.database import Database
from tests.factories import make_snapshot, make_user
from tests.web.conftest import Emulated

ADMIN = "admin-token-for-metrics"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
Make = Callable[..., Awaitable[Emulated]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(api: httpx.AsyncClient) -> Samples:
    response = await api.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_need_the_admin_token_and_vanish_without_it(
    app_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    without_admin = await app_client()
    assert (await without_admin.get("/metrics")).status_code == 404
    # An instance-wide API key is not the admin token.
    api = await app_client(admin_token=Secret(ADMIN), api_keys=(Secret("api-key"),))
    for headers in ({}, {"Authorization": "Bearer api-key"}, {"Authorization": "Bearer wrong"}):
        refused = await api.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert "insight_" not in refused.text


# With sessions, their middleware sits between RequestEdge and the router: the route the
# router records must still reach the count.
@pytest.mark.parametrize(
    "sessions",
    [
        pytest.param({}, id="no-sessions"),
        pytest.param({"session_secret": Secret("s" * 32)}, id="sessions"),
    ],
)
async def test_requests_are_counted_by_route_template_never_by_username(
    app_client: Callable[..., Awaitable[httpx.AsyncClient]],
    database: Database,
    sessions: dict[str, Secret],
) -> None:
    await database.run(lambda: make_snapshot(make_user("carol"), dt.date(2026, 11, 20)))
    api = await app_client(admin_token=Secret(ADMIN), **sessions)
    template = "/users/{username}/clusters"
    before = await _scrape(api)
    assert (await api.get("/users/carol/clusters")).status_code == 200
    assert (await api.get("/users/nobody-here/clusters")).status_code == 404
    assert (await api.get("/no/such/path/carol")).status_code == 404
    response = await api.get("/metrics", headers=AUTH)
    after = await _scrape(api)

    def grew(status: str, route: str = template) -> float:
        labels = {"method": "GET", "route": route, "status": status}
        name = "insight_http_requests_total"
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("200") == 1
    assert grew("404") == 1
    assert grew("404", route="unmatched") == 1
    latency = "insight_http_request_duration_seconds_count"
    assert _value(after, latency, method="GET", route=template) >= 2
    for username in ("carol", "nobody-here"):
        assert username not in response.text


@pytest.fixture
def stamped_records() -> Iterator[None]:
    """Records carry the request and run they were made in, as the service's logging has it."""
    factory = logging.getLogRecordFactory()
    logs.install_log_context()
    yield
    logging.setLogRecordFactory(factory)


@pytest.mark.usefixtures("stamped_records")
async def test_a_snapshot_run_shows_its_users_spotify_calls_and_capabilities(
    emulated: Make, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    env = await emulated("development", admin_token=Secret(ADMIN))
    users = [user.id for user in env.world.users[:2]]
    before = await _scrape(env.api)
    started = await env.api.post("/admin/snapshots", json={"users": users}, headers=AUTH)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    await _until_finished(env.api, started.json()["status_url"])
    # The run is closed in the database a moment before its worker counts it (its duration
    # last, after its result).
    duration = "insight_snapshot_run_duration_seconds_count"
    after = await _scrape_until_grown(env.api, before, duration, {"trigger": "admin"})

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("insight_snapshot_runs_total", trigger="admin", result="finished") == 1
    assert grew("insight_snapshot_run_duration_seconds_count", trigger="admin") == 1
    assert grew("insight_snapshot_users_total", outcome="ok") == 2
    assert grew("insight_spotify_requests_total", endpoint="/me/top/tracks", status="200") >= 2
    assert grew("insight_spotify_requests_total", endpoint="/api/token", status="200") >= 2
    # A development-mode app has lost recommendations: the run learnt it, the flag says so.
    assert _value(after, "insight_spotify_capability", capability="recommendations") == 0
    endpoints = {dict(labels)["endpoint"] for name, labels in after if "spotify_requests" in name}
    assert "/artists/{id}/albums" in endpoints
    # Templates only: every segment is a word of Spotify's paths or `{id}`, never an id.
    segments = {segment for endpoint in endpoints for segment in endpoint.split("/")[1:]}
    assert all(re.fullmatch(r"[a-z-]+|\{id\}", segment) for segment in segments), endpoints
    # What the run logged (Spotify closing endpoints to a development-mode app) names the run.
    closed = [r for r in caplog.records if "closed to this app" in r.getMessage()]
    assert closed
    assert {getattr(r, "run_id", None) for r in closed} == {run_id}


async def test_capability_flags_are_the_databases_whoever_learnt_them(
    app_client: Callable[..., Awaitable[httpx.AsyncClient]], database: Database
) -> None:
    api = await app_client(admin_token=Secret(ADMIN))
    opened = await _scrape(api)
    assert _value(opened, "insight_spotify_capability", capability="audio_features") == 1
    # Another worker process learnt that Spotify closed it: it wrote the mark.
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    await DatabaseCapabilityStore(database).save("audio_features", False, expires)
    closed = await _scrape(api)
    assert _value(closed, "insight_spotify_capability", capability="audio_features") == 0
    assert _value(closed, "insight_spotify_capability", capability="batch_tracks") == 1


async def _scrape_until_grown(
    api: httpx.AsyncClient, before: Samples, name: str, labels: dict[str, str]
) -> Samples:
    """The samples once `name` has grown since `before`.

    Waiting for the sample to exist is not enough: the registry is the process's, so an
    earlier test's run (the other database's) has already made it.
    """
    for _ in range(600):
        samples = await _scrape(api)
        if _value(samples, name, **labels) > _value(before, name, **labels):
            return samples
        await asyncio.sleep(0.05)
    pytest.fail(f"{name} {labels} never grew")


async def _until_finished(api: httpx.AsyncClient, status_url: str) -> None:
    for _ in range(600):
        progress = (await api.get(status_url, headers=AUTH)).json()
        if progress["finished_at"] is not None:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"the run did not finish: {progress}")
