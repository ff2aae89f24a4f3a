"""The snapshot job queue, shared through the database by every worker of every process.

A run asks for one job per user and date; workers claim jobs with a lease
(`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, an immediate transaction on SQLite), renew
the lease while the work goes on, and finish the job only while they still hold it. A worker
that dies simply lets its lease run out, and the next claim takes the job over.

The synchronous functions are plain Peewee code for `Database.run_sync` / `Database.run`: they
open no connection of their own. `drain` is the async loop that runs a night's work.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, cast

import peewee as pw
from playhouse.pool import MaxConnectionsExceeded

from db.database import Database, database_proxy
from db.models import Snapshot, SnapshotJob, SnapshotRun, SnapshotRunUser, User, utcnow
from jobs.errors import first_error

logger = logging.getLogger(__name__)

QUEUED = SnapshotJob.QUEUED
RUNNING = SnapshotJob.RUNNING
DONE = SnapshotJob.DONE
FAILED = SnapshotJob.FAILED
REAUTH = SnapshotJob.REAUTH
# Not yet a constant on SnapshotJob: a named user who is not active gets a job in this state.
SKIPPED = "skipped"
OUTCOMES = (DONE, FAILED, REAUTH)
PENDING = (QUEUED, RUNNING)
# A job whose worker died this many times is more likely killing workers than unlucky.
MAX_ATTEMPTS = 3
ERROR_LENGTH = 500


class UnknownUsers(LookupError):
    """A run named users that do not exist."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"unknown users: {', '.join(self.names)}")


class UnknownRun(LookupError):
    """No snapshot run has this id."""


