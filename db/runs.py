"""Snapshot runs: one job per user and date, queued idempotently, closed when none is pending.

A run records the users it asked for; its jobs are that date's jobs of those users, whichever
run queued them. The functions are plain Peewee code for `Database.run_sync` / `Database.run`:
they open no connection of their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence

import peewee as pw

from db.job_status import JobStatus
from db.models import Snapshot, SnapshotJob, SnapshotRun, SnapshotRunUser, User, utcnow
from db.transactions import locked, write_transaction


class UnknownUsers(LookupError):
    """A run named users that do not exist."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"unknown users: {', '.join(self.names)}")


class UnknownRun(LookupError):
    """No snapshot run has this id."""


def create_run(
    date: dt.date,
    *,
    trigger: str,
    force: bool = False,
    usernames: Sequence[str] | None = None,
    deadline: dt.timedelta | None = None,
) -> str:
    """Queue one job per active user (or per named user) for `date`; returns the run id.

    Jobs Spotify's rate limit puts back are retried until `deadline` from now (no limit
    when None).
    """
    now = utcnow()
    with write_transaction():
        users = _users_for_run(usernames)
        run_id = str(uuid.uuid4())
        SnapshotRun.create(
            id=run_id,
            date=date,
            trigger=trigger,
            force=force,
            created_at=now,
            deadline=None if deadline is None else now + deadline,
        )
        members = [{"run": run_id, "user": user.id} for user in users]
        if members:
            SnapshotRunUser.insert_many(members).execute()
        active = [user.id for user in users if user.status in User.SNAPSHOTTED]
        _enqueue(run_id, date, active, force, now)
        _skip(run_id, date, [user for user in users if user.status not in User.SNAPSHOTTED], now)
        close_open_run(run_id, now)
    return run_id


def _users_for_run(usernames: Sequence[str] | None) -> list[User]:
    query = User.select(User.id, User.username, User.status)
    if usernames is None:
        return list(query.where(User.status.in_(User.SNAPSHOTTED)).order_by(User.id))
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
    return {snapshot.user_id for snapshot in query}


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
            "status": JobStatus.DONE if user_id in complete else JobStatus.QUEUED,
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
    redo = [JobStatus.FAILED, JobStatus.REAUTH, JobStatus.SKIPPED, JobStatus.RATE_LIMITED]
    if force:
        redo.append(JobStatus.DONE)
    fresh = {
        "status": JobStatus.QUEUED,
        "force": force,
        "attempts": 0,
        "deferrals": 0,
        "retry_at": None,
        "error": None,
        "lease_until": None,
        "worker": None,
        "updated_at": now,
    }
    SnapshotJob.update(fresh).where(theirs & SnapshotJob.status.in_(redo)).execute()
    if force:
        queued = theirs & (SnapshotJob.status == JobStatus.QUEUED)
        SnapshotJob.update(force=True).where(queued).execute()


def _skip(run_id: str, date: dt.date, users: list[User], now: dt.datetime) -> None:
    waiting_statuses = (
        JobStatus.QUEUED,
        JobStatus.FAILED,
        JobStatus.REAUTH,
        JobStatus.RATE_LIMITED,
    )
    for user in users:
        reason = f"user is {user.status}"
        SnapshotJob.insert(
            user=user.id,
            date=date,
            run=run_id,
            status=JobStatus.SKIPPED,
            error=reason,
            updated_at=now,
        ).on_conflict_ignore().execute()
        mine = (SnapshotJob.user == user.id) & (SnapshotJob.date == date)
        SnapshotJob.update(run=run_id).where(mine).execute()
        # A finished or running job stays as it is; anything still waiting is not going to run.
        waiting = mine & SnapshotJob.status.in_(waiting_statuses)
        skipped = {"status": JobStatus.SKIPPED, "error": reason, "updated_at": now}
        SnapshotJob.update(skipped).where(waiting).execute()


def in_run(run_id: str) -> pw.Expression:
    """The run's jobs: its date's jobs of the users it asked for, whichever run queued them."""
    date = SnapshotRun.select(SnapshotRun.date).where(SnapshotRun.id == run_id)
    users = SnapshotRunUser.select(SnapshotRunUser.user).where(SnapshotRunUser.run == run_id)
    return (SnapshotJob.date == date) & SnapshotJob.user.in_(users)


def run_has_pending_jobs(run_id: str) -> bool:
    """Whether any of the run's jobs is queued or running (perhaps under another worker)."""
    pending = SnapshotJob.select().where(in_run(run_id) & SnapshotJob.status.in_(JobStatus.PENDING))
    return bool(pending.exists())


def close_open_run(run_id: str | None, now: dt.datetime) -> bool:
    """Inside a write transaction: finish the run if it is open and nothing of it is pending."""
    if run_id is None:
        return False
    # Locking the run serialises the last finishers: each sees the others' jobs finished.
    open_run = SnapshotRun.select(SnapshotRun.id).where(
        SnapshotRun.id == run_id, SnapshotRun.finished_at.is_null()
    )
    if locked(open_run).first() is None:
        return False
    if run_has_pending_jobs(run_id):
        return False
    SnapshotRun.update(finished_at=now).where(SnapshotRun.id == run_id).execute()
    return True


def close_run_if_complete(run_id: str) -> bool:
    """Set the run's finished_at if none of its jobs is pending; True if this call did."""
    with write_transaction():
        return close_open_run(run_id, utcnow())


def fail_run(run_id: str, reason: str, worker_prefix: str) -> int:
    """Close the run's queued jobs, and the running ones `worker_prefix` held, as failed.

    Jobs other workers are running stay theirs: the run finishes when they do. Returns how
    many jobs were closed.
    """
    now = utcnow()
    running_here = (SnapshotJob.status == JobStatus.RUNNING) & SnapshotJob.worker.startswith(
        worker_prefix
    )
    abandoned = in_run(run_id) & ((SnapshotJob.status == JobStatus.QUEUED) | running_here)
    failed = {"status": JobStatus.FAILED, "error": reason, "lease_until": None, "updated_at": now}
    with write_transaction():
        closed = SnapshotJob.update(failed).where(abandoned).execute()
        close_open_run(run_id, now)
    return int(closed)
