"""The requester: rate limits, Retry-After, quota, retries, malformed answers, concurrency cap."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools
import math
import random
from collections import Counter
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from spotify_client import (
    MalformedResponse,
    PaceSettings,
    QuotaExceeded,
    RateLimited,
    RetryPolicy,
    SpotifyClient,
    SpotifyUnavailable,
    create_http_client,
    retry_after_seconds,
)
from tests.spotify_client.conftest import API, EPOCH, REFRESH_TOKEN, VirtualTime, track_json

TRACK_ROUTE = rf"{API}/tracks/\w+"


def _stamping(vtime: VirtualTime, answers: list[httpx.Response], sent: list[float]) -> Any:
    """A side effect that notes the virtual time of each request, then answers in turn."""
    queue = iter(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(vtime.now)
        return next(queue, httpx.Response(200, json=track_json()))

    return answer


async def test_retry_after_holds_back_every_task_until_the_window_passed(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client(max_concurrency=1)
    sent: list[float] = []
    limited = httpx.Response(429, headers={"Retry-After": "7"})
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=_stamping(vtime, [limited], sent))

    first = asyncio.create_task(client.track("t0"))
    while not sent:  # let the first request meet the 429 before the others start
        await asyncio.sleep(0)
    others = [asyncio.create_task(client.track(f"t{n}")) for n in range(1, 5)]
    await asyncio.gather(first, *others)

    assert sent[0] == 0
    assert len(sent) == 6
    assert all(when >= 7 for when in sent[1:])
    assert vtime.now == 7  # one shared window, not one per task


async def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client(max_concurrency=1)
    sent: list[float] = []
    refusals = [httpx.Response(429) for _ in range(5)]
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=_stamping(vtime, refusals, sent))

    assert (await client.track("t1")).id == "t1"

    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert len(gaps) == 5
    for step, gap in enumerate(gaps):  # between half of and the whole of 1, 2, 4, 8, 16 s
        assert 2**step / 2 <= gap <= 2**step, gaps
    assert len(set(gaps)) == len(gaps)


async def test_backoff_without_retry_after_differs_between_processes(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    waits = []
    for seed in (1, 2):
        client: SpotifyClient = make_client(rng=random.Random(seed))
        sent: list[float] = []
        spotify.get(url__regex=TRACK_ROUTE).mock(
            side_effect=_stamping(vtime, [httpx.Response(429)], sent)
        )
        await client.track("t1")
        waits.append(sent[1] - sent[0])
    assert waits[0] != waits[1]  # jitter: two instances that meet a 429 together spread out


async def test_a_429_on_a_request_already_in_flight_does_not_double_the_backoff(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client(max_concurrency=4)
    sent: list[float] = []
    refusals = iter([httpx.Response(429) for _ in range(4)])

    async def answer(request: httpx.Request) -> httpx.Response:
        sent.append(vtime.now)
        for _ in range(5):  # all four are on the wire before the first answer comes back
            await asyncio.sleep(0)
        return next(refusals, httpx.Response(200, json=track_json()))

    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=answer)

    await asyncio.gather(*(client.track(f"t{n}") for n in range(4)))

    assert sent[:4] == [0, 0, 0, 0]
    assert all(0.5 <= when <= 1.0 for when in sent[4:]), sent  # one closing, not four


async def test_endless_429_waits_until_the_deadline_not_a_number_of_tries(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client()
    route = spotify.get(url__regex=TRACK_ROUTE).respond(429, headers={"Retry-After": "1"})
    with client.deadline(120), pytest.raises(RateLimited, match="past the deadline"):
        await client.track("t1")
    assert route.call_count >= 100
    assert vtime.now <= 120


async def test_retry_after_past_the_deadline_raises_without_waiting(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client()
    route = spotify.get(url__regex=TRACK_ROUTE).respond(429, headers={"Retry-After": "3600"})
    with client.deadline(600):
        with pytest.raises(RateLimited) as raised:
            await client.track("t1")
        assert raised.value.retry_after == 3600
        with pytest.raises(RateLimited):  # later calls respect the window too, without sending
            await client.track("t2")
    assert route.call_count == 1
    assert vtime.sleeps == []


async def test_a_deadline_reaches_the_tasks_started_within_it(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client()
    spotify.get(url__regex=TRACK_ROUTE).respond(429, headers={"Retry-After": "50"})
    with client.deadline(30):
        tasks = [asyncio.create_task(client.track(f"t{n}")) for n in range(3)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(result, RateLimited) for result in results), results
    assert vtime.now == 0


async def test_outside_a_deadline_the_policy_bounds_the_wait(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client(retry=RetryPolicy(rate_limit_budget=60))
    sent: list[float] = []
    limited = httpx.Response(429, headers={"Retry-After": "45"})
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=_stamping(vtime, [limited], sent))
    assert (await client.track("t1")).id == "t1"  # 45 s fits in the budget
    spotify.get(url__regex=TRACK_ROUTE).respond(429, headers={"Retry-After": "90"})
    with pytest.raises(RateLimited):
        await client.track("t2")


class RollingWindow:
    """Spotify's limit: at most `limit` accepted requests in any `window` seconds.

    `busy`: the window starts full of another process's requests, spread evenly over it.
    """

    def __init__(
        self, vtime: VirtualTime, limit: int, window: float, announce: bool, busy: bool = False
    ) -> None:
        self.vtime = vtime
        self.limit = limit
        self.window = window
        self.announce = announce
        spacing = window / limit
        others = (vtime.now - window + spacing * (n + 1) for n in range(limit))
        self.accepted: collections.deque[float] = collections.deque(others if busy else ())
        self.sent: list[float] = []
        self.refused: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.vtime.now
        while self.accepted and self.accepted[0] <= now - self.window:
            self.accepted.popleft()
        self.sent.append(now)
        if len(self.accepted) >= self.limit:
            self.refused.append(now)
            wait = math.ceil(self.accepted[0] + self.window - now)
            return httpx.Response(429, headers={"Retry-After": str(wait)} if self.announce else {})
        self.accepted.append(now)
        return httpx.Response(200, json=track_json())


async def _night(client: SpotifyClient, tasks: int, calls: int) -> None:
    """`calls` track requests from `tasks` tasks, each asking as soon as it may."""
    left = iter(range(calls))

    async def worker() -> None:
        for n in left:
            await client.track(f"t{n}")

    await asyncio.gather(*(worker() for _ in range(tasks)))


@pytest.mark.parametrize("announce", [True, False], ids=["retry-after", "no-retry-after"])
async def test_after_a_429_every_task_paces_itself_at_the_allowed_rate(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime, announce: bool
) -> None:
    client: SpotifyClient = make_client(
        max_concurrency=8, retry=RetryPolicy(pace=PaceSettings(window=10))
    )
    server = RollingWindow(vtime, limit=20, window=10, announce=announce)
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=server)

    await _night(client, tasks=8, calls=640)

    # 640 requests at 2 per second: 32 windows. Without a pace, every wait would end in a
    # burst of 8 and a 429 for most of them, window after window.
    paced_from = server.refused[0] + 2 * 10  # the first window only measures a rate
    later = [when for when in server.refused if when >= paced_from]
    # Once paced, a 429 is the pace probing upwards: never two in one window, and rarer
    # as the same allowance is measured again.
    assert all(b - a >= 10 for a, b in itertools.pairwise(later)), server.refused
    assert len(later) <= 5, server.refused
    assert client.pace == 2.0
    starts = [when for when in server.sent if when >= paced_from]
    assert max(Counter(math.floor(when) for when in starts).values()) <= 4  # no bursts
    # Paced at the allowed rate, not a margin below it: what is lost is the log's guard
    # (0.25 s in a 10 s window) and the probes' waits.
    accepted = len(starts) - len(later)
    assert accepted / (starts[-1] - paced_from) >= 0.94 * 2.0
    assert vtime.now <= 1.1 * (640 / 2)  # the floor: calls / allowed rate


async def test_a_process_starting_in_a_busy_window_soon_runs_at_the_allowed_rate(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    """The window holds another run's requests: its first 429s come after few of our own."""
    client: SpotifyClient = make_client(
        max_concurrency=8, retry=RetryPolicy(pace=PaceSettings(window=10))
    )
    server = RollingWindow(vtime, limit=20, window=10, announce=True, busy=True)
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=server)

    await _night(client, tasks=8, calls=320)

    assert client.pace == 2.0
    assert vtime.now <= 1.1 * (320 / 2)
    settled = [when for when in server.refused if when >= 2 * 10]
    assert all(b - a >= 10 for a, b in itertools.pairwise(settled)), server.refused


