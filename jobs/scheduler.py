"""The nightly trigger: an APScheduler job on the app's event loop that starts a snapshot run.

The scheduler only decides *when*; the job it calls creates a run and drains the queue, so a
run the scheduler starts is the same as one the CLI or the admin API starts.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

JOB_ID = "nightly-snapshot"
# Crontab numbers weekdays from Sunday (0 or 7); APScheduler 3 numbers them from Monday.
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(ValueError):
    """SNAPSHOT_CRON or SNAPSHOT_TIMEZONE is malformed; the message is one line naming it."""


def _zone(timezone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"SNAPSHOT_TIMEZONE must be an IANA time zone such as Europe/Berlin, not {timezone!r}"
        ) from None


def _weekday(token: str) -> int:
    name = token.lower()
    if name in WEEKDAYS:
        return WEEKDAYS.index(name)
    if not token.isdigit() or int(token) > 7:
        raise ValueError(f"day of week {token!r} is not 0-7 or sun-sat")
    return int(token)


def _weekdays(part: str) -> set[int]:
    base, _, step = part.partition("/")
    if base == "*":
        first, last = 0, 6
    elif "-" in base:
        first, last = (_weekday(token) for token in base.split("-", 1))
        last = 7 if last == 0 < first else last  # "fri-sun" ends on Sunday, day 7
    else:
        first = _weekday(base)
        last = 6 if step else first
    if last < first or (step and (not step.isdigit() or int(step) == 0)):
        raise ValueError(f"day of week {part!r} is not a valid range")
    return {day % 7 for day in range(first, last + 1, int(step or 1))}


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler 3 reads it: weekday names, Sunday = 0 or 7."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        days |= _weekdays(part)
    return ",".join(WEEKDAYS[day] for day in sorted(days))


def _from_crontab(cron: str, zone: zoneinfo.ZoneInfo) -> CronTrigger:
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"got {len(fields)} fields, expected 5")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(day_of_week),
        timezone=zone,
    )


def build_trigger(cron: str, timezone: str) -> CronTrigger:
    """The cron trigger for SNAPSHOT_CRON in SNAPSHOT_TIMEZONE; raises ScheduleError."""
    zone = _zone(timezone)
    try:
        # Not CronTrigger.from_crontab: it would run "0 3 * * 0" on Mondays.
        return _from_crontab(cron, zone)
    except ValueError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "invalid expression"
        raise ScheduleError(
            f"SNAPSHOT_CRON must be a five-field crontab expression such as '0 3 * * *', "
            f"not {cron!r} ({reason})"
        ) from None


def validate_schedule(cron: str, timezone: str) -> None:
    """Raise ScheduleError unless the cron expression and time zone are usable (start-up)."""
    build_trigger(cron, timezone)


def create_scheduler(
    *,
    cron: str,
    timezone: str,
    job: Callable[[], Awaitable[object]],
    misfire_grace: dt.timedelta = dt.timedelta(hours=6),
) -> AsyncIOScheduler:
    """A not-yet-started scheduler that awaits `job()` on the running loop at each cron time."""
    trigger = build_trigger(cron, timezone)

    # APScheduler runs only coroutine *functions* on the loop; anything else goes to a thread,
    # where an awaitable returned by `job` would never be awaited.
    async def nightly_snapshot() -> None:
        await job()

    scheduler = AsyncIOScheduler(timezone=trigger.timezone)
    scheduler.add_job(
        nightly_snapshot,
        trigger,
        id=JOB_ID,
        name=JOB_ID,
        # A loop stalled or a host asleep past several fire times still yields one run, and
        # never two at once: a run takes minutes and the queue would only be drained twice.
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(misfire_grace.total_seconds())),
        replace_existing=True,
    )
    return scheduler
