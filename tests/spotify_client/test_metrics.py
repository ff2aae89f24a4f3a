"""What the requester counts for /metrics: calls by endpoint template and status, 429 waits."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import respx

import metrics
from spotify_client import SpotifyClient
from tests.spotify_client.conftest import API, VirtualTime, track_json

TRACK_ROUTE = rf"{API}/tracks/\w+"


def _calls(endpoint: str, status: str) -> float:
    return metrics.SPOTIFY_REQUESTS.labels(endpoint, status)._value.get()


def _waited() -> float:
    return metrics.SPOTIFY_RATE_LIMIT_WAIT._value.get()


async def test_a_429_closing_the_gate_counts_its_wait_once_however_many_tasks_wait(
    make_client: Any, spotify: respx.MockRouter, vtime: VirtualTime
) -> None:
    client: SpotifyClient = make_client(max_concurrency=5)
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"})])

    def answer(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json=track_json()))

    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=answer)
    waited, limited, ok = _waited(), _calls("/tracks/{id}", "429"), _calls("/tracks/{id}", "200")
    await asyncio.gather(*(client.track(f"t{n}") for n in range(5)))
    assert _waited() - waited == 7
    assert _calls("/tracks/{id}", "429") - limited == 1
    assert _calls("/tracks/{id}", "200") - ok == 5


async def test_network_errors_are_counted_apart_from_answers(
    make_client: Any, spotify: respx.MockRouter
) -> None:
    client: SpotifyClient = make_client()
    failures = iter([httpx.ConnectError("refused")])

    def answer(request: httpx.Request) -> httpx.Response:
        if (failure := next(failures, None)) is not None:
            raise failure
        return httpx.Response(200, json=track_json())

    spotify.get(url__regex=TRACK_ROUTE).mock(side_effect=answer)
    errors = _calls("/tracks/{id}", "network error")
    await client.track("t1")
    assert _calls("/tracks/{id}", "network error") - errors == 1
