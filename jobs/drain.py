"""The drain loop: a process's workers claim a run's jobs and work them until none is left.

Each worker renews its lease while the handler runs, abandons a job another worker took over,
and records the outcome only while it still holds the job (see `db.claims`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from db.claims import (
    ERROR_LENGTH,
    ClaimedJob,
    JobOutcome,
    claim_next_job,
    defer_job,
    finish_job,
    one_line,
    release_job,
    renew_lease,
)
from db.database import DATABASE_UNAVAILABLE, Database
from db.job_status import JobStatus
from db.run_waits import RunWait, run_wait
from db.runs import close_run_if_complete, run_has_pending_jobs
from jobs.errors import first_error
from metrics import SNAPSHOT_USERS

logger = logging.getLogger(__name__)

# The /metrics name of each outcome a worker records.
_OUTCOME_NAMES = {JobStatus.DONE: "ok", JobStatus.RATE_LIMITED: "rate_limited"}


def _count_outcome(status: str) -> None:
    SNAPSHOT_USERS.labels(_OUTCOME_NAMES.get(status, status)).inc()


def describe_exception(exc: BaseException) -> str:
    """Type, first line of the message and where it was raised; no traceback, no locals."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = one_line(str(exc), ERROR_LENGTH - 100)
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


@dataclasses.dataclass
class _Drain:
    database: Database
    handler: Callable[[ClaimedJob], Awaitable[JobOutcome]]
    run_id: str | None
    lease: dt.timedelta
    renew_every: dt.timedelta
    on_progress: Callable[[ClaimedJob, JobOutcome], None] | None
    stop_on: tuple[type[Exception], ...] = ()
    retry_on: tuple[type[Exception], ...] = ()
    retry_delay: dt.timedelta = dt.timedelta(minutes=5)
    stopped: Exception | None = None

    async def worker(self, worker_id: str) -> None:
        while self.stopped is None and (job := await self._claim(worker_id)):
            try:
                outcome = await self._run_holding_lease(job, worker_id)
            except asyncio.CancelledError:
                # A clean stop (SIGTERM, Ctrl-C, shutdown) gives the job back at once; the lease
                # is for workers that die without a word.
                await self._release(job, worker_id)
                raise
            if outcome is not None:
                await self._finish(job, worker_id, outcome)
            elif self.stopped is not None:
                await self.database.run(release_job, job.id, worker_id)

    async def _claim(self, worker_id: str) -> ClaimedJob | None:
        claiming = asyncio.ensure_future(
            self.database.run(claim_next_job, worker_id, lease=self.lease, run_id=self.run_id)
        )
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # Stopped while claiming: the claim may still commit; give back what it took.
            await asyncio.wait({claiming})
            if not claiming.cancelled() and claiming.exception() is None and claiming.result():
                await self._release(claiming.result(), worker_id)
            raise

    async def _release(self, job: ClaimedJob | None, worker_id: str) -> None:
        if job is None:
            return
        try:
            await self.database.run(release_job, job.id, worker_id)
        except DATABASE_UNAVAILABLE as exc:
            logger.warning(
                "could not release job %s for %s; its lease will run out: %s",
                job.id,
                job.username,
                one_line(str(exc)),
            )
        else:
            logger.info("released job %s for %s: the run was stopped", job.id, job.username)

    async def _finish(self, job: ClaimedJob, worker_id: str, outcome: JobOutcome) -> None:
        if outcome.status == JobStatus.RATE_LIMITED:
            await self._defer(job, worker_id, outcome)
            return
        if not await self.database.run(finish_job, job.id, worker_id, outcome):
            logger.warning("job %s for %s was taken over before it finished", job.id, job.username)
            return
        _count_outcome(outcome.status)
        if self.on_progress is not None:
            self.on_progress(job, outcome)

    async def _defer(self, job: ClaimedJob, worker_id: str, outcome: JobOutcome) -> None:
        reason = outcome.error or "rate limited"
        delay = max(self.retry_delay, dt.timedelta(seconds=outcome.retry_after))
        status = await self.database.run(defer_job, job.id, worker_id, reason, delay)
        if status == JobStatus.QUEUED:
            SNAPSHOT_USERS.labels("retried_later").inc()
            logger.warning(
                "snapshot of %s for %s put back for %s: %s", job.username, job.date, delay, reason
            )
        elif status == JobStatus.RATE_LIMITED:
            _count_outcome(status)
            logger.error(
                "snapshot of %s for %s given up at the run's deadline: %s",
                job.username,
                job.date,
                reason,
            )
            if self.on_progress is not None:
                self.on_progress(job, JobOutcome(JobStatus.RATE_LIMITED, reason))

    async def _run_holding_lease(self, job: ClaimedJob, worker_id: str) -> JobOutcome | None:
        work = asyncio.create_task(self._outcome(job))
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(job, worker_id, work, lost))
        try:
            return await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lost.is_set() and current is not None and not current.cancelling():
                return None
            raise
        finally:
            keeper.cancel()
            await asyncio.wait({keeper})
            if not keeper.cancelled() and (failure := keeper.exception()) is not None:
                logger.error(
                    "lease keeper of job %s failed: %s", job.id, describe_exception(failure)
                )

    async def _keep_lease(
        self,
        job: ClaimedJob,
        worker_id: str,
        work: asyncio.Task[JobOutcome | None],
        lost: asyncio.Event,
    ) -> None:
        while True:
            await asyncio.sleep(self.renew_every.total_seconds())
            try:
                held = await self.database.run(renew_lease, job.id, worker_id, self.lease)
            except DATABASE_UNAVAILABLE as exc:
                # The lease is still good for a while; the next renewal may well succeed.
                logger.warning(
                    "could not renew the lease on job %s: %s", job.id, one_line(str(exc))
                )
                continue
            if not held:
                logger.warning(
                    "lost the lease on job %s for %s; abandoning it", job.id, job.username
                )
                lost.set()
                work.cancel()
                return

    async def _outcome(self, job: ClaimedJob) -> JobOutcome | None:
        try:
            outcome = await self.handler(job)
        except self.stop_on as exc:
            # Not this user's fault and no use retrying now: stop claiming, keep the job queued.
            logger.error("snapshot run stopped at %s: %s", job.username, one_line(str(exc)))  # noqa: TRY400
            self.stopped = exc
            return None
        except self.retry_on as exc:
            # Spotify's limit, not the user: try them again later in the run, once the wait
            # it asked for (RateLimited.retry_after) is over.
            wait = getattr(exc, "retry_after", 0.0)
            return JobOutcome(JobStatus.RATE_LIMITED, describe_exception(exc), wait)
        except Exception as exc:  # noqa: BLE001 - one user's failure must not stop the others
            error = describe_exception(exc)
            # No traceback: chained exceptions may quote requests, and requests carry tokens.
            logger.error("snapshot of %s for %s failed: %s", job.username, job.date, error)  # noqa: TRY400
            return JobOutcome(JobStatus.FAILED, error)
        if not isinstance(outcome, JobOutcome) or outcome.status not in JobStatus.OUTCOMES:
            logger.error("snapshot handler returned %r for %s", outcome, job.username)
            return JobOutcome(
                JobStatus.FAILED, f"handler returned {type(outcome).__name__}, not an outcome"
            )
        return outcome