async def test_the_pace_measures_what_spotify_accepted_on_a_clock_that_moves_on_every_read(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    """A real clock moves between two readings: the log must hold the instant a 429 names.

    Otherwise a refused request stays in the log, counts as sent, and the next 429 measures
    an allowance above Spotify's.
    """
    reads = itertools.count()

    def clock() -> float:
        return vtime.now + next(reads) * 1e-7

    retry = RetryPolicy(pace=PaceSettings(window=10, growth=0.0))
    client: SpotifyClient = make_client(max_concurrency=8, retry=retry, clock=clock)
    server = RollingWindow(vtime, limit=20, window=10, announce=True)
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=server)

    await _night(client, tasks=8, calls=200)

    assert client.pace == 2.0


async def test_a_user_the_pace_spreads_past_its_deadline_is_not_run_out_of_time_again_and_again(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    """The pace is the client's own: waiting for its turns ends within a window, always.

    Only Spotify's announced wait may put a user back. A user whose calls the pace spreads
    past their deadline met the same pace on every retry, spent its first turns for nothing
    each time, and was put back for ever (the run's hang in test_pipeline).
    """
    # No probes: a probe's 429 would put the user back for a reason of Spotify's own.
    retry = RetryPolicy(pace=PaceSettings(window=10, growth=0.0))
    client: SpotifyClient = make_client(max_concurrency=8, retry=retry)
    server = RollingWindow(vtime, limit=20, window=10, announce=True)
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=server)
    await _night(client, tasks=8, calls=200)
    # The pace learned 2 requests per second: 8 turns, at most 1.5 times that close, span
    # more than the user's second.
    assert client.pace == 2.0

    attempts = 0
    while attempts < 5:  # the run puts a user back and tries again
        attempts += 1
        try:
            with client.deadline(1.0):
                async with asyncio.TaskGroup() as group:  # as jobs.listening asks
                    for n in range(8):
                        group.create_task(client.track(f"u{n}"))
            break
        except* RateLimited:
            await vtime.sleep(1.0)
    else:
        pytest.fail("every attempt ran out of time on the pace alone")

    assert attempts == 1
    later = [when for when in server.refused if when >= server.sent[-9]]
    assert len(later) <= 1, server.refused  # paced, not a burst into the window


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"error": {"status": 429, "reason": "QUOTA_EXCEEDED"}}, id="nested"),
        pytest.param({"reason": "QUOTA_EXCEEDED"}, id="top-level"),
    ],
)
async def test_quota_exceeded_stops_the_client(
    client: SpotifyClient, spotify: respx.MockRouter, body: dict[str, Any]
) -> None:
    route = spotify.get(url__regex=TRACK_ROUTE).respond(
        429, json=body, headers={"Retry-After": "1"}
    )
    assert not client.quota_exceeded
    with pytest.raises(QuotaExceeded, match="retrying will not help"):
        await client.track("t1")
    assert client.quota_exceeded
    with pytest.raises(QuotaExceeded):
        await client.for_user(REFRESH_TOKEN).me()
    assert route.call_count == 1


