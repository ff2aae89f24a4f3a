"""What a run waits for once none of its jobs can be claimed: leases and retry times, one line."""

from __future__ import annotations

import datetime as dt

from db.claims import JobOutcome, claim_next_job, defer_job, finish_job
from db.database import Database
from db.models import SnapshotJob
from db.run_waits import run_wait
from db.runs import create_run
from tests.queue_helpers import DAY, LEASE, add_users, claim_all


def _names(count: int) -> list[str]:
    return [f"user{number:02}" for number in range(count)]


def test_a_run_with_a_claimable_or_no_pending_job_waits_for_nothing(database: Database) -> None:
    def scenario() -> tuple[object, object]:
        add_users("ann")
        run_id = create_run(DAY, trigger="cli")
        claimable = run_wait(run_id)
        job = claim_next_job("w/0", lease=LEASE, run_id=run_id)
        assert job is not None
        finish_job(job.id, "w/0", JobOutcome("done"))
        return claimable, run_wait(run_id)

    assert database.run_sync(scenario) == (None, None)


def test_held_jobs_are_named_by_worker_with_the_latest_lease_end(database: Database) -> None:
    def scenario() -> str:
        add_users(*_names(7))
        run_id = create_run(DAY, trigger="cli")
        assert len(claim_all("crashed:9/0", run_id)) == 7
        wait = run_wait(run_id)
        assert wait is not None
        return wait.line()

    line = database.run_sync(scenario)
    assert line.startswith(
        "waiting for user00, user01, user02, user03, user04 and 2 more held by worker crashed:9/0 "
        "until its lease ends at "
    )
    assert "\n" not in line


def test_users_put_back_by_the_rate_limit_are_waited_for_until_their_retry(
    database: Database,
) -> None:
    def scenario() -> tuple[str, dt.datetime]:
        add_users("ann")
        run_id = create_run(DAY, trigger="cli", deadline=dt.timedelta(hours=2))
        job = claim_next_job("w/0", lease=LEASE, run_id=run_id)
        assert job is not None
        defer_job(job.id, "w/0", "rate limited", dt.timedelta(minutes=5))
        retry_at = SnapshotJob.get_by_id(job.id).retry_at
        assert retry_at is not None
        wait = run_wait(run_id)
        assert wait is not None
        return wait.line(), retry_at

    line, retry_at = database.run_sync(scenario)
    expected_at = retry_at.replace(microsecond=0).isoformat(sep=" ")
    assert line == (
        f"waiting for ann put back by Spotify's rate limit, to be retried at {expected_at} UTC"
    )