@dataclasses.dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds the lease on."""

    id: int
    user_id: int
    username: str
    date: dt.date
    force: bool
    attempts: int
    run_id: str | None


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """How a job ended: "done", "failed" or "reauth_required", with a one-line error."""

    status: str
    error: str | None = None


@dataclasses.dataclass
class RunSummary:
    """Usernames of a run by how their job ended; `pending` lists jobs not finished yet."""

    run_id: str
    ok: list[str]
    failed: dict[str, str]
    reauth_required: list[str]
    skipped: list[str]
    pending: list[str] = dataclasses.field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """True when no job failed and none is left unfinished (the CLI's exit code)."""
        return not self.failed and not self.pending


def one_line(text: str | None, limit: int = ERROR_LENGTH) -> str | None:
    """The first non-blank line of `text`, cut to `limit` characters."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return None
    return lines[0] if len(lines[0]) <= limit else lines[0][: limit - 1] + "…"


def describe_exception(exc: BaseException) -> str:
    """Type, first line of the message and where it was raised; no traceback, no locals."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = one_line(str(exc), ERROR_LENGTH - 100)
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


def _rows(query: pw.BaseQuery) -> list[tuple[Any, ...]]:
    # The peewee stubs type every query as yielding models, whatever .tuples() says.
    return list(cast(Iterable[tuple[Any, ...]], query.tuples()))


def _is_sqlite() -> bool:
    return isinstance(database_proxy.obj, pw.SqliteDatabase)


def _locked(query: pw.Select, *, skip_locked: bool = False) -> pw.Select:
    # SQLite has no row locks (and peewee refuses FOR UPDATE there): the immediate
    # transaction already holds the whole database for writing.
    return query if _is_sqlite() else query.for_update(skip_locked=skip_locked or None)


def _write_transaction() -> AbstractContextManager[Any]:
    database = database_proxy.obj
    if _is_sqlite():
        # A deferred transaction takes the write lock only at its first write, after another
        # thread may have read the same queued row: two workers would claim one job.
        return database.atomic("IMMEDIATE")
    return database.atomic()


# -- runs ---------------------------------------------------------------------------------


def create_run(
    date: dt.date,
    *,
    trigger: str,
    force: bool = False,
    usernames: Sequence[str] | None = None,
) -> str:
    """Queue one job per active user (or per named user) for `date`; returns the run id."""
    now = utcnow()
    with _write_transaction():
        users = _users_for_run(usernames)
        run_id = str(uuid.uuid4())
        SnapshotRun.create(id=run_id, date=date, trigger=trigger, force=force, created_at=now)
        members = [{"run": run_id, "user": user.id} for user in users]
        if members:
            SnapshotRunUser.insert_many(members).execute()
        active = [user.id for user in users if user.status == User.ACTIVE]
        _enqueue(run_id, date, active, force, now)
        _skip(run_id, date, [user for user in users if user.status != User.ACTIVE], now)
        _close_run_if_complete(run_id, now)
    return run_id


def _users_for_run(usernames: Sequence[str] | None) -> list[User]:
    query = User.select(User.id, User.username, User.status)
    if usernames is None:
        return list(query.where(User.status == User.ACTIVE).order_by(User.id))
    names = set(usernames)
    users = list(query.where(User.username.in_(names)).order_by(User.id)) if names else []
    unknown = names - {user.username for user in users}
    if unknown:
        raise UnknownUsers(unknown)
    return users


def _complete_snapshots(date: dt.date, user_ids: list[int]) -> set[int]:
    query = Snapshot.select(Snapshot.user).where(
        Snapshot.date == date, Snapshot.user.in_(user_ids), Snapshot.status == Snapshot.COMPLETE
    )
    return {user_id for (user_id,) in _rows(query)}


def _enqueue(
    run_id: str, date: dt.date, user_ids: list[int], force: bool, now: dt.datetime
) -> None:
    if not user_ids:
        return
    complete = set() if force else _complete_snapshots(date, user_ids)
    rows = [
        {
            "user": user_id,
            "date": date,
            "run": run_id,
            "status": DONE if user_id in complete else QUEUED,
            "force": force,
            "updated_at": now,
        }
        for user_id in user_ids
    ]
    # The unique (user, date) index makes a second run for the same night a no-op insert.
    SnapshotJob.insert_many(rows).on_conflict_ignore().execute()
    theirs = (SnapshotJob.user.in_(user_ids)) & (SnapshotJob.date == date)
    # Jobs another run created follow the newest run that asked for them, so its summary
    # covers every user it named.
    SnapshotJob.update(run=run_id).where(theirs).execute()
    _requeue(theirs, force, now)


def _requeue(theirs: pw.Expression, force: bool, now: dt.datetime) -> None:
    redo = (FAILED, REAUTH, SKIPPED, DONE) if force else (FAILED, REAUTH, SKIPPED)
    fresh = {
        "status": QUEUED,
        "force": force,
        "attempts": 0,
        "error": None,
        "lease_until": None,
        "worker": None,
        "updated_at": now,
    }
    SnapshotJob.update(fresh).where(theirs & SnapshotJob.status.in_(redo)).execute()
    if force:
        SnapshotJob.update(force=True).where(theirs & (SnapshotJob.status == QUEUED)).execute()


def _skip(run_id: str, date: dt.date, users: list[User], now: dt.datetime) -> None:
    for user in users:
        reason = f"user is {user.status}"
        SnapshotJob.insert(
            user=user.id, date=date, run=run_id, status=SKIPPED, error=reason, updated_at=now
        ).on_conflict_ignore().execute()
        mine = (SnapshotJob.user == user.id) & (SnapshotJob.date == date)
        SnapshotJob.update(run=run_id).where(mine).execute()
        # A finished or running job stays as it is; anything still waiting is not going to run.
        waiting = mine & SnapshotJob.status.in_((QUEUED, FAILED, REAUTH))
        SnapshotJob.update(status=SKIPPED, error=reason, updated_at=now).where(waiting).execute()


def _in_run(run_id: str) -> pw.Expression:
    """The run's jobs: its date's jobs of the users it asked for, whichever run queued them."""
    date = SnapshotRun.select(SnapshotRun.date).where(SnapshotRun.id == run_id)
    users = SnapshotRunUser.select(SnapshotRunUser.user).where(SnapshotRunUser.run == run_id)
    return (SnapshotJob.date == date) & SnapshotJob.user.in_(users)


def run_has_pending_jobs(run_id: str) -> bool:
    """Whether any of the run's jobs is queued or running (perhaps under another worker)."""
    pending = SnapshotJob.select().where(_in_run(run_id) & SnapshotJob.status.in_(PENDING))
    return bool(pending.exists())


def _close_run_if_complete(run_id: str | None, now: dt.datetime) -> bool:
    if run_id is None:
        return False
    # Locking the run serialises the last finishers: each sees the others' jobs finished.
    open_run = SnapshotRun.select(SnapshotRun.id).where(
        SnapshotRun.id == run_id, SnapshotRun.finished_at.is_null()
    )
    if _locked(open_run).first() is None:
        return False
    if run_has_pending_jobs(run_id):
        return False
    SnapshotRun.update(finished_at=now).where(SnapshotRun.id == run_id).execute()
    return True


def close_run_if_complete(run_id: str) -> bool:
    """Set the run's finished_at if none of its jobs is pending; True if this call did."""
    with _write_transaction():
        return _close_run_if_complete(run_id, utcnow())


# -- claiming and finishing ---------------------------------------------------------------


def claim_next_job(
    worker_id: str,
    *,
    lease: dt.timedelta,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> ClaimedJob | None:
    """Lease the oldest claimable job (queued, or running on an expired lease) to this worker."""
    now = now or utcnow()
    with _write_transaction():
        while (job := _lock_next_claimable(run_id, now)) is not None:
            user = User.select(User.username, User.status).where(User.id == job.user_id).get()
            refusal = _refusal(user.status, job.attempts, max_attempts)
            if refusal is None and _already_written(job):
                # A worker wrote the snapshot, then died before recording the job done.
                refusal = (DONE, None)
            if refusal is None:
                return _take(job, user.username, worker_id, now + lease, now)
            _close_job(job, *refusal, now)
    return None


def _already_written(job: SnapshotJob) -> bool:
    """A complete snapshot exists and the job does not ask to redo it.

    The snapshot write clears a job's `force` in its own transaction, so a forced job whose
    snapshot was written before a crash is not redone either.
    """
    if job.force:
        return False
    complete = (Snapshot.user == job.user_id) & (Snapshot.date == job.date)
    return bool(Snapshot.select().where(complete & (Snapshot.status == Snapshot.COMPLETE)).exists())


def _lock_next_claimable(run_id: str | None, now: dt.datetime) -> SnapshotJob | None:
    expired = SnapshotJob.lease_until.is_null() | (SnapshotJob.lease_until < now)
    claimable = (SnapshotJob.status == QUEUED) | ((SnapshotJob.status == RUNNING) & expired)
    if run_id is not None:
        claimable &= _in_run(run_id)
    query = SnapshotJob.select().where(claimable).order_by(SnapshotJob.id)
    # SKIP LOCKED: a row another worker is claiming right now is simply not a candidate.
    return _locked(query, skip_locked=True).first()


def _refusal(user_status: str, attempts: int, max_attempts: int) -> tuple[str, str | None] | None:
    if user_status == User.REAUTH_REQUIRED:
        return REAUTH, "user must log in to Spotify again"
    if user_status != User.ACTIVE:
        return SKIPPED, f"user is {user_status}"
    if attempts >= max_attempts:
        return FAILED, f"gave up after {attempts} attempts: each worker's lease ran out"
    return None


def _take(
    job: SnapshotJob, username: str, worker_id: str, lease_until: dt.datetime, now: dt.datetime
) -> ClaimedJob:
    SnapshotJob.update(
        status=RUNNING,
        worker=worker_id,
        lease_until=lease_until,
        attempts=SnapshotJob.attempts + 1,
        updated_at=now,
    ).where(SnapshotJob.id == job.id).execute()
    return ClaimedJob(
        id=job.id,
        user_id=job.user_id,
        username=username,
        date=job.date,
        force=job.force,
        attempts=job.attempts + 1,
        run_id=job.run_id,
    )


def _close_job(job: SnapshotJob, status: str, error: str | None, now: dt.datetime) -> None:
    SnapshotJob.update(status=status, error=error, lease_until=None, updated_at=now).where(
        SnapshotJob.id == job.id
    ).execute()
    _close_run_if_complete(job.run_id, now)


def renew_lease(job_id: int, worker_id: str, lease: dt.timedelta) -> bool:
    """Extend this worker's lease on a running job; False when another worker took it over."""
    now = utcnow()
    held = (SnapshotJob.id == job_id) & (SnapshotJob.worker == worker_id)
    query = SnapshotJob.update(lease_until=now + lease, updated_at=now).where(
        held & (SnapshotJob.status == RUNNING)
    )
    return query.execute() == 1


def finish_job(job_id: int, worker_id: str, outcome: JobOutcome) -> bool:
    """Record how a job ended; only the worker holding it may, otherwise returns False."""
    if outcome.status not in OUTCOMES:
        raise ValueError(f"a job ends as one of {', '.join(OUTCOMES)}, not {outcome.status!r}")
    now = utcnow()
    with _write_transaction():
        held = (SnapshotJob.id == job_id) & (SnapshotJob.worker == worker_id)
        job = SnapshotJob.select().where(held & (SnapshotJob.status == RUNNING))
        job = _locked(job).first()
        if job is None:
            return False
        _close_job(job, outcome.status, one_line(outcome.error), now)
    return True


def release_job(job_id: int, worker_id: str) -> bool:
    """Give a held job back to the queue as if never claimed (the run stopped, not the user)."""
    held = (SnapshotJob.id == job_id) & (SnapshotJob.worker == worker_id)
    released = (
        SnapshotJob.update(
            status=QUEUED,
            worker=None,
            lease_until=None,
            attempts=SnapshotJob.attempts - 1,
            updated_at=utcnow(),
        )
        .where(held & (SnapshotJob.status == RUNNING))
        .execute()
    )
    return bool(released)


# -- reports ------------------------------------------------------------------------------


def _run_jobs(run_id: str) -> tuple[SnapshotRun, list[tuple[Any, ...]]]:
    run = SnapshotRun.get_or_none(SnapshotRun.id == run_id)
    if run is None:
        raise UnknownRun(f"no snapshot run {run_id!r}")
    query = (
        SnapshotJob.select(User.username, SnapshotJob.status, SnapshotJob.error)
        .join(User)
        .where(_in_run(run_id))
        .order_by(User.username)
    )
    return run, _rows(query)


def _run_status(statuses: list[str]) -> str:
    if any(status in PENDING for status in statuses):
        return "queued" if all(status == QUEUED for status in statuses) else "running"
    return "finished"


def run_progress(run_id: str) -> dict[str, Any]:
    """The run's state for the API: overall status, counts by job status, and every job."""
    run, jobs = _run_jobs(run_id)
    statuses = [status for _, status, _ in jobs]
    return {
        "run_id": run.id,
        "date": run.date.isoformat(),
        "trigger": run.trigger,
        "force": run.force,
        "status": _run_status(statuses),
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": dict(collections.Counter(statuses)),
        "jobs": [
            {"username": username, "status": status, "error": error}
            for username, status, error in jobs
        ],
    }


def summarize_run(run_id: str) -> RunSummary:
    """Who was snapshotted, who failed and why, who must log in again, who was skipped."""
    _, jobs = _run_jobs(run_id)
    summary = RunSummary(run_id=run_id, ok=[], failed={}, reauth_required=[], skipped=[])
    for username, status, error in jobs:
        if status == DONE:
            summary.ok.append(username)
        elif status == FAILED:
            summary.failed[username] = error or "failed"
        elif status == REAUTH:
            summary.reauth_required.append(username)
        elif status == SKIPPED:
            summary.skipped.append(username)
        else:
            summary.pending.append(username)
    return summary


# -- draining -----------------------------------------------------------------------------


@dataclasses.dataclass
class _Drain:
    database: Database
    handler: Callable[[ClaimedJob], Awaitable[JobOutcome]]
    run_id: str | None
    lease: dt.timedelta
    renew_every: dt.timedelta
    on_progress: Callable[[ClaimedJob, JobOutcome], None] | None
    stop_on: tuple[type[Exception], ...] = ()
    stopped: Exception | None = None

    async def worker(self, worker_id: str) -> None:
        while self.stopped is None and (
            job := await self.database.run(
                claim_next_job, worker_id, lease=self.lease, run_id=self.run_id
            )
        ):
            outcome = await self._run_holding_lease(job, worker_id)
            if outcome is not None:
                await self._finish(job, worker_id, outcome)
            elif self.stopped is not None:
                await self.database.run(release_job, job.id, worker_id)

    async def _finish(self, job: ClaimedJob, worker_id: str, outcome: JobOutcome) -> None:
        if not await self.database.run(finish_job, job.id, worker_id, outcome):
            logger.warning("job %s for %s was taken over before it finished", job.id, job.username)
            return
        if self.on_progress is not None:
            self.on_progress(job, outcome)

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
            except (pw.PeeweeException, MaxConnectionsExceeded) as exc:
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
        except Exception as exc:  # noqa: BLE001 - one user's failure must not stop the others
            error = describe_exception(exc)
            # No traceback: chained exceptions may quote requests, and requests carry tokens.
            logger.error("snapshot of %s for %s failed: %s", job.username, job.date, error)  # noqa: TRY400
            return JobOutcome(FAILED, error)
        if not isinstance(outcome, JobOutcome) or outcome.status not in OUTCOMES:
            logger.error("snapshot handler returned %r for %s", outcome, job.username)
            return JobOutcome(FAILED, f"handler returned {type(outcome).__name__}, not an outcome")
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
    poll: float = 1.0,
) -> None:
    """Run claimable jobs (of `run_id`, or any) through `handler` until none is left.

    A `stop_on` exception from the handler ends the drain early: that job goes back to the
    queue, no more are claimed, and the exception is raised once the running jobs end.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    state = _Drain(database, handler, run_id, lease, renew_every or lease / 3, on_progress, stop_on)
    await _work(state, worker_id, concurrency)
    # Another worker may still hold some of this run's jobs: wait for them, and take over
    # any whose lease runs out, so that the run's summary is whole when drain returns.
    while run_id is not None and await database.run(run_has_pending_jobs, run_id):
        await asyncio.sleep(poll)
        await _work(state, worker_id, concurrency)
    if run_id is not None:
        await database.run(close_run_if_complete, run_id)


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
