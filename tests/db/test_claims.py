"""Claims on snapshot jobs on SQLite and PostgreSQL: leases, take-overs, finishing, races."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from db.claims import (
    ClaimedJob,
    JobOutcome,
    claim_next_job,
    defer_job,
    finish_job,
    renew_lease,
)
from db.database import Database
from db.job_status import JobStatus
from db.models import SnapshotJob, User, utcnow
from db.run_reports import run_progress, summarize_run
from db.runs import create_run
from tests.queue_helpers import (
    DAY,
    LEASE,
    add_users,
    claim_all,
    complete_snapshot,
    finished_at,
    job_ids,
    jobs_by_user,
    lease_until,
)


def test_jobs_are_claimed_oldest_first_and_once(database: Database) -> None:
    database.run_sync(add_users, "cid", "ann", "bob")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    claimed = database.run_sync(claim_all, "w1")
    assert [job.username for job in claimed] == ["cid", "ann", "bob"]
    assert [job.id for job in claimed] == sorted(job.id for job in claimed)
    first = claimed[0]
    assert (first.date, first.attempts, first.force, first.run_id) == (DAY, 1, False, run_id)
    assert database.run_sync(claim_next_job, "w2", lease=LEASE) is None
    assert database.run_sync(run_progress, run_id)["status"] == "running"


def test_claim_keeps_to_the_given_run(database: Database) -> None:
    database.run_sync(add_users, "ann", "bob")
    database.run_sync(create_run, DAY, trigger="nightly", usernames=["ann"])
    other = database.run_sync(create_run, DAY + dt.timedelta(days=1), trigger="cli")
    claimed = database.run_sync(claim_all, "w1", other)
    assert [(job.username, job.date) for job in claimed] == [
        ("ann", DAY + dt.timedelta(days=1)),
        ("bob", DAY + dt.timedelta(days=1)),
    ]


def test_expired_lease_hands_the_job_to_another_worker(database: Database) -> None:
    database.run_sync(add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    start = utcnow()
    job = database.run_sync(claim_next_job, "w1", lease=LEASE, now=start)
    assert job is not None
    # Still leased: nobody else may take it.
    before_expiry = start + LEASE - dt.timedelta(seconds=1)
    assert database.run_sync(claim_next_job, "w2", lease=LEASE, now=before_expiry) is None
    after_expiry = start + LEASE + dt.timedelta(seconds=1)
    again = database.run_sync(claim_next_job, "w2", lease=LEASE, now=after_expiry)
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 2)
    # The crashed worker comes back: its lease and its result are no longer wanted.
    assert not database.run_sync(renew_lease, job.id, "w1", LEASE)
    assert not database.run_sync(finish_job, job.id, "w1", JobOutcome("done"))
    assert database.run_sync(finish_job, job.id, "w2", JobOutcome("done"))
    assert database.run_sync(jobs_by_user)["ann"][0] == "done"


def test_job_whose_workers_keep_dying_is_given_up(database: Database) -> None:
    database.run_sync(add_users, "ann", "bob")
    run_id = database.run_sync(create_run, DAY, trigger="nightly", usernames=["ann"])
    now = utcnow()
    for attempt in range(3):
        now += LEASE * 2
        job = database.run_sync(claim_next_job, f"w{attempt}", lease=LEASE, now=now)
        assert job is not None
        assert job.attempts == attempt + 1
    assert database.run_sync(claim_next_job, "w9", lease=LEASE, now=now + LEASE * 2) is None
    summary = database.run_sync(summarize_run, run_id)
    assert list(summary.failed) == ["ann"]
    assert "3 attempts" in summary.failed["ann"]
    assert database.run_sync(finished_at, run_id) is not None


@pytest.mark.parametrize(
    ("status", "job_status", "listed_as"),
    [
        pytest.param(User.DISABLED, JobStatus.SKIPPED, "skipped", id="disabled"),
        pytest.param(User.REAUTH_REQUIRED, "reauth_required", "reauth_required", id="reauth"),
    ],
)
def test_jobs_of_users_no_longer_active_are_not_claimed(
    database: Database, status: str, job_status: str, listed_as: str
) -> None:
    database.run_sync(add_users, "ann", "bob")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    database.run_sync(User.update(status=status).where(User.username == "ann").execute)
    assert [job.username for job in database.run_sync(claim_all, "w1")] == ["bob"]
    assert database.run_sync(jobs_by_user)["ann"][0] == job_status
    assert getattr(database.run_sync(summarize_run, run_id), listed_as) == ["ann"]


def test_only_the_lease_holder_renews_and_finishes(database: Database) -> None:
    database.run_sync(add_users, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=dt.timedelta(minutes=1))
    assert job is not None
    first_lease = database.run_sync(lease_until, job.id)
    assert not database.run_sync(renew_lease, job.id, "intruder", LEASE)
    assert not database.run_sync(finish_job, job.id, "intruder", JobOutcome("failed", "mine now"))
    assert database.run_sync(lease_until, job.id) == first_lease
    assert database.run_sync(renew_lease, job.id, "w1", LEASE)
    assert database.run_sync(lease_until, job.id) > first_lease
    assert database.run_sync(finish_job, job.id, "w1", JobOutcome("done"))
    assert not database.run_sync(finish_job, job.id, "w1", JobOutcome("failed", "twice"))
    assert not database.run_sync(renew_lease, job.id, "w1", LEASE)
    assert database.run_sync(summarize_run, run_id).ok == ["ann"]


def test_finishing_the_last_job_finishes_the_run(database: Database) -> None:
    database.run_sync(add_users, "ann", "bob")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    first, second = database.run_sync(claim_all, "w1")
    database.run_sync(finish_job, first.id, "w1", JobOutcome("done"))
    assert database.run_sync(finished_at, run_id) is None
    database.run_sync(finish_job, second.id, "w1", JobOutcome("reauth_required", "invalid_grant"))
    assert database.run_sync(finished_at, run_id) is not None
    progress = database.run_sync(run_progress, run_id)
    assert progress["status"] == "finished"
    assert progress["counts"] == {"done": 1, "reauth_required": 1}


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(JobOutcome("running"), id="running"),
        pytest.param(JobOutcome("skipped"), id="skipped"),
        pytest.param(JobOutcome("ok"), id="made-up"),
    ],
)
def test_a_job_cannot_finish_as_unfinished(database: Database, outcome: JobOutcome) -> None:
    database.run_sync(add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=LEASE)
    assert job is not None
    with pytest.raises(ValueError, match="done, failed, reauth_required"):
        database.run_sync(finish_job, job.id, "w1", outcome)


def test_stored_error_is_one_short_line(database: Database) -> None:
    database.run_sync(add_users, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=LEASE)
    assert job is not None
    error = "\n  first line " + "x" * 1000 + "\nsecond line"
    database.run_sync(finish_job, job.id, "w1", JobOutcome("failed", error))
    stored = database.run_sync(summarize_run, run_id).failed["ann"]
    assert stored.startswith("first line x")
    assert "\n" not in stored
    assert len(stored) <= 500


def _attempts() -> set[int]:
    return {job.attempts for job in SnapshotJob.select(SnapshotJob.attempts)}


def _claim_in_threads(database: Database, workers: int) -> list[int]:
    start = threading.Barrier(workers)

    def claim_loop(worker: str) -> list[int]:
        start.wait()
        claimed = []
        while job := database.run_sync(claim_next_job, worker, lease=LEASE):
            claimed.append(job.id)
        return claimed

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(claim_loop, [f"t{n}" for n in range(workers)]))
    return [job_id for claimed in results for job_id in claimed]


def test_concurrent_workers_never_claim_the_same_job(database: Database) -> None:
    names = [f"user{n:02}" for n in range(50)]
    database.run_sync(add_users, *names)
    database.run_sync(create_run, DAY, trigger="nightly")
    claimed = _claim_in_threads(database, workers=database.pool_size)
    assert sorted(claimed) == sorted(database.run_sync(job_ids).values())
    assert database.run_sync(_attempts) == {1}


def _claim_in_process(url: str, worker: str, start: threading.Barrier) -> list[int]:
    """Entry point of a spawned process: its own Database, its own connections."""
    database = Database(url, pool_size=1)
    try:
        start.wait()
        claimed = []
        while job := database.run_sync(claim_next_job, worker, lease=LEASE):
            claimed.append(job.id)
        return claimed
    finally:
        database.close()


def test_concurrent_processes_never_claim_the_same_job(database: Database) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite is the single-process database; processes share PostgreSQL only")
    names = [f"user{n:02}" for n in range(50)]
    database.run_sync(add_users, *names)
    database.run_sync(create_run, DAY, trigger="nightly")
    context = multiprocessing.get_context("spawn")
    workers = 3
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        start = manager.Barrier(workers)
        futures = [
            pool.submit(_claim_in_process, database.url, f"p{n}", start) for n in range(workers)
        ]
        claimed = [job_id for future in futures for job_id in future.result(timeout=60)]
    assert sorted(claimed) == sorted(database.run_sync(job_ids).values())


@pytest.mark.parametrize(
    ("force", "claimed"),
    [
        pytest.param(False, False, id="written-then-crashed"),
        pytest.param(True, True, id="forced-not-yet-written"),
    ],
)
def test_a_claim_does_not_redo_a_snapshot_already_written(
    database: Database, force: bool, claimed: bool
) -> None:
    def scenario() -> tuple[ClaimedJob | None, str]:
        add_users("ann")
        create_run(DAY, trigger="test")
        crashed = claim_next_job("w1", lease=LEASE)
        assert crashed is not None
        complete_snapshot("ann")
        SnapshotJob.update(force=force).execute()
        later = utcnow() + 2 * LEASE
        job = claim_next_job("w2", lease=LEASE, now=later)
        return job, SnapshotJob.get().status

    job, status = database.run_sync(scenario)
    assert (job is not None) is claimed
    assert status == (JobStatus.RUNNING if claimed else JobStatus.DONE)


def _claim_one(worker: str, run_id: str, now: dt.datetime | None = None) -> ClaimedJob | None:
    return claim_next_job(worker, lease=LEASE, run_id=run_id, now=now)


def test_a_job_put_back_for_the_rate_limit_waits_its_turn_and_spends_no_attempt(
    database: Database,
) -> None:
    database.run_sync(add_users, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="nightly", deadline=dt.timedelta(hours=6))
    job = database.run_sync(_claim_one, "w1", run_id)
    assert job is not None
    assert job.run_deadline is not None
    assert 6 * 3600 - 60 < (job.seconds_left() or 0) <= 6 * 3600

    delay = dt.timedelta(minutes=5)
    status = database.run_sync(defer_job, job.id, "w1", "RateLimited: GET /v1/me/top", delay)

    assert status == JobStatus.QUEUED
    row = database.run_sync(SnapshotJob.get_by_id, job.id)
    assert (row.status, row.attempts, row.deferrals, row.worker) == ("queued", 0, 1, None)
    assert row.error == "retried later (1): RateLimited: GET /v1/me/top"
    assert database.run_sync(_claim_one, "w2", run_id) is None  # not before its turn
    later = utcnow() + delay + dt.timedelta(seconds=1)
    again = database.run_sync(_claim_one, "w2", run_id, later)
    assert again is not None
    assert (again.user_id, again.date, again.attempts) == (job.user_id, DAY, 1)
    summary = database.run_sync(summarize_run, run_id)
    assert (summary.pending, summary.failed) == (["ann"], {})


def test_a_job_put_back_past_the_runs_deadline_ends_rate_limited_not_failed(
    database: Database,
) -> None:
    database.run_sync(add_users, "ann", "bob")
    run_id = database.run_sync(
        create_run, DAY, trigger="nightly", deadline=dt.timedelta(minutes=10)
    )
    ann = database.run_sync(_claim_one, "w1", run_id)
    bob = database.run_sync(_claim_one, "w1", run_id)
    assert ann is not None
    assert bob is not None
    database.run_sync(finish_job, bob.id, "w1", JobOutcome(JobStatus.DONE))

    status = database.run_sync(defer_job, ann.id, "w1", "out of time", dt.timedelta(minutes=11))

    assert status == JobStatus.RATE_LIMITED
    summary = database.run_sync(summarize_run, run_id)
    assert summary.failed == {}
    assert list(summary.rate_limited) == ["ann"]
    assert "no time before the run's deadline: out of time" in summary.rate_limited["ann"]
    assert not summary.succeeded
    assert database.run_sync(finished_at, run_id) is not None
    # The next run for the same date tries the user again, from scratch.
    rerun = database.run_sync(create_run, DAY, trigger="cli")
    retried = database.run_sync(_claim_one, "w2", rerun)
    assert retried is not None
    assert (retried.user_id, retried.date) == (ann.user_id, DAY)


def test_only_the_holder_may_put_a_job_back(database: Database) -> None:
    database.run_sync(add_users, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(_claim_one, "w1", run_id)
    assert job is not None
    assert job.seconds_left() is None
    assert database.run_sync(defer_job, job.id, "w2", "x", dt.timedelta(0)) is None
    assert database.run_sync(SnapshotJob.get_by_id, job.id).status == JobStatus.RUNNING
