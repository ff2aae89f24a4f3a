"""History polls in the scheduler: one job per active user, spread over the interval."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from jobs.history_schedule import (
    USERS_JOB_ID,
    add_history_polling,
    poll_job_id,
    sync_poll_jobs,
    user_offset,
)

WAIT = 10.0  # generous upper bound for a due job to run; never reached when things work
INTERVAL = dt.timedelta(minutes=30)


class FakePoller:
    """Users to poll, set by the test; records each poll and lets the test await one."""

    def __init__(self, users: list[int]) -> None:
        self.active = users
        self.polled: list[int] = []
        self.ran = asyncio.Event()

    async def users(self) -> list[int]:
        return list(self.active)

    async def poll(self, user_id: int) -> None:
        self.polled.append(user_id)
        self.ran.set()


@pytest.fixture
async def scheduler() -> AsyncIterator[AsyncIOScheduler]:
    started = AsyncIOScheduler(timezone=dt.UTC)
    started.start(paused=True)
    yield started
    started.shutdown(wait=False)
    await asyncio.sleep(0)


def test_each_user_has_a_stable_offset_within_the_interval() -> None:
    offsets = [user_offset(user_id, INTERVAL) for user_id in range(1, 101)]

    assert all(dt.timedelta(0) <= offset < INTERVAL for offset in offsets)
    assert offsets == [user_offset(user_id, INTERVAL) for user_id in range(1, 101)]
    # Spread, not bunched: every third of the interval has users in it.
    thirds = {int(offset / (INTERVAL / 3)) for offset in offsets}
    assert thirds == {0, 1, 2}


async def test_jobs_follow_the_active_users(scheduler: AsyncIOScheduler) -> None:
    poller = FakePoller([1, 2])
    await sync_poll_jobs(scheduler, poller, INTERVAL)
    first = {job.id: job for job in scheduler.get_jobs()}
    poller.active = [2, 3]
    await sync_poll_jobs(scheduler, poller, INTERVAL)
    second = {job.id for job in scheduler.get_jobs()}

    assert set(first) == {poll_job_id(1), poll_job_id(2)}
    assert second == {poll_job_id(2), poll_job_id(3)}
    trigger = first[poll_job_id(1)].trigger
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == INTERVAL
    assert trigger.jitter == 180  # a tenth of the interval, in seconds
    start = trigger.start_date - dt.datetime.now(dt.UTC)
    assert dt.timedelta(0) < start <= user_offset(1, INTERVAL)
    assert first[poll_job_id(1)].args == (1,)


async def test_a_started_scheduler_polls_each_user() -> None:
    poller = FakePoller([7])
    scheduler = AsyncIOScheduler(timezone=dt.UTC)
    add_history_polling(scheduler, poller, dt.timedelta(seconds=1))
    scheduler.start()
    try:
        await asyncio.wait_for(poller.ran.wait(), WAIT)
        jobs = {job.id for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)

    assert poller.polled[0] == 7
    assert jobs == {USERS_JOB_ID, poll_job_id(7)}
