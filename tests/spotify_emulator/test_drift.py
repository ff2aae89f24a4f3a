"""Taste that drifts with the clock: top lists and plays that differ from day to day."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from spotify_emulator import Faults, World, create_app
from spotify_emulator.drift import PLAYS_PER_DAY, drifted, top_bench
from tests.spotify_emulator.helpers import VirtualClock, app_of, user_headers

DAY = 86_400
TOP = "/v1/me/top/{kind}?time_range={range}&limit=50"


@asynccontextmanager
async def _drifting(
    world: World, clock: VirtualClock, drift: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    faults = Faults(rotate_refresh_every=0)  # one refresh token for the whole test
    app = create_app(world, "development", faults, clock=clock, sleep=clock.sleep, drift=drift)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emu"
    ) as client:
        yield client


async def _top(client: httpx.AsyncClient, world: World, kind: str, time_range: str) -> list[str]:
    headers = await user_headers(client, world, world.users[0])
    answer = await client.get(TOP.format(kind=kind, range=time_range), headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


async def test_without_drift_the_top_lists_are_the_worlds_on_any_day(
    world: World, clock: VirtualClock
) -> None:
    user = world.users[0]
    async with _drifting(world, clock, drift=False) as client:
        today = await _top(client, world, "artists", "short_term")
        clock.advance(30 * DAY)
        later = await _top(client, world, "artists", "short_term")
    assert today == later == user.top_artists["short_term"]


async def test_top_lists_shift_a_little_from_week_to_week(
    world: World, clock: VirtualClock
) -> None:
    user = world.users[0]
    async with _drifting(world, clock) as client:
        before = {
            (k, r): await _top(client, world, k, r)
            for k in ("artists", "tracks")
            for r in ("short_term", "long_term")
        }
        clock.advance(7 * DAY)
        after = {key: await _top(client, world, *key) for key in before}
    for (kind, time_range), ranked in after.items():
        generated = user.top_artists if kind == "artists" else user.top_tracks
        assert len(ranked) == len(before[(kind, time_range)]) == min(50, len(generated[time_range]))
        known = user.favourites if kind == "artists" else user.known_track_ids
        assert set(ranked) <= set(known)
    short = after[("artists", "short_term")]
    assert short != before[("artists", "short_term")]
    assert set(short) - set(before[("artists", "short_term")])  # someone new came in
    # The long term moves more slowly than the short term.
    kept_long = set(after[("tracks", "long_term")]) & set(before[("tracks", "long_term")])
    kept_short = set(after[("tracks", "short_term")]) & set(before[("tracks", "short_term")])
    assert len(kept_long) > len(kept_short)


async def test_the_same_day_gives_the_same_lists(world: World) -> None:
    answers = []
    for _ in range(2):
        clock = VirtualClock()
        async with _drifting(world, clock) as client:
            answers.append(await _top(client, world, "tracks", "medium_term"))
    assert answers[0] == answers[1]


async def test_listening_goes_on_from_world_now_with_each_days_taste(
    world: World, clock: VirtualClock
) -> None:
    user = world.users[1]
    async with _drifting(world, clock) as client:
        state = app_of(client).state.emulator
        first = state.recent(user.id)
        clock.advance(DAY)
        second = state.recent(user.id)
    after_now = [play for play in first if play[1] > world.now]
    days = (clock.now - DAY - world.now.timestamp()) / DAY
    assert len(after_now) == int(days * PLAYS_PER_DAY)
    assert second[-len(first) :] == first  # a play, once made, stays as it was
    assert len(second) - len(first) == PLAYS_PER_DAY
    for track_id, played_at in second[:PLAYS_PER_DAY]:
        ranked = user.top_tracks["short_term"]
        bench = top_bench(user, "tracks", "short_term")
        assert track_id in drifted(world.seed, user, ranked, bench, "short_term", played_at.date())
    # Over months, tracks the user knows but had not ranked swing in and get played.
    played = {track_id for track_id, _ in after_now}
    assert played <= user.known_track_ids
    assert played - set(user.top_tracks["short_term"])


def test_drifted_lists_keep_their_length_and_draw_only_on_what_is_known(world: World) -> None:
    user = world.users[2]
    ranked, bench = user.top_artists["medium_term"], top_bench(user, "artists", "medium_term")
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=n) for n in range(0, 200, 10)]
    lists = [drifted(world.seed, user, ranked, bench, "medium_term", day) for day in days]
    assert all(len(found) == len(ranked) == len(set(found)) for found in lists)
    assert all(set(found) <= set(ranked) | set(bench) for found in lists)
    assert len({tuple(found) for found in lists}) > 1
