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
    # Spotify refuses the user for good (401 after a fresh token, 403 off the allow-list):
    # reported with the reason, never counted as a new failure.
    NEEDS_ATTENTION: Final = "needs_attention"
    # A user the run named who is not active: the job exists so the summary can list them.
    SKIPPED: Final = "skipped"
    # Spotify's rate limit left no time for this user before the run's deadline: not a
    # failure of the user's, and retried by the next run for the date.
    RATE_LIMITED: Final = "rate_limited"

    PENDING: Final = (QUEUED, RUNNING)
    # What a worker may finish a job as; SKIPPED is decided by the queue, never by a worker,
    # and RATE_LIMITED by the queue when a put-back job would pass its run's deadline.
    OUTCOMES: Final = (DONE, FAILED, REAUTH, NEEDS_ATTENTION)
