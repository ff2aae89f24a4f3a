"""What a snapshot run did: its progress for the admin API and its summary for the CLI."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable
from typing import Any, cast

from db.job_status import JobStatus
from db.models import SnapshotJob, SnapshotRun, User
from db.runs import UnknownRun, in_run


@dataclasses.dataclass
class RunSummary:
    """Usernames of a run by how their job ended; `pending` lists jobs not finished yet."""

    run_id: str
    ok: list[str]
    failed: dict[str, str]
    reauth_required: list[str]
    skipped: list[str]
    pending: list[str] = dataclasses.field(default_factory=list)
    # Users Spotify's rate limit left no time for before the run's deadline, and why.
    rate_limited: dict[str, str] = dataclasses.field(default_factory=dict)
    # Users Spotify refuses for a reason a person must fix: username -> reason and what to do.
    needs_attention: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """True when every user asked for was snapshotted or skipped (the CLI's exit code)."""
        return not self.failed and not self.pending and not self.rate_limited


def _run_jobs(run_id: str) -> tuple[SnapshotRun, list[tuple[str, str, str | None]]]:
    run = SnapshotRun.get_or_none(SnapshotRun.id == run_id)
    if run is None:
        raise UnknownRun(f"no snapshot run {run_id!r}")
    query = (
        SnapshotJob.select(User.username, SnapshotJob.status, SnapshotJob.error)
        .join(User)
        .where(in_run(run_id))
        .order_by(User.username)
        .tuples()
    )
    # The peewee stubs type every query as yielding models, whatever .tuples() says.
    return run, list(cast(Iterable[tuple[str, str, str | None]], query))


def _run_status(statuses: list[str]) -> str:
    if any(status in JobStatus.PENDING for status in statuses):
        return "queued" if all(status == JobStatus.QUEUED for status in statuses) else "running"
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
        if status == JobStatus.DONE:
            summary.ok.append(username)
        elif status == JobStatus.FAILED:
            summary.failed[username] = error or "failed"
        elif status == JobStatus.REAUTH:
            summary.reauth_required.append(username)
        elif status == JobStatus.SKIPPED:
            summary.skipped.append(username)
        elif status == JobStatus.RATE_LIMITED:
            summary.rate_limited[username] = error or "rate limited"
        elif status == JobStatus.NEEDS_ATTENTION:
            summary.needs_attention[username] = error or "needs attention"
        else:
            summary.pending.append(username)
    return summary
