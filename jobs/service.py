"""Snapshot runs: one code path for the nightly schedule, the CLI and the admin API."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from db.claims import ClaimedJob, JobOutcome
from db.database import DATABASE_UNAVAILABLE, Database
from db.queries import SnapshotNotFound
from db.run_reports import RunSummary, run_progress, summarize_run
from db.run_waits import RunWait
from db.runs import UnknownRun, UnknownUsers, create_run, fail_run
from db.snapshot_removal import SnapshotBusy
from db.snapshot_removal import delete_snapshot as _delete_snapshot
from db.users import UnknownUser
from jobs.drain import describe_exception, drain
from logs import run_id as current_run_id
from metrics import SNAPSHOT_RUN_DURATION, SNAPSHOT_RUNS

# The web layer and the CLI reach the queue only through this module.
__all__ = [
    "ClaimedJob",
    "Handler",
    "JobOutcome",
    "Progress",
    "RunCannotStart",
    "RunSummary",
    "RunWait",
    "SnapshotBusy",
    "SnapshotDateRefused",
    "SnapshotNotFound",
    "SnapshotService",
    "UnknownUser",
    "UnknownUsers",
    "check_snapshot_date",
    "delete_snapshot",
    "worker_name",
]

logger = logging.getLogger(__name__)

Handler = Callable[[ClaimedJob], Awaitable[JobOutcome]]
Progress = Callable[[ClaimedJob, JobOutcome], None]


class RunCannotStart(RuntimeError):
    """Snapshots cannot run as the service is configured; the message names what is missing."""


class SnapshotDateRefused(ValueError):
    """A snapshot date after tomorrow: Spotify tells only the present, so it cannot be taken."""


def check_snapshot_date(date: dt.date, today: dt.date) -> dt.date:
    """`date`, unless it is after tomorrow (a far date would become the user's latest for good)."""
    tomorrow = today + dt.timedelta(days=1)
    if date > tomorrow:
        raise SnapshotDateRefused(
            f"the snapshot date {date.isoformat()} is after tomorrow ({tomorrow.isoformat()}): "
            "a snapshot records what Spotify tells now, so choose today or an earlier date"
        )
    return date


async def delete_snapshot(database: Database, username: str, date: dt.date) -> None:
    """Delete one snapshot and its job; UnknownUser, SnapshotNotFound or SnapshotBusy."""
    await database.run(_delete_snapshot, username, date)


def worker_name() -> str:
    """Host and process: which worker holds a lease, for operators reading the queue."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SnapshotService:
    """Enqueues runs in the database and drains them with the snapshot pipeline.

    `make_handler` builds a run's handler before anything is queued, and raises
    `RunCannotStart` when no run could succeed (a missing setting): such a run is refused.
    A `retry_on` error (Spotify's rate limit) puts the user back, to be retried
    `retry_delay` later, until `run_deadline` after the run began.
    """

    def __init__(
        self,
        database: Database,
        make_handler: Callable[[], Handler],
        *,
        timezone: str = "UTC",
        concurrency: int = 4,
        lease: dt.timedelta = dt.timedelta(minutes=10),
        stop_on: tuple[type[Exception], ...] = (),
        retry_on: tuple[type[Exception], ...] = (),
        run_deadline: dt.timedelta | None = None,
        retry_delay: dt.timedelta = dt.timedelta(minutes=5),
    ) -> None:
        self.database = database
        self.make_handler = make_handler
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.concurrency = concurrency
        self.lease = lease
        self.stop_on = stop_on
        self.retry_on = retry_on
        self.run_deadline = run_deadline
        self.retry_delay = retry_delay
        self._background: set[asyncio.Task[Any]] = set()

    def today(self) -> dt.date:
        """The snapshot date of "now" in SNAPSHOT_TIMEZONE."""
        return dt.datetime.now(self.zone).date()

    async def run(
        self,
        date: dt.date | None = None,
        usernames: Sequence[str] | None = None,
        *,
        force: bool = False,
        trigger: str = "cli",
        on_progress: Progress | None = None,
        on_wait: Callable[[RunWait], None] | None = None,
    ) -> RunSummary:
        """Enqueue a run, work until its queue is empty, and summarise it.

        `on_wait` hears what the run waits for once only other workers' jobs are left.
        """
        self._check_date(date)
        handler = self.make_handler()
        run_id = await self._enqueue(date, usernames, force, trigger)
        try:
            await self._drain(run_id, handler, on_progress, trigger, on_wait)
        except self.stop_on:
            raise
        except Exception as exc:
            await self._fail(run_id, exc)
            raise
        return await self.database.run(summarize_run, run_id)

    async def start_run(
        self,
        date: dt.date | None,
        usernames: Sequence[str] | None,
        force: bool,
        trigger: str = "admin",
    ) -> str:
        """Enqueue a run and work on it in the background; returns its id at once."""
        self._check_date(date)
        handler = self.make_handler()
        run_id = await self._enqueue(date, usernames, force, trigger)
        work = self._drain_in_background(run_id, handler, trigger)
        task = asyncio.create_task(work, name=f"snapshot-run-{run_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return run_id

    async def delete_snapshot(self, username: str, date: dt.date) -> None:
        """Delete one snapshot and its job; UnknownUser, SnapshotNotFound or SnapshotBusy."""
        await delete_snapshot(self.database, username, date)

    def _check_date(self, date: dt.date | None) -> None:
        if date is not None:
            check_snapshot_date(date, self.today())

    async def progress(self, run_id: str) -> dict[str, Any] | None:
        try:
            return await self.database.run(run_progress, run_id)
        except UnknownRun:
            return None

    async def nightly(self) -> None:
        """The scheduled run: every active user, today's date."""
        task = asyncio.current_task()
        if task is not None:
            # A shutdown cancels the scheduler's task without awaiting it; close() waits for
            # the run to give its jobs back before the database closes.
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        try:
            summary = await self.run(trigger="nightly")
        except asyncio.CancelledError:
            # The shutdown's own doing, and the jobs are back in the queue: no error to report.
            logger.info("nightly snapshot run stopped by the shutdown; its jobs were given back")
            return
        except RunCannotStart as exc:
            logger.error("nightly snapshot run cannot start: %s", exc)  # noqa: TRY400
            return
        except self.stop_on as exc:
            logger.error("nightly snapshot run stopped: %s", exc)  # noqa: TRY400
            return
        logger.info(
            "nightly snapshot run %s: %d ok, %d failed, %d need re-authorisation, "
            "%d left without time by Spotify's rate limit, %d need attention",
            summary.run_id,
            len(summary.ok),
            len(summary.failed),
            len(summary.reauth_required),
            len(summary.rate_limited),
            len(summary.needs_attention),
        )

    async def close(self) -> None:
        """Stop background and nightly runs; they give their jobs back to the queue."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _enqueue(
        self, date: dt.date | None, usernames: Sequence[str] | None, force: bool, trigger: str
    ) -> str:
        return await self.database.run(
            create_run,
            date or self.today(),
            trigger=trigger,
            force=force,
            usernames=usernames,
            deadline=self.run_deadline,
        )

    async def _drain_in_background(self, run_id: str, handler: Handler, trigger: str) -> None:
        try:
            await self._drain(run_id, handler, None, trigger)
        except self.stop_on as exc:
            logger.error("snapshot run %s stopped: %s", run_id, exc)  # noqa: TRY400
        except Exception as exc:  # noqa: BLE001 - nobody awaits this task: the run records it
            await self._fail(run_id, exc)

    async def _drain(
        self,
        run_id: str,
        handler: Handler,
        on_progress: Progress | None,
        trigger: str,
        on_wait: Callable[[RunWait], None] | None = None,
    ) -> None:
        """Work the run with its id on every log line, counted and timed for /metrics."""
        context = current_run_id.set(run_id)
        started = time.monotonic()
        result = "failed"
        try:
            await drain(
                self.database,
                handler,
                worker_id=worker_name(),
                run_id=run_id,
                concurrency=self.concurrency,
                lease=self.lease,
                on_progress=on_progress,
                stop_on=self.stop_on,
                retry_on=self.retry_on,
                retry_delay=self.retry_delay,
                on_wait=on_wait,
            )
            result = "finished"
        except self.stop_on:
            result = "stopped"
            raise
        except asyncio.CancelledError:
            result = "interrupted"
            raise
        finally:
            current_run_id.reset(context)
            SNAPSHOT_RUNS.labels(trigger, result).inc()
            SNAPSHOT_RUN_DURATION.labels(trigger).observe(time.monotonic() - started)

    async def _fail(self, run_id: str, exc: Exception) -> None:
        """Log a run's failure and close what it left waiting, so the run reads as failed."""
        reason = describe_exception(exc)
        # No traceback: chained exceptions may quote requests, and requests carry tokens.
        logger.error("snapshot run %s failed: %s", run_id, reason)
        try:
            # drain names its loops "<worker>/<n>": the jobs they held are nobody's now.
            await self.database.run(
                fail_run, run_id, f"the snapshot run failed: {reason}", f"{worker_name()}/"
            )
        except DATABASE_UNAVAILABLE as unavailable:
            logger.error(  # noqa: TRY400
                "could not mark snapshot run %s failed: %s",
                run_id,
                describe_exception(unavailable),
            )
