"""The states of a snapshot job, as stored in `SnapshotJob.status`."""

from __future__ import annotations

from typing import Final


class JobStatus:
    """Every status a job can have; a job is pending until it reaches an outcome."""

    QUEUED: Final = "queued"
    RUNNING: Final = "running"
    DONE: Final = "done"
    FAILED: Final = "failed"
    REAUTH: Final = "reauth_required"
    # A user the run named who is not active: the job exists so the summary can list them.
    SKIPPED: Final = "skipped"

    PENDING: Final = (QUEUED, RUNNING)
    # What a worker may finish a job as; SKIPPED is decided by the queue, never by a worker.
    OUTCOMES: Final = (DONE, FAILED, REAUTH)
