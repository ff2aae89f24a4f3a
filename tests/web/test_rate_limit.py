"""web.rate_limit: the sliding window, and the per-app limiter the sign-in routes share."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from web.rate_limit import SlidingWindow, rate_limited


def _request(app: Starlette, client: str = "10.0.0.1") -> Request:
    return Request({"type": "http", "app": app, "client": (client, 5000), "headers": []})


def _hit(request: Request, now: float) -> int:
    return rate_limited(request, "tries", window=60, limit=2, now=now)


def test_a_client_past_the_limit_waits_until_its_oldest_hit_leaves_the_window() -> None:
    app = Starlette()
    answers = [_hit(_request(app), now) for now in (100.0, 110.0, 120.0)]

    assert answers == [0, 0, 41]  # the hit at 100 leaves at 160
    assert _hit(_request(app), 160.5) == 0


def test_clients_and_apps_are_counted_apart() -> None:
    app, other_app = Starlette(), Starlette()
    for now in (1.0, 2.0):
        _hit(_request(app), now)

    assert _hit(_request(app), 3.0) > 0
    assert _hit(_request(app, client="10.0.0.2"), 3.0) == 0
    assert _hit(_request(other_app), 3.0) == 0


def test_a_refusal_always_asks_for_a_wait() -> None:
    # With no hit to wait for (a limit of 0), the answer must still be a refusal.
    assert rate_limited(_request(Starlette()), "none", window=60, limit=0, now=1.0) >= 1


@pytest.mark.parametrize("limit", [1, 3])
def test_a_refused_hit_is_not_counted(limit: int) -> None:
    window = SlidingWindow(10)
    allowed = [window.allow("c", float(now), limit) for now in range(limit + 5)]

    assert allowed == [True] * limit + [False] * 5
    assert window.allow("c", 10.0, limit)  # only the first hit, at 0, has left the window
