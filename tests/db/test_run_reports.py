"""Run reports on SQLite and PostgreSQL: the admin API's progress and the CLI's summary."""

from __future__ import annotations

import pytest

from db.claims import JobOutcome, finish_job
from db.database import Database
from db.models import User
from db.run_reports import RunSummary, run_progress, summarize_run
from db.runs import UnknownRun, create_run
from tests.queue_helpers import DAY, add_users, claim_all


def _run_with_every_outcome() -> str:
    add_users("ann", "bob", "dan", "eve")
    add_users("cat", status=User.DISABLED)
    run_id = create_run(DAY, trigger="cli", usernames=["ann", "bob", "cat", "dan", "eve"])
    outcomes = {"ann": JobOutcome("done"), "bob": JobOutcome("failed", "boom")}
    outcomes["dan"] = JobOutcome("reauth_required", "invalid_grant")
    for job in claim_all("w1"):
        if job.username in outcomes:
            finish_job(job.id, "w1", outcomes[job.username])
    return run_id


def test_progress_counts_and_lists_every_job(database: Database) -> None:
    run_id = database.run_sync(_run_with_every_outcome)
    progress = database.run_sync(run_progress, run_id)
    assert (progress["run_id"], progress["trigger"], progress["status"]) == (
        run_id,
        "cli",
        "running",
    )
    assert progress["counts"] == {
        "done": 1,
        "failed": 1,
        "skipped": 1,
        "reauth_required": 1,
        "running": 1,
    }
    assert [(job["username"], job["status"]) for job in progress["jobs"]] == [
        ("ann", "done"),
        ("bob", "failed"),
        ("cat", "skipped"),
        ("dan", "reauth_required"),
        ("eve", "running"),
    ]


def test_summary_sorts_users_by_outcome(database: Database) -> None:
    run_id = database.run_sync(_run_with_every_outcome)
    summary = database.run_sync(summarize_run, run_id)
    assert summary == RunSummary(
        run_id=run_id,
        ok=["ann"],
        failed={"bob": "boom"},
        reauth_required=["dan"],
        skipped=["cat"],
        pending=["eve"],
    )
    assert not summary.succeeded


def test_unknown_run_is_an_error(database: Database) -> None:
    with pytest.raises(UnknownRun):
        database.run_sync(run_progress, "no-such-run")
    with pytest.raises(UnknownRun):
        database.run_sync(summarize_run, "no-such-run")
