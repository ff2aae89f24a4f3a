"""History polls in the nightly job's scheduler: one interval job per active user.

Each user's polls fall at their own point of the interval (a stable offset from their id,
plus a little random jitter at every run), so a hundred users do not all ask Spotify in the
same second. A reconciling job adds users as they join and drops those who left or need to
log in again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

USERS_JOB_ID = "history-poll-users"
POLL_JOB_PREFIX = "history-poll:"
# New users are picked up at least this often, however long the poll interval.
USERS_EVERY = dt.timedelta(minutes=5)
JITTER_SHARE = 0.1


class Poller(Protocol):
    async def users(self) -> list[int]: ...

    async def poll(self, user_id: int) -> object: ...


def poll_job_id(user_id: int) -> str:
    return f"{POLL_JOB_PREFIX}{user_id}"


def user_offset(user_id: int, interval: dt.timedelta) -> dt.timedelta:
    """Where in each interval this user's polls fall: spread across users, stable over restarts."""
    digest = hashlib.sha256(str(user_id).encode()).digest()
    return interval * (int.from_bytes(digest[:8], "big") / 2**64)


def _poll_trigger(user_id: int, interval: dt.timedelta, now: dt.datetime) -> IntervalTrigger:
    return IntervalTrigger(
        seconds=interval.total_seconds(),
        start_date=now + user_offset(user_id, interval),
        jitter=max(1, int(interval.total_seconds() * JITTER_SHARE)),
        timezone=dt.UTC,
    )


async def sync_poll_jobs(scheduler: BaseScheduler, poller: Poller, interval: dt.timedelta) -> None:
    """Give every user to poll a job of their own, and remove the jobs of everyone else."""
    wanted = set(await poller.users())
    present = {
        int(job.id.removeprefix(POLL_JOB_PREFIX))
        for job in scheduler.get_jobs()
        if job.id.startswith(POLL_JOB_PREFIX)
    }
    now = dt.datetime.now(dt.UTC)
    for user_id in sorted(wanted - present):
        scheduler.add_job(
            poller.poll,
            _poll_trigger(user_id, interval, now),
            args=[user_id],
            id=poll_job_id(user_id),
            name=poll_job_id(user_id),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(interval.total_seconds())),
        )
    for user_id in present - wanted:
        scheduler.remove_job(poll_job_id(user_id))


def add_history_polling(scheduler: BaseScheduler, poller: Poller, interval: dt.timedelta) -> None:
    """Poll each active user's recent plays every `interval`, starting within one interval."""

    # A coroutine function, so APScheduler runs it on the loop rather than in a thread.
    async def sync_users() -> None:
        await sync_poll_jobs(scheduler, poller, interval)

    scheduler.add_job(
        sync_users,
        IntervalTrigger(seconds=min(interval, USERS_EVERY).total_seconds(), timezone=dt.UTC),
        id=USERS_JOB_ID,
        name=USERS_JOB_ID,
        next_run_time=dt.datetime.now(dt.UTC),
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
