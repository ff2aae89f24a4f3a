"""The nightly scheduler: trigger fields, start-up validation, and runs on the event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator, Callable

import pytest
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs.scheduler import JOB_ID, ScheduleError, create_scheduler, validate_schedule

WAIT = 5.0  # generous upper bound for a due job to run; never reached when things work


class Calls:
    """A job that counts its runs and lets a test await the next one."""

    def __init__(self) -> None:
        self.count = 0
        self.ran = asyncio.Event()

    async def __call__(self) -> None:
        self.count += 1
        self.ran.set()


def _fields(trigger: CronTrigger) -> dict[str, str]:
    return {field.name: str(field) for field in trigger.fields}


@pytest.fixture
async def started() -> AsyncIterator[Callable[..., AsyncIOScheduler]]:
    """Start schedulers on the test's loop and shut every one down afterwards."""
    schedulers: list[AsyncIOScheduler] = []

    def start(scheduler: AsyncIOScheduler, *, paused: bool = False) -> AsyncIOScheduler:
        scheduler.start(paused=paused)
        schedulers.append(scheduler)
        return scheduler

    yield start
    for scheduler in schedulers:
        scheduler.shutdown(wait=False)
    await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a callback on the loop


def test_trigger_follows_cron_and_timezone() -> None:
    scheduler = create_scheduler(cron="30 3 * * 1-5", timezone="Europe/Berlin", job=Calls())
    job = scheduler.get_job(JOB_ID)
    assert job is not None
    assert isinstance(job.trigger, CronTrigger)
    fields = _fields(job.trigger)
    assert (fields["minute"], fields["hour"], fields["day_of_week"]) == (
        "30",
        "3",
        "mon,tue,wed,thu,fri",
    )
    assert job.trigger.timezone == zoneinfo.ZoneInfo("Europe/Berlin")
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 6 * 3600)


def test_one_nightly_job_per_scheduler() -> None:
    scheduler = create_scheduler(cron="0 3 * * *", timezone="UTC", job=Calls())
    assert [job.id for job in scheduler.get_jobs()] == [JOB_ID]


def test_next_run_is_the_next_cron_time_in_the_zone() -> None:
    scheduler = create_scheduler(cron="0 3 * * *", timezone="America/New_York", job=Calls())
    job = scheduler.get_job(JOB_ID)
    assert job is not None
    zone = zoneinfo.ZoneInfo("America/New_York")
    now = dt.datetime(2026, 7, 1, 12, 0, tzinfo=zone)
    fire = job.trigger.get_next_fire_time(None, now)
    assert fire == dt.datetime(2026, 7, 2, 3, 0, tzinfo=zone)


@pytest.mark.parametrize(
    ("day_of_week", "weekdays"),
    [
        pytest.param("0", {"Sunday"}, id="zero-is-sunday"),
        pytest.param("7", {"Sunday"}, id="seven-is-sunday"),
        pytest.param("1-5", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}, id="mon-fri"),
        pytest.param("5-7", {"Friday", "Saturday", "Sunday"}, id="range-to-seven"),
        pytest.param("fri-sun", {"Friday", "Saturday", "Sunday"}, id="names-to-sunday"),
        pytest.param("*/3", {"Sunday", "Wednesday", "Saturday"}, id="step"),
        pytest.param("1/2", {"Monday", "Wednesday", "Friday"}, id="start-and-step"),
        pytest.param("sat,0", {"Saturday", "Sunday"}, id="list"),
        pytest.param("*", set(dt.date(2026, 7, d).strftime("%A") for d in range(1, 8)), id="any"),
    ],
)
def test_weekdays_follow_crontab_not_apscheduler(day_of_week: str, weekdays: set[str]) -> None:
    scheduler = create_scheduler(cron=f"0 3 * * {day_of_week}", timezone="UTC", job=Calls())
    job = scheduler.get_job(JOB_ID)
    assert job is not None
    fire = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    seen = set()
    for _ in range(7):
        fire = job.trigger.get_next_fire_time(None, fire + dt.timedelta(hours=1))
        seen.add(fire.strftime("%A"))
    assert seen == weekdays


