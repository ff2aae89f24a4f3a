"""Fault injection through the app, on a virtual clock so no test waits."""

from __future__ import annotations

import json

import httpx
import pytest

from spotify_emulator import Faults, World
from spotify_emulator.faults import FaultInjector, RequestRecord
from tests.spotify_emulator.helpers import Connect, VirtualClock, app_headers, app_of, basic_auth


async def _get_track(
    client: httpx.AsyncClient, world: World, headers: dict[str, str]
) -> httpx.Response:
    return await client.get(f"/v1/tracks/{next(iter(world.tracks))}", headers=headers)


def _log(client: httpx.AsyncClient) -> list[RequestRecord]:
    return list(app_of(client).state.emulator.requests())


async def test_latency_delays_targeted_requests_only(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(latency=2.5)) as client:
        headers = await app_headers(client, world)
        await _get_track(client, world, headers)
    assert clock.slept == [2.5]


async def test_slow_responses_exceed_a_timeout(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(slow_rate=1.0, slow_delay=30.0)) as client:
        answer = await _get_track(client, world, await app_headers(client, world))
    assert answer.status_code == 200
    assert clock.slept == [30.0]


async def test_throttle_answers_429_with_retry_after_and_flags_early_requests(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(throttle_first=1, retry_after=3)) as client:
        headers = await app_headers(client, world)
        throttled = await _get_track(client, world, headers)
        clock.advance(1)
        too_soon = await _get_track(client, world, headers)
        clock.advance(2)
        patient = await _get_track(client, world, headers)
        log = [r for r in _log(client) if r.path.startswith("/v1")]
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "3"
    assert throttled.json()["error"]["status"] == 429
    assert too_soon.status_code == 429
    assert too_soon.headers["retry-after"] == "2"
    assert patient.status_code == 200
    assert [r.early for r in log] == [False, True, False]


async def test_rolling_window_rate_limit(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(rate_limit=2, rate_limit_window=10)) as client:
        headers = await app_headers(client, world)
        first = [(await _get_track(client, world, headers)).status_code for _ in range(2)]
        clock.advance(4)
        limited = await _get_track(client, world, headers)
        clock.advance(int(limited.headers["retry-after"]))
        after_wait = await _get_track(client, world, headers)
    assert first == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "6"
    assert after_wait.status_code == 200


async def test_429_without_retry_after_announces_nothing(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(throttle_first=2, omit_retry_after=True)) as client:
        headers = await app_headers(client, world)
        refused = [await _get_track(client, world, headers) for _ in range(2)]
        served = await _get_track(client, world, headers)
        log = [r for r in _log(client) if r.path.startswith("/v1")]
    assert [r.status_code for r in refused] == [429, 429]
    assert all("retry-after" not in r.headers for r in refused)
    assert refused[0].json()["error"] == {"status": 429, "message": "API rate limit exceeded"}
    assert served.status_code == 200
    # Nothing was announced, so an immediate retry is not early.
    assert [(r.status, r.retry_after, r.early) for r in log] == [
        (429, None, False),
        (429, None, False),
        (200, None, False),
    ]