async def drain(
    database: Database,
    handler: Callable[[ClaimedJob], Awaitable[JobOutcome]],
    *,
    worker_id: str,
    run_id: str | None = None,
    concurrency: int = 4,
    lease: dt.timedelta = dt.timedelta(minutes=10),
    on_progress: Callable[[ClaimedJob, JobOutcome], None] | None = None,
    renew_every: dt.timedelta | None = None,
    stop_on: tuple[type[Exception], ...] = (),
    retry_on: tuple[type[Exception], ...] = (),
    retry_delay: dt.timedelta = dt.timedelta(minutes=5),
    poll: float = 1.0,
    on_wait: Callable[[RunWait], None] | None = None,
) -> None:
    """Run claimable jobs (of `run_id`, or any) through `handler` until none is left.

    A `stop_on` exception from the handler ends the drain early: that job goes back to the
    queue, no more are claimed, and the exception is raised once the running jobs end.
    A `retry_on` exception puts the job back to be claimed again `retry_delay` later (until
    the run's deadline); the drain waits for it.
    `on_wait` hears what the run waits for (other workers' leases, retry times) each time
    that changes, so a run held up after a crash is not silent.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    state = _Drain(
        database,
        handler,
        run_id,
        lease,
        renew_every or lease / 3,
        on_progress,
        stop_on,
        retry_on,
        retry_delay,
    )
    await _work(state, worker_id, concurrency)
    if run_id is not None:
        await _wait_for_others(state, run_id, worker_id, concurrency, poll, on_wait)
        await database.run(close_run_if_complete, run_id)


async def _wait_for_others(
    state: _Drain,
    run_id: str,
    worker_id: str,
    concurrency: int,
    poll: float,
    on_wait: Callable[[RunWait], None] | None,
) -> None:
    """Wait for the run's jobs other workers hold, taking over any whose lease runs out.

    So the run's summary is whole when drain returns.
    """
    told: tuple[tuple[str, str | None], ...] = ()
    while await state.database.run(run_has_pending_jobs, run_id):
        if on_wait is not None:
            wait = await state.database.run(run_wait, run_id)
            if wait is not None and wait.what() != told:
                told = wait.what()
                on_wait(wait)
        await asyncio.sleep(poll)
        await _work(state, worker_id, concurrency)


async def _work(state: _Drain, worker_id: str, concurrency: int) -> None:
    try:
        async with asyncio.TaskGroup() as group:
            for number in range(concurrency):
                # Distinct ids per loop: a lease one loop lost must not look held by its sibling.
                group.create_task(state.worker(f"{worker_id}/{number}"))
    except ExceptionGroup as failures:
        # The loops fail together when the database goes away; callers want that one error.
        raise first_error(failures) from None
    if state.stopped is not None:
        raise state.stopped
