"""Claims on snapshot jobs: a worker leases a job, renews the lease, and finishes it.

Workers claim jobs with a lease (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, an
immediate transaction on SQLite), renew the lease while the work goes on, and finish the job
only while they still hold it. A worker that dies simply lets its lease run out, and the next
claim takes the job over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import peewee as pw

from db.job_status import JobStatus
from db.models import Snapshot, SnapshotJob, SnapshotRun, User, utcnow
from db.runs import close_open_run, in_run
from db.transactions import locked, write_transaction

# A job whose worker died this many times is more likely killing workers than unlucky.
MAX_ATTEMPTS = 3
ERROR_LENGTH = 500


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
    # When the run gives up on users Spotify's rate limit keeps waiting (None: never).
    run_deadline: dt.datetime | None = None

    def seconds_left(self) -> float | None:
        """Seconds until the run's deadline (never below 0), None when it has none."""
        if self.run_deadline is None:
            return None
        return max(0.0, (self.run_deadline - utcnow()).total_seconds())


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """How a job ended: "done", "failed" or "reauth_required", with a one-line error."""

    status: str
    error: str | None = None
    # For a user put back: seconds Spotify asked to wait, before which a retry cannot pass.
    retry_after: float = 0.0


def one_line(text: str | None, limit: int = ERROR_LENGTH) -> str | None:
    """The first non-blank line of `text`, cut to `limit` characters."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return None
    return lines[0] if len(lines[0]) <= limit else lines[0][: limit - 1] + "…"


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
    with write_transaction():
        while (job := _lock_next_claimable(run_id, now)) is not None:
            user = User.select(User.username, User.status).where(User.id == job.user_id).get()
            refusal = _refusal(user.status, job.attempts, max_attempts)
            if refusal is None and _already_written(job):
                # A worker wrote the snapshot, then died before recording the job done.
                refusal = (JobStatus.DONE, None)
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
    running = SnapshotJob.status == JobStatus.RUNNING
    due = SnapshotJob.retry_at.is_null() | (SnapshotJob.retry_at <= now)
    claimable = ((SnapshotJob.status == JobStatus.QUEUED) & due) | (running & expired)
    if run_id is not None:
        claimable &= in_run(run_id)
    query = SnapshotJob.select().where(claimable).order_by(SnapshotJob.id)
    # SKIP LOCKED: a row another worker is claiming right now is simply not a candidate.
    return locked(query, skip_locked=True).first()


def _refusal(user_status: str, attempts: int, max_attempts: int) -> tuple[str, str | None] | None:
    if user_status == User.REAUTH_REQUIRED:
        return JobStatus.REAUTH, "user must log in to Spotify again"
    if user_status not in User.SNAPSHOTTED:
        return JobStatus.SKIPPED, f"user is {user_status}"
    if attempts >= max_attempts:
        return JobStatus.FAILED, f"gave up after {attempts} attempts: each worker's lease ran out"
    return None


def _take(
    job: SnapshotJob, username: str, worker_id: str, lease_until: dt.datetime, now: dt.datetime
) -> ClaimedJob:
    SnapshotJob.update(
        status=JobStatus.RUNNING,
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
        run_deadline=_run_deadline(job.run_id),
    )


def _run_deadline(run_id: str | None) -> dt.datetime | None:
    if run_id is None:
        return None
    return SnapshotRun.select(SnapshotRun.deadline).where(SnapshotRun.id == run_id).scalar()


def _close_job(job: SnapshotJob, status: str, error: str | None, now: dt.datetime) -> None:
    SnapshotJob.update(status=status, error=error, lease_until=None, updated_at=now).where(
        SnapshotJob.id == job.id
    ).execute()
    close_open_run(job.run_id, now)


def _held_by(job_id: int, worker_id: str) -> pw.Expression:
    held = (SnapshotJob.id == job_id) & (SnapshotJob.worker == worker_id)
    return held & (SnapshotJob.status == JobStatus.RUNNING)


def renew_lease(job_id: int, worker_id: str, lease: dt.timedelta) -> bool:
    """Extend this worker's lease on a running job; False when another worker took it over."""
    now = utcnow()
    query = SnapshotJob.update(lease_until=now + lease, updated_at=now)
    return query.where(_held_by(job_id, worker_id)).execute() == 1


def finish_job(job_id: int, worker_id: str, outcome: JobOutcome) -> bool:
    """Record how a job ended; only the worker holding it may, otherwise returns False."""
    if outcome.status not in JobStatus.OUTCOMES:
        raise ValueError(
            f"a job ends as one of {', '.join(JobStatus.OUTCOMES)}, not {outcome.status!r}"
        )
    now = utcnow()
    with write_transaction():
        job = locked(SnapshotJob.select().where(_held_by(job_id, worker_id))).first()
        if job is None:
            return False
        _close_job(job, outcome.status, one_line(outcome.error), now)
    return True


def release_job(job_id: int, worker_id: str) -> bool:
    """Give a held job back to the queue as if never claimed (the run stopped, not the user)."""
    released = SnapshotJob.update(
        status=JobStatus.QUEUED,
        worker=None,
        lease_until=None,
        attempts=SnapshotJob.attempts - 1,
        updated_at=utcnow(),
    )
    return bool(released.where(_held_by(job_id, worker_id)).execute())


def defer_job(job_id: int, worker_id: str, reason: str, delay: dt.timedelta) -> str | None:
    """Put a held job back to be claimed again `delay` from now, or give it up as rate limited.

    Spotify's rate limit ran the user out of time: no attempt of theirs is spent. A retry
    that would start after the run's deadline is not made; the job ends `RATE_LIMITED`.
    Returns the job's new status, None when this worker no longer held it.
    """
    now = utcnow()
    retry_at = now + delay
    with write_transaction():
        job = locked(SnapshotJob.select().where(_held_by(job_id, worker_id))).first()
        if job is None:
            return None
        deadline = _run_deadline(job.run_id)
        if deadline is not None and retry_at > deadline:
            message = f"Spotify's rate limit left no time before the run's deadline: {reason}"
            _close_job(job, JobStatus.RATE_LIMITED, one_line(message), now)
            return JobStatus.RATE_LIMITED
        put_back = {
            "status": JobStatus.QUEUED,
            "worker": None,
            "lease_until": None,
            "attempts": SnapshotJob.attempts - 1,
            "deferrals": SnapshotJob.deferrals + 1,
            "retry_at": retry_at,
            "error": one_line(f"retried later ({job.deferrals + 1}): {reason}"),
            "updated_at": now,
        }
        SnapshotJob.update(put_back).where(SnapshotJob.id == job.id).execute()
    return JobStatus.QUEUED
