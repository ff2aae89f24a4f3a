"""Deleting one snapshot of one user, so that night may be taken again."""

from __future__ import annotations

import datetime as dt

from db.job_status import JobStatus
from db.models import Snapshot, SnapshotJob
from db.queries import SnapshotNotFound, user_id_of
from db.transactions import write_transaction


class SnapshotBusy(RuntimeError):
    """A run is taking this snapshot right now."""


def delete_snapshot(username: str, date: dt.date) -> None:
    """Delete the user's snapshot of `date` and every row of it, and that night's job.

    UnknownUser, SnapshotNotFound, or SnapshotBusy while a worker holds that night's job.
    """
    with write_transaction():
        user_id = user_id_of(username)
        night = (SnapshotJob.user == user_id) & (SnapshotJob.date == date)
        if SnapshotJob.select().where(night & (SnapshotJob.status == JobStatus.RUNNING)).exists():
            raise SnapshotBusy(
                f"a snapshot run is taking {username}'s snapshot of {date} now; try again after it"
            )
        deleted = Snapshot.delete().where((Snapshot.user == user_id) & (Snapshot.date == date))
        if not deleted.execute():
            raise SnapshotNotFound(username, date, [])
        # Without its job, a later run for that night takes the snapshot afresh.
        SnapshotJob.delete().where(night).execute()