async def test_a_spent_quota_is_asked_again_after_the_pause(
    client: SpotifyClient, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    spent = httpx.Response(429, json={"error": {"status": 429, "reason": "QUOTA_EXCEEDED"}})
    route = spotify.get(url__regex=TRACK_ROUTE).mock(
        side_effect=[spent, httpx.Response(200, json=track_json("t1"))]
    )
    with pytest.raises(QuotaExceeded):
        await client.track("t1")
    vtime.advance(RetryPolicy().quota_pause - 1)
    with pytest.raises(QuotaExceeded):
        await client.track("t1")
    assert route.call_count == 1
    vtime.advance(1)
    assert not client.quota_exceeded
    assert (await client.track("t1")).id == "t1"


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.Response(503), id="503"),
        pytest.param(httpx.Response(500), id="500"),
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
        pytest.param(httpx.ConnectError("refused"), id="connection-error"),
        pytest.param(httpx.RemoteProtocolError("peer closed"), id="cut-connection"),
    ],
)
async def test_transient_failure_then_success(
    client: SpotifyClient, spotify: respx.MockRouter, vtime: VirtualTime, failure: Any
) -> None:
    route = spotify.get(url__regex=TRACK_ROUTE).mock(
        side_effect=[failure, failure, httpx.Response(200, json=track_json())]
    )
    assert (await client.track("t1")).id == "t1"
    assert route.call_count == 3
    # Full jitter: each wait lies between 0 and the capped exponential step.
    assert len(vtime.sleeps) == 2
    assert 0 <= vtime.sleeps[0] <= 0.5
    assert 0 <= vtime.sleeps[1] <= 1.0


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.Response(502), id="502"),
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
        pytest.param(httpx.ConnectError("refused"), id="connection-error"),
    ],
)
async def test_persistent_failure_ends_in_spotify_unavailable(
    make_client: Any, spotify: respx.MockRouter, failure: Any
) -> None:
    client: SpotifyClient = make_client(retry=RetryPolicy(max_attempts=3))
    route = spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=failure)
    with pytest.raises(SpotifyUnavailable, match="failed 3 times"):
        await client.track("t1")
    assert route.call_count == 3


