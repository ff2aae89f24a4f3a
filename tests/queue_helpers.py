"""Rows and claims the queue tests (tests/db, tests/jobs) set up and read back."""

from __future__ import annotations

import datetime as dt

from db.claims import ClaimedJob, claim_next_job
from db.models import Snapshot, SnapshotJob, SnapshotRun, User

DAY = dt.date(2026, 7, 1)
LEASE = dt.timedelta(minutes=10)


def add_users(*names: str, status: str = User.ACTIVE) -> list[int]:
    return [User.create(username=name, status=status).id for name in names]


def jobs_by_user() -> dict[str, tuple[str, bool, str | None]]:
    """Each user's job as (status, force, run id)."""
    query = SnapshotJob.select(SnapshotJob, User).join(User)
    return {job.user.username: (job.status, job.force, job.run_id) for job in query}


def job_ids() -> dict[str, int]:
    query = SnapshotJob.select(SnapshotJob, User).join(User)
    return {job.user.username: job.id for job in query}


def set_job_status(username: str, status: str) -> None:
    user = User.get(User.username == username)
    SnapshotJob.update(status=status).where(SnapshotJob.user == user).execute()


def claim_all(worker: str, run_id: str | None = None) -> list[ClaimedJob]:
    claimed = []
    while job := claim_next_job(worker, lease=LEASE, run_id=run_id):
        claimed.append(job)
    return claimed


def finished_at(run_id: str) -> dt.datetime | None:
    return SnapshotRun.get_by_id(run_id).finished_at


def complete_snapshot(username: str) -> None:
    user = User.get(User.username == username)
    Snapshot.create(user=user, date=DAY, status=Snapshot.COMPLETE)


def lease_until(job_id: int) -> dt.datetime:
    until = SnapshotJob.get_by_id(job_id).lease_until
    assert until is not None
    return until
