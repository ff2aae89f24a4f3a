"""What a snapshot run waits for once none of its jobs can be claimed: leases and retry times.

After a crash, a run's jobs stay `running` under the dead worker's lease until it runs out;
a user Spotify's rate limit ran out of time waits for its retry time. A run that waits says
so (the CLI prints it), instead of sitting silent for up to a lease.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import cast

from db.job_status import JobStatus
from db.models import SnapshotJob, User, utcnow
from db.runs import in_run

_JobRow = tuple[str, str, str | None, dt.datetime | None, dt.datetime | None]
# A wait line names this many users, then counts the rest: it stays one line at any size.
NAMED_USERS = 5


@dataclasses.dataclass(frozen=True)
class Waiting:
    """One user's job the run cannot take now: held by `worker` (or put back) until `until`."""

    username: str
    worker: str | None
    until: dt.datetime


@dataclasses.dataclass(frozen=True)
class RunWait:
    """The run's jobs held under another worker's lease, and those put back to retry later."""

    held: tuple[Waiting, ...]
    deferred: tuple[Waiting, ...]

    def what(self) -> tuple[tuple[str, str | None], ...]:
        """Who is waited for and on whom, without the times (which move as leases renew)."""
        return tuple((w.username, w.worker) for w in self.held + self.deferred)

    def line(self) -> str:
        """One line for an operator: what the run waits for and until when (UTC)."""
        parts = [_held_part(worker, list(jobs)) for worker, jobs in _by_worker(self.held)]
        if self.deferred:
            parts.append(
                f"{_names(self.deferred)} put back by Spotify's rate limit, "
                f"to be retried at {_utc(min(w.until for w in self.deferred))}"
            )
        return "waiting for " + "; ".join(parts)


def _by_worker(held: Sequence[Waiting]) -> Iterable[tuple[str | None, Iterable[Waiting]]]:
    return itertools.groupby(sorted(held, key=lambda w: w.worker or ""), key=lambda w: w.worker)


def _held_part(worker: str | None, jobs: list[Waiting]) -> str:
    return (
        f"{_names(jobs)} held by worker {worker} until its lease ends at "
        f"{_utc(max(w.until for w in jobs))} (renewed while that worker lives; "
        "taken over here if it has died)"
    )


def _names(jobs: Sequence[Waiting]) -> str:
    names = sorted(w.username for w in jobs)
    shown = ", ".join(names[:NAMED_USERS])
    return shown + (f" and {len(names) - NAMED_USERS} more" if len(names) > NAMED_USERS else "")


def _utc(moment: dt.datetime) -> str:
    return f"{moment.replace(microsecond=0).isoformat(sep=' ')} UTC"


def run_wait(run_id: str, now: dt.datetime | None = None) -> RunWait | None:
    """What the run's pending jobs wait for, or None when one can be claimed now."""
    now = now or utcnow()
    query = (
        SnapshotJob.select(
            User.username,
            SnapshotJob.status,
            SnapshotJob.worker,
            SnapshotJob.lease_until,
            SnapshotJob.retry_at,
        )
        .join(User)
        .where(in_run(run_id) & SnapshotJob.status.in_(JobStatus.PENDING))
        .tuples()
    )
    rows = cast(Iterable[_JobRow], query)
    held: list[Waiting] = []
    deferred: list[Waiting] = []
    for username, status, worker, lease_until, retry_at in rows:
        if status == JobStatus.RUNNING and lease_until is not None and lease_until > now:
            held.append(Waiting(username, worker, lease_until))
        elif status == JobStatus.QUEUED and retry_at is not None and retry_at > now:
            deferred.append(Waiting(username, None, retry_at))
        else:
            return None  # claimable now: nothing to wait for
    if not held and not deferred:
        return None
    return RunWait(tuple(held), tuple(deferred))