async def test_rolling_window_without_retry_after_still_limits(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    faults = Faults(rate_limit=1, rate_limit_window=10, omit_retry_after=True)
    async with connect(faults=faults) as client:
        headers = await app_headers(client, world)
        statuses = [(await _get_track(client, world, headers)).status_code for _ in range(3)]
        clock.advance(10)
        after_window = await _get_track(client, world, headers)
        log = [r for r in _log(client) if r.path.startswith("/v1")]
    assert statuses == [200, 429, 429]
    assert after_window.status_code == 200
    assert not any(r.early for r in log)


async def test_bench_rate_limit_announces_the_wait_the_window_needs(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    # The snapshot bench's setting: 180 requests per rolling 30 s, 50 ms latency.
    faults = Faults(rate_limit=180, rate_limit_window=30, latency=0.05)
    async with connect(faults=faults) as client:
        headers = await app_headers(client, world)
        start = clock()
        burst = [(await _get_track(client, world, headers)).status_code for _ in range(180)]
        clock.advance(10 - (clock() - start))  # the 181st arrives 10 s after the first
        limited = await _get_track(client, world, headers)
        clock.advance(int(limited.headers["retry-after"]) - 0.5)
        early = await _get_track(client, world, headers)
        clock.advance(0.5)
        on_time = await _get_track(client, world, headers)
        log = [r for r in _log(client) if r.path.startswith("/v1")]
    assert burst == [200] * 180
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "20"  # the first request leaves the window at 30 s
    assert early.status_code == 429
    assert on_time.status_code == 200
    assert [r.early for r in log[-3:]] == [False, True, False]
    assert log[-3].retry_after == 20
    assert clock.slept[:3] == [0.05, 0.05, 0.05]


@pytest.mark.parametrize(("limit", "window"), [(3, 30.0), (5, 7.5), (180, 30.0)])
async def test_honouring_retry_after_is_never_early_and_never_refused_twice(
    connect: Connect, world: World, clock: VirtualClock, limit: int, window: float
) -> None:
    faults = Faults(rate_limit=limit, rate_limit_window=window)
    async with connect(faults=faults) as client:
        headers = await app_headers(client, world)
        served = 0
        while served < 2 * limit + 1:
            answer = await _get_track(client, world, headers)
            if answer.status_code == 429:
                clock.advance(int(answer.headers["retry-after"]))
            else:
                served += 1
                clock.advance(0.01)
        log = [r for r in _log(client) if r.path.startswith("/v1")]
    refusals = [i for i, r in enumerate(log) if r.status == 429]
    assert refusals, "the limit never bit"
    assert not any(r.early for r in log)
    assert all(log[i + 1].status == 200 for i in refusals)
    # No rolling window ever holds more than `limit` served requests.
    times = [r.time for r in log if r.status == 200]
    assert all(sum(1 for t in times if s <= t < s + window) <= limit for s in times)


async def test_quota_exceeded_is_final(connect: Connect, world: World, clock: VirtualClock) -> None:
    async with connect(faults=Faults(quota=1)) as client:
        headers = await app_headers(client, world)
        ok = await _get_track(client, world, headers)
        spent = await _get_track(client, world, headers)
        clock.advance(3600)
        later = await _get_track(client, world, headers)
    assert ok.status_code == 200
    assert spent.status_code == later.status_code == 429
    assert spent.json()["error"]["reason"] == "QUOTA_EXCEEDED"
    assert "retry-after" not in spent.headers


async def test_fail_first_then_recover(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(fail_first=2, error_status=502)) as client:
        headers = await app_headers(client, world)
        statuses = [(await _get_track(client, world, headers)).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]


async def test_error_rate_is_seeded(connect: Connect, world: World) -> None:
    runs = []
    for _ in range(2):
        async with connect(faults=Faults(error_rate=0.5, seed=3)) as client:
            headers = await app_headers(client, world)
            runs.append([(await _get_track(client, world, headers)).status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}


async def test_malformed_body_is_cut_short(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(malformed_rate=1.0)) as client:
        answer = await _get_track(client, world, await app_headers(client, world))
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


async def test_short_token_lifetime_forces_refresh(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(token_lifetime=10)) as client:
        headers = await app_headers(client, world)
        fresh = await _get_track(client, world, headers)
        clock.advance(11)
        stale = await _get_track(client, world, headers)
        renewed = await _get_track(client, world, await app_headers(client, world))
    assert fresh.status_code == 200
    assert stale.status_code == 401
    assert stale.json() == {"error": {"status": 401, "message": "The access token expired"}}
    assert renewed.status_code == 200


async def test_expire_tokens_now(connect: Connect, world: World) -> None:
    async with connect() as client:
        headers = await app_headers(client, world)
        app_of(client).state.emulator.tokens.expire_access_tokens()
        answer = await _get_track(client, world, headers)
    assert answer.status_code == 401


async def test_faults_spare_untargeted_paths(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(fail_first=5)) as client:
        token = await client.post(
            "/accounts/api/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth(world),
        )
    assert token.status_code == 200


async def test_faults_can_target_the_accounts_service(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(targets=("/accounts",), fail_first=1)) as client:
        token = await client.post(
            "/accounts/api/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth(world),
        )
    assert token.status_code == 503


async def test_new_faults_restart_counters(connect: Connect, world: World) -> None:
    async with connect(faults=Faults(fail_first=1)) as client:
        headers = await app_headers(client, world)
        first = await _get_track(client, world, headers)
        app_of(client).state.emulator.set_faults(Faults(fail_first=1))
        again = await _get_track(client, world, headers)
        app_of(client).state.emulator.set_faults(Faults())
        healthy = await _get_track(client, world, headers)
    assert [first.status_code, again.status_code, healthy.status_code] == [503, 503, 200]


async def test_request_log_records_arrival_and_outcome(
    connect: Connect, world: World, clock: VirtualClock
) -> None:
    async with connect(faults=Faults(fail_first=1)) as client:
        headers = await app_headers(client, world)
        clock.advance(5)
        await client.get(
            f"/v1/tracks/{next(iter(world.tracks))}", params={"market": "GB"}, headers=headers
        )
        log = _log(client)
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/accounts/api/token", 200),
        ("GET", f"/v1/tracks/{next(iter(world.tracks))}", 503),
    ]
    assert log[1].time == log[0].time + 5
    assert log[1].query == "market=GB"
    assert log[1].fault == "error"


def test_faults_round_trip_through_json() -> None:
    faults = Faults(targets=("/v1", "/reccobeats"), revoked_users=frozenset({"a"}), quota=3)
    assert Faults.from_json(json.loads(json.dumps(faults.to_json()))) == faults


def test_unknown_fault_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="explode"):
        Faults.from_json({"explode": True})


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"latency": "slow"}, id="latency-not-a-number"),
        pytest.param({"error_rate": 1.5}, id="rate-over-one"),
        pytest.param({"fail_first": -1}, id="negative-count"),
        pytest.param({"throttle_first": True}, id="bool-as-count"),
        pytest.param({"error_status": 200}, id="status-not-an-error"),
        pytest.param({"quota": 2.5}, id="fractional-quota"),
        pytest.param({"omit_retry_after": 1}, id="flag-not-a-bool"),
    ],
)
def test_nonsense_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        Faults.from_json(settings)


def test_a_request_arriving_while_the_429_is_on_its_way_is_not_early() -> None:
    now = [100.0]
    injector = FaultInjector(Faults(throttle_first=1, retry_after=3, latency=0.05), lambda: now[0])
    refused = injector.decide()
    assert (refused.fault, refused.retry_after, refused.blocks_until) == ("rate_limited", 3, 103.0)
    now[0] += 0.01  # sent before the client could read the 429, still under latency
    in_flight = injector.decide()
    assert not in_flight.early
    injector.announce(103.0)
    now[0] += 0.1
    too_soon = injector.decide()
    assert too_soon.early
    assert too_soon.blocks_until is None  # an early request does not prolong the wait
    now[0] = 103.0
    assert not injector.decide().early