@pytest.mark.parametrize(
    ("cron", "timezone", "named"),
    [
        pytest.param("0 3 * *", "UTC", "SNAPSHOT_CRON", id="four-fields"),
        pytest.param("0 25 * * *", "UTC", "SNAPSHOT_CRON", id="hour-out-of-range"),
        pytest.param("every night", "UTC", "SNAPSHOT_CRON", id="words"),
        pytest.param("", "UTC", "SNAPSHOT_CRON", id="empty-cron"),
        pytest.param("0 3 * * 8", "UTC", "SNAPSHOT_CRON", id="weekday-eight"),
        pytest.param("0 3 * * 5-1", "UTC", "SNAPSHOT_CRON", id="backwards-range"),
        pytest.param("0 3 * * */0", "UTC", "SNAPSHOT_CRON", id="zero-step"),
        pytest.param("0 3 * * funday", "UTC", "SNAPSHOT_CRON", id="weekday-name"),
        pytest.param("0 3 * * *", "Mars/Olympus_Mons", "SNAPSHOT_TIMEZONE", id="unknown-zone"),
        pytest.param("0 3 * * *", "../etc/passwd", "SNAPSHOT_TIMEZONE", id="path-as-zone"),
        pytest.param("0 3 * * *", "", "SNAPSHOT_TIMEZONE", id="empty-zone"),
    ],
)
def test_bad_schedule_fails_with_one_line_naming_the_setting(
    cron: str, timezone: str, named: str
) -> None:
    with pytest.raises(ScheduleError) as raised:
        validate_schedule(cron, timezone)
    message = str(raised.value)
    assert message.startswith(named)
    assert "\n" not in message
    with pytest.raises(ScheduleError, match=named):
        create_scheduler(cron=cron, timezone=timezone, job=Calls())


@pytest.mark.parametrize(
    ("cron", "timezone"),
    [
        pytest.param("0 3 * * *", "UTC", id="utc"),
        pytest.param("15 2 * * sun", "Europe/Berlin", id="weekly-berlin"),
        pytest.param("*/30 * * * *", "Asia/Kolkata", id="half-hourly"),
    ],
)
def test_good_schedule_validates(cron: str, timezone: str) -> None:
    validate_schedule(cron, timezone)


async def test_due_job_runs_the_coroutine_on_the_loop(
    started: Callable[..., AsyncIOScheduler],
) -> None:
    calls = Calls()
    scheduler = started(create_scheduler(cron="0 3 * * *", timezone="UTC", job=calls))
    assert calls.count == 0
    scheduler.modify_job(JOB_ID, next_run_time=dt.datetime.now(dt.UTC))
    await asyncio.wait_for(calls.ran.wait(), WAIT)
    assert calls.count == 1


async def test_job_returning_an_awaitable_is_awaited(
    started: Callable[..., AsyncIOScheduler],
) -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    # A plain lambda is not a coroutine function: the scheduler must still await its result.
    scheduler = started(create_scheduler(cron="0 3 * * *", timezone="UTC", job=lambda: work()))
    scheduler.modify_job(JOB_ID, next_run_time=dt.datetime.now(dt.UTC))
    await asyncio.wait_for(ran.wait(), WAIT)


async def test_missed_runs_coalesce_into_one(started: Callable[..., AsyncIOScheduler]) -> None:
    calls = Calls()
    finished = asyncio.Event()
    events: list[JobExecutionEvent] = []

    def on_event(event: JobExecutionEvent) -> None:
        events.append(event)
        finished.set()

    scheduler = create_scheduler(cron="* * * * *", timezone="UTC", job=calls)
    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    started(scheduler, paused=True)
    # Five minutes late with a job due every minute: five fire times were missed.
    missed_since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    scheduler.modify_job(JOB_ID, next_run_time=missed_since)
    scheduler.resume()
    await asyncio.wait_for(finished.wait(), WAIT)
    # Every run of one submission is done before its events are dispatched.
    assert calls.count == 1
    assert [event.code for event in events] == [EVENT_JOB_EXECUTED]
    job = scheduler.get_job(JOB_ID)
    assert job is not None
    assert job.next_run_time > dt.datetime.now(dt.UTC)


async def test_run_later_than_the_grace_time_is_skipped(
    started: Callable[..., AsyncIOScheduler],
) -> None:
    calls = Calls()
    missed = asyncio.Event()
    scheduler = create_scheduler(
        cron="0 3 1 1 *", timezone="UTC", job=calls, misfire_grace=dt.timedelta(minutes=1)
    )
    scheduler.add_listener(lambda _event: missed.set(), EVENT_JOB_MISSED)
    started(scheduler, paused=True)
    # The job fires once a year, so the only missed run is this one, 10 minutes late.
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    scheduler.modify_job(JOB_ID, next_run_time=late)
    scheduler.resume()
    await asyncio.wait_for(missed.wait(), WAIT)
    assert calls.count == 0