async def test_retries_stop_when_the_time_budget_is_spent(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    policy = RetryPolicy(max_attempts=100, backoff_base=10, backoff_cap=10, total_budget=25)
    client: SpotifyClient = make_client(retry=policy)
    spotify.get(url__regex=TRACK_ROUTE).respond(503)
    with pytest.raises(SpotifyUnavailable, match="still failing"):
        await client.track("t1")
    assert vtime.now <= 25
    assert sum(vtime.sleeps) <= 25


async def test_token_endpoint_outage_is_retried_too(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    spotify.post(f"{API.replace('api.test/v1', 'accounts.test')}/api/token").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(200, json={"access_token": "app", "expires_in": 3600}),
        ]
    )
    spotify.get(url__regex=TRACK_ROUTE).respond(json=track_json())
    assert (await client.track("t1")).id == "t1"


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, text="<html>oops</html>"), id="not-json"),
        pytest.param(httpx.Response(200, text='{"id": "t1", "na'), id="truncated"),
        pytest.param(httpx.Response(200, json=[1, 2]), id="array"),
        pytest.param(httpx.Response(200, json={"id": "t1"}), id="missing-fields"),
        pytest.param(httpx.Response(200, json=track_json(name=None)), id="null-name"),
        pytest.param(httpx.Response(200, json=track_json(artists="a1")), id="artists-not-list"),
        pytest.param(httpx.Response(200, json=track_json(artists=[{"id": 3}])), id="bad-artist"),
    ],
)
async def test_malformed_answer_raises_malformed_response(
    client: SpotifyClient, spotify: respx.MockRouter, response: httpx.Response
) -> None:
    spotify.get(url__regex=TRACK_ROUTE).mock(return_value=response)
    with pytest.raises(MalformedResponse, match="/tracks/t1"):
        await client.track("t1")


@pytest.mark.parametrize(
    ("path", "body", "call"),
    [
        pytest.param("/search", {"tracks": None}, "search", id="search-without-container"),
        pytest.param("/me/top/tracks", {"items": None}, "top", id="top-without-items"),
        pytest.param("/tracks", {"tracks": {"t1": 1}}, "batch", id="batch-not-list"),
    ],
)
async def test_malformed_pages_raise_malformed_response(
    client: SpotifyClient, spotify: respx.MockRouter, path: str, body: Any, call: str
) -> None:
    spotify.get(f"{API}{path}").respond(json=body)
    session = client.for_user(REFRESH_TOKEN)
    calls = {
        "search": lambda: client.search_tracks("q"),
        "top": lambda: session.top_tracks("short_term"),
        "recent": lambda: session.recently_played(),
        "batch": lambda: client.tracks(["t1"]),
    }
    with pytest.raises(MalformedResponse):
        await calls[call]()


async def test_no_more_requests_in_flight_than_max_concurrency(
    make_client: Any, spotify: respx.MockRouter
) -> None:
    client: SpotifyClient = make_client(max_concurrency=3)
    in_flight = peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json=track_json())

    route = spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=answer)
    await asyncio.gather(*(client.track(f"t{n}") for n in range(12)))
    assert route.call_count == 12
    assert peak == 3


async def test_shared_http_client_has_bounded_timeouts_and_pool() -> None:
    async with create_http_client(12.5) as http:
        assert http.timeout == httpx.Timeout(12.5, connect=5.0)
        assert not http.follow_redirects


async def test_retry_after_as_an_http_date_holds_the_window_until_that_instant(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client()
    sent: list[float] = []
    until = format_datetime(EPOCH + dt.timedelta(seconds=12), usegmt=True)
    limited = httpx.Response(429, headers={"Retry-After": until})
    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=_stamping(vtime, [limited], sent))
    assert (await client.track("t1")).id == "t1"
    assert sent == [0, 12.0]


def _now() -> dt.datetime:
    return EPOCH


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        pytest.param({"Retry-After": "7"}, 7.0, id="seconds"),
        pytest.param({"Retry-After": " 2.5 "}, 2.5, id="fraction-and-spaces"),
        pytest.param({"retry-after": "3"}, 3.0, id="any-case"),
        pytest.param({"Retry-After": "0"}, 0.0, id="zero"),
        pytest.param({}, 9.0, id="missing"),
        pytest.param({"Retry-After": ""}, 9.0, id="empty"),
        pytest.param({"Retry-After": "soon"}, 9.0, id="garbage"),
        pytest.param({"Retry-After": "-5"}, 9.0, id="negative"),
        pytest.param({"Retry-After": "inf"}, 9.0, id="endless"),
        pytest.param({"Retry-After": "nan"}, 9.0, id="not-a-number"),
        pytest.param({"Retry-After": "Fri, 01 May 2026 12:00:30 GMT"}, 30.0, id="date"),
        pytest.param({"Retry-After": "Fri, 01 May 2026 12:00:30 -0000"}, 30.0, id="date-naive"),
        pytest.param({"Retry-After": "Fri, 01 May 2026 11:00:00 GMT"}, 0.0, id="date-passed"),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], seconds: float) -> None:
    assert retry_after_seconds(httpx.Headers(headers), 9.0, now=_now) == seconds
