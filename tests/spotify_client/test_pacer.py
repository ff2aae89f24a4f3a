"""The pacer on its own: the rolling log, the measures a 429 gives, probing; a settable clock."""

from __future__ import annotations

import bisect
import itertools

import pytest

from spotify_client._pacer import Pacer, PaceSettings

WINDOW = 30.0
GUARD = 0.25
SETTINGS = PaceSettings(window=WINDOW, guard=GUARD, catch_up=1.5, growth=0.5, max_hold=16)
NO_PROBES = PaceSettings(window=WINDOW, guard=GUARD, catch_up=1.5, growth=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _send(pacer: Pacer, clock: Clock, count: int) -> list[float]:
    """`count` requests, each sent the moment its turn comes."""
    starts = []
    for _ in range(count):
        start = pacer.turn(not_before=0.0)
        clock.now = max(clock.now, start)
        starts.append(start)
    return starts


def _learned(allowance: int, settings: PaceSettings = SETTINGS) -> tuple[Pacer, Clock]:
    """A pacer a window into its life that saw the window fill at `allowance`, then a 429."""
    clock = Clock()
    pacer = Pacer(clock, settings)
    clock.now = WINDOW
    _send(pacer, clock, allowance)
    pacer.refused(pacer.turn(not_before=0.0))
    assert pacer.allowance == allowance
    return pacer, clock


def _most_in_any_span(starts: list[float], span: float) -> int:
    ordered = sorted(starts)
    return max(
        bisect.bisect_left(ordered, start + span) - index for index, start in enumerate(ordered)
    )


def test_unpaced_until_a_429() -> None:
    clock = Clock()
    pacer = Pacer(clock, SETTINGS)
    assert _send(pacer, clock, 500) == [0.0] * 500
    assert pacer.rate is None


def test_a_429_measures_the_requests_sent_within_the_window_before_it() -> None:
    pacer, _ = _learned(180)
    assert pacer.rate == 180 / WINDOW


def test_turns_fill_the_allowance_of_every_window_and_never_overrun_it() -> None:
    pacer, clock = _learned(180, NO_PROBES)
    began = clock.now
    starts = _send(pacer, clock, 180 * 8)
    assert _most_in_any_span(starts, WINDOW + GUARD) <= 180
    # The allowance, not a margin below it: only the guard is lost. (The first window is
    # the one the learned burst still fills.)
    assert starts[-1] - began <= 9 * (WINDOW + GUARD)


def test_turns_lost_to_a_busy_loop_are_made_up_without_a_burst() -> None:
    pacer, clock = _learned(180, NO_PROBES)
    _send(pacer, clock, 200)
    clock.now += 10.0  # nobody asked for a turn for 10 s
    resumed = clock.now
    starts = _send(pacer, clock, 60)
    caught_up = starts[-1] - resumed
    assert caught_up < 60 / (180 / WINDOW)  # faster than the average rate
    spacing = WINDOW / (180 * 1.5)
    assert all(b - a >= spacing * 0.999 for a, b in itertools.pairwise(starts))


def test_the_gate_still_holds_every_turn_back() -> None:
    pacer, clock = _learned(180)
    _send(pacer, clock, 100)  # the allowance has room: only the gate holds the turn
    assert pacer.turn(not_before=clock.now + 7) == clock.now + 7


def test_a_released_turn_is_given_to_the_next_request() -> None:
    pacer, _ = _learned(180)
    first = pacer.turn(not_before=0.0)
    pacer.release(first)
    assert pacer.turn(not_before=0.0) == first


def test_a_first_window_429_measures_a_rate_not_a_count() -> None:
    """A process that starts while others' requests fill the window sees a 429 early."""
    clock = Clock()
    pacer = Pacer(clock, SETTINGS)
    for _ in range(12):  # the others' requests leave the window at 6 per second
        _send(pacer, clock, 1)
        clock.now += 1 / 6
    pacer.refused(pacer.turn(not_before=0.0))
    assert pacer.rate is not None
    assert pacer.rate >= 5.5  # not 12 requests per window


def _sent_at_6_per_second(pacer: Pacer, clock: Clock, count: int) -> None:
    for _ in range(count):  # as others' requests leave the window at 6 per second
        _send(pacer, clock, 1)
        clock.now += 1 / 6


@pytest.mark.parametrize(
    ("announced", "least"),
    [
        pytest.param(9.0, 5.0, id="nothing-left-the-window-for-8-s"),
        pytest.param(None, 2.0, id="no-retry-after-our-own-backoff"),
    ],
)
def test_a_first_window_rate_leaves_out_the_time_spotify_said_its_window_was_full(
    announced: float | None, least: float
) -> None:
    """Nothing could leave it then: counted in, a long Retry-After measured 40% of the rate,
    and a warm night started right after the cold one spent a minute below it."""
    clock = Clock()
    pacer = Pacer(clock, SETTINGS)
    _sent_at_6_per_second(pacer, clock, 18)
    refused = pacer.turn(not_before=0.0)
    pacer.refused(refused, announced)  # a first measure, 3 s into the process's life
    clock.now += 9.0  # behind the gate it closed
    _sent_at_6_per_second(pacer, clock, 18)
    pacer.refused(pacer.turn(not_before=0.0), 1.0)
    assert pacer.rate is not None
    # The backoff we chose says nothing of Spotify's window: that time counts as sending.
    assert least <= pacer.rate <= 2 * least  # not 37 requests in 15 s for a full window


def test_probes_grow_the_allowance_and_a_repeated_measure_waits_longer_to_probe() -> None:
    pacer, clock = _learned(180)
    clock.now += WINDOW  # one quiet window: probe above the measure
    assert pacer.allowance == 270
    _send(pacer, clock, 180)
    pacer.refused(pacer.turn(not_before=0.0))  # the probe's 429 measures the same again
    measured_at = clock.now
    assert pacer.allowance == 180
    clock.now = measured_at + 1.5 * WINDOW
    assert pacer.allowance == 180  # now two quiet windows before the next probe
    clock.now = measured_at + 2 * WINDOW
    assert pacer.allowance == 270


def test_a_lower_measure_is_probed_again_after_one_window() -> None:
    pacer, clock = _learned(180)
    clock.now += 2.0 * WINDOW
    _send(pacer, clock, 100)
    pacer.refused(pacer.turn(not_before=0.0))
    assert pacer.allowance == 100
    clock.now += WINDOW
    assert pacer.allowance == 150


def test_a_429_for_a_request_in_flight_when_the_last_came_back_measures_nothing() -> None:
    pacer, clock = _learned(180)
    sent_before = clock.now - 0.5
    clock.now += 0.1
    pacer.refused(sent_before)
    assert pacer.allowance == 180


def test_a_probe_lets_turns_come_as_fast_as_its_larger_allowance() -> None:
    """Turns spaced by the last measure alone kept a low measure for good, probes or not."""
    pacer, clock = _learned(30)
    clock.now += 4 * WINDOW  # quiet windows: the allowance grows well past the measure
    allowance = pacer.allowance
    assert allowance is not None
    assert allowance > 60
    began = clock.now
    starts = _send(pacer, clock, allowance)
    assert starts[-1] - began < WINDOW / 1.5  # 1.5 x the probed rate, not the measured one


def test_a_window_spent_behind_the_gate_is_not_a_quiet_one() -> None:
    """Nothing was sent in it, so it says nothing about a larger allowance."""
    pacer, clock = _learned(180)
    gate_opens = clock.now + WINDOW
    pacer.release(pacer.turn(not_before=gate_opens))
    clock.now = gate_opens
    assert pacer.allowance == 180
    clock.now = gate_opens + WINDOW
    assert pacer.allowance == 270
