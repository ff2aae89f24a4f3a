"""Snapshot runs on SQLite and PostgreSQL: one job per user and date, requeues, skips."""

from __future__ import annotations

import datetime as dt

import pytest

from db.claims import JobOutcome, claim_next_job, finish_job
from db.database import Database
from db.job_status import JobStatus
from db.models import SnapshotJob, SnapshotRun, User
from db.run_reports import run_progress, summarize_run
from db.runs import UnknownUsers, create_run, fail_run
from tests.queue_helpers import (
    DAY,
    LEASE,
    add_users,
    claim_all,
    complete_snapshot,
    finished_at,
    job_ids,
    jobs_by_user,
    set_job_status,
)


def test_run_queues_one_job_per_active_user(database: Database) -> None:
    database.run_sync(add_users, "ann", "bob")
    database.run_sync(add_users, "cat", status=User.DISABLED)
    database.run_sync(add_users, "dan", status=User.REAUTH_REQUIRED)
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    assert database.run_sync(jobs_by_user) == {
        "ann": ("queued", False, run_id),
        "bob": ("queued", False, run_id),
    }
    progress = database.run_sync(run_progress, run_id)
    assert (progress["date"], progress["status"], progress["counts"]) == (
        "2026-07-01",
        "queued",
        {"queued": 2},
    )
    assert progress["finished_at"] is None


def test_second_run_for_the_same_date_adds_no_jobs(database: Database) -> None:
    database.run_sync(add_users, "ann", "bob")
    first = database.run_sync(create_run, DAY, trigger="nightly")
    ids = database.run_sync(job_ids)
    second = database.run_sync(create_run, DAY, trigger="cli")
    assert first != second
    assert database.run_sync(job_ids) == ids
    assert {run for _, _, run in database.run_sync(jobs_by_user).values()} == {second}


def test_runs_for_other_dates_get_jobs_of_their_own(database: Database) -> None:
    database.run_sync(add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    database.run_sync(create_run, DAY + dt.timedelta(days=1), trigger="nightly")
    assert database.run_sync(SnapshotJob.select().count) == 2


@pytest.mark.parametrize(
    ("before", "force", "after"),
    [
        pytest.param("done", False, ("done", False), id="done-left-alone"),
        pytest.param("done", True, ("queued", True), id="done-forced-again"),
        pytest.param("failed", False, ("queued", False), id="failed-requeued"),
        pytest.param("reauth_required", False, ("queued", False), id="reauth-requeued"),
        pytest.param("running", False, ("running", False), id="running-left-alone"),
        pytest.param("running", True, ("running", False), id="running-not-forced"),
        pytest.param("queued", True, ("queued", True), id="queued-becomes-forced"),
    ],
)
def test_existing_job_on_a_new_run(
    database: Database, before: str, force: bool, after: tuple[str, bool]
) -> None:
    database.run_sync(add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    database.run_sync(set_job_status, "ann", before)
    run_id = database.run_sync(create_run, DAY, trigger="cli", force=force)
    assert database.run_sync(jobs_by_user)["ann"] == (*after, run_id)


def test_requeued_job_starts_its_attempts_afresh(database: Database) -> None:
    database.run_sync(add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=LEASE)
    assert job is not None
    database.run_sync(finish_job, job.id, "w1", JobOutcome("failed", "boom"))
    database.run_sync(create_run, DAY, trigger="cli")
    again = database.run_sync(claim_next_job, "w2", lease=LEASE)
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 1)


@pytest.mark.parametrize(
    ("force", "status"),
    [
        pytest.param(False, "done", id="counts-as-done"),
        pytest.param(True, "queued", id="forced-redo"),
    ],
)
def test_user_with_a_complete_snapshot_and_no_job(
    database: Database, force: bool, status: str
) -> None:
    database.run_sync(add_users, "ann", "bob")
    database.run_sync(complete_snapshot, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="cli", force=force)
    assert database.run_sync(jobs_by_user)["ann"][0] == status
    assert database.run_sync(jobs_by_user)["bob"][0] == "queued"
    if not force:
        assert [job.username for job in database.run_sync(claim_all, "w1")] == ["bob"]
        assert database.run_sync(summarize_run, run_id).ok == ["ann"]


def test_unknown_usernames_are_refused_and_nothing_is_queued(database: Database) -> None:
    database.run_sync(add_users, "ann")
    with pytest.raises(UnknownUsers) as raised:
        database.run_sync(create_run, DAY, trigger="cli", usernames=["zed", "ann", "amy"])
    assert raised.value.names == ["amy", "zed"]
    assert "amy, zed" in str(raised.value)
    assert database.run_sync(SnapshotRun.select().count) == 0
    assert database.run_sync(jobs_by_user) == {}


def test_named_users_only_and_inactive_ones_skipped(database: Database) -> None:
    database.run_sync(add_users, "ann", "bob")
    database.run_sync(add_users, "cat", status=User.DISABLED)
    database.run_sync(add_users, "dan", status=User.REAUTH_REQUIRED)
    run_id = database.run_sync(create_run, DAY, trigger="cli", usernames=["bob", "cat", "dan"])
    assert {name: status for name, (status, _, _) in database.run_sync(jobs_by_user).items()} == {
        "bob": "queued",
        "cat": JobStatus.SKIPPED,
        "dan": JobStatus.SKIPPED,
    }
    assert [job.username for job in database.run_sync(claim_all, "w1")] == ["bob"]
    summary = database.run_sync(summarize_run, run_id)
    assert (summary.skipped, summary.pending) == (["cat", "dan"], ["bob"])


def test_run_with_nothing_to_do_is_finished_at_once(database: Database) -> None:
    database.run_sync(add_users, "cat", status=User.DISABLED)
    run_id = database.run_sync(create_run, DAY, trigger="cli", usernames=["cat"])
    assert database.run_sync(finished_at, run_id) is not None
    assert database.run_sync(run_progress, run_id)["status"] == "finished"
    assert database.run_sync(summarize_run, run_id).succeeded


def test_failing_a_run_closes_its_waiting_jobs_and_those_this_worker_held(
    database: Database,
) -> None:
    def scenario() -> tuple[str, int, dt.datetime | None]:
        add_users("ann", "bob", "cid")
        run_id = create_run(DAY, trigger="admin")
        assert claim_next_job("here:1/0", lease=LEASE) is not None  # ann
        assert claim_next_job("elsewhere:2/0", lease=LEASE) is not None  # bob
        closed = fail_run(run_id, "the snapshot run failed: boom", "here:1/")
        return run_id, closed, finished_at(run_id)

    run_id, closed, finished = database.run_sync(scenario)
    assert closed == 2
    assert finished is None  # bob is still being snapshotted elsewhere
    progress = database.run_sync(run_progress, run_id)
    assert [(job["username"], job["status"], job["error"]) for job in progress["jobs"]] == [
        ("ann", "failed", "the snapshot run failed: boom"),
        ("bob", "running", None),
        ("cid", "failed", "the snapshot run failed: boom"),
    ]
    bob = database.run_sync(job_ids)["bob"]
    assert database.run_sync(finish_job, bob, "elsewhere:2/0", JobOutcome("done"))
    assert database.run_sync(finished_at, run_id) is not None
