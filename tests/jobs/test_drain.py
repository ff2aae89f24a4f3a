"""The drain loop: workers claim a run's jobs, keep their leases, and record outcomes."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

import peewee as pw
import pytest

from db.claims import ClaimedJob, JobOutcome, claim_next_job
from db.database import Database
from db.models import User, utcnow
from db.run_reports import RunSummary, summarize_run
from db.run_waits import RunWait
from db.runs import create_run
from jobs.drain import drain
from metrics import SNAPSHOT_USERS
from tests.queue_helpers import (
    DAY,
    LEASE,
    add_users,
    complete_snapshot,
    finished_at,
    jobs_by_user,
    lease_until,
)

P = ParamSpec("P")
T = TypeVar("T")
WAIT = 10.0  # upper bound for awaited events; never reached when things work
OUTCOMES = ("ok", "failed", "reauth_required", "needs_attention", "retried_later", "rate_limited")


def _users_counted() -> dict[str, float]:
    """/metrics' count of users in each outcome, so far in this process."""
    return {outcome: SNAPSHOT_USERS.labels(outcome)._value.get() for outcome in OUTCOMES}


def _counted_since(before: dict[str, float]) -> dict[str, float]:
    return {k: v - before[k] for k, v in _users_counted().items() if v != before[k]}


async def test_drain_runs_every_job_and_one_failure_blocks_nobody(database: Database) -> None:
    await database.run(add_users, "ann", "bob", "cid", "dan")
    run_id = await database.run(create_run, DAY, trigger="nightly")
    progress: list[tuple[str, str]] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        if job.username == "bob":
            raise RuntimeError("spotify said no\nsecond line")
        if job.username == "dan":
            return JobOutcome("reauth_required", "invalid_grant")
        return JobOutcome("done")

    counted = _users_counted()
    await drain(
        database,
        handler,
        worker_id="test",
        run_id=run_id,
        concurrency=2,
        on_progress=lambda job, outcome: progress.append((job.username, outcome.status)),
    )
    assert sorted(progress) == [
        ("ann", "done"),
        ("bob", "failed"),
        ("cid", "done"),
        ("dan", "reauth_required"),
    ]
    assert _counted_since(counted) == {"ok": 2, "failed": 1, "reauth_required": 1}
    summary = await database.run(summarize_run, run_id)
    assert summary == RunSummary(
        run_id=run_id,
        ok=["ann", "cid"],
        failed={"bob": summary.failed["bob"]},
        reauth_required=["dan"],
        skipped=[],
    )
    assert summary.failed["bob"].startswith("RuntimeError: spotify said no (test_drain.py:")
    assert not summary.succeeded
    assert await database.run(finished_at, run_id) is not None


async def test_drain_works_jobs_concurrently(database: Database) -> None:
    await database.run(add_users, "ann", "bob", "cid")
    run_id = await database.run(create_run, DAY, trigger="nightly")
    # Each handler waits for all three to be running at once: only concurrency lets it end.
    all_started = asyncio.Barrier(3)

    async def handler(job: ClaimedJob) -> JobOutcome:
        await asyncio.wait_for(all_started.wait(), WAIT)
        return JobOutcome("done")

    await drain(database, handler, worker_id="test", run_id=run_id, concurrency=3)
    assert (await database.run(summarize_run, run_id)).ok == ["ann", "bob", "cid"]


@pytest.mark.parametrize("run", [pytest.param(True, id="of-a-run"), pytest.param(False, id="any")])
async def test_drain_with_nothing_to_do_runs_no_job(database: Database, run: bool) -> None:
    await database.run(add_users, "ann")
    await database.run(add_users, "cat", status=User.DISABLED)
    await database.run(complete_snapshot, "ann")
    run_id = await database.run(create_run, DAY, trigger="cli", usernames=["ann", "cat"])
    ran: list[str] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        # Recorded, not raised: drain turns a handler's exception into a failed job.
        ran.append(job.username)
        return JobOutcome("done")

    await asyncio.wait_for(
        drain(database, handler, worker_id="test", run_id=run_id if run else None), WAIT
    )
    assert ran == []
    assert await database.run(jobs_by_user) == {
        "ann": ("done", False, run_id),
        "cat": ("skipped", False, run_id),
    }


@pytest.mark.parametrize(
    "returned",
    [
        pytest.param(JobOutcome("queued"), id="unfinished-status"),
        pytest.param(None, id="nothing"),
    ],
)
async def test_drain_records_a_nonsense_outcome_as_failed(
    database: Database, returned: JobOutcome | None
) -> None:
    await database.run(add_users, "ann")
    run_id = await database.run(create_run, DAY, trigger="nightly")

    async def handler(job: ClaimedJob) -> JobOutcome:
        return returned  # type: ignore[return-value]

    await drain(database, handler, worker_id="test", run_id=run_id)
    assert list((await database.run(summarize_run, run_id)).failed) == ["ann"]


def _steal(job_id: int) -> ClaimedJob | None:
    later = utcnow() + LEASE * 2
    return claim_next_job("thief", lease=LEASE, now=later)


async def test_drain_renews_the_lease_while_the_handler_runs(database: Database) -> None:
    await database.run(add_users, "ann")
    run_id = await database.run(create_run, DAY, trigger="nightly")

    async def handler(job: ClaimedJob) -> JobOutcome:
        first = await database.run(lease_until, job.id)
        while await database.run(lease_until, job.id) == first:
            await asyncio.sleep(0.01)
        return JobOutcome("done")

    await asyncio.wait_for(
        drain(
            database,
            handler,
            worker_id="test",
            run_id=run_id,
            renew_every=dt.timedelta(milliseconds=20),
        ),
        WAIT,
    )
    assert (await database.run(summarize_run, run_id)).ok == ["ann"]


async def test_drain_abandons_a_job_another_worker_took_over(database: Database) -> None:
    await database.run(add_users, "ann")
    run_id = await database.run(create_run, DAY, trigger="nightly")
    cancelled = asyncio.Event()
    progress: list[str] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        # The keeper may notice the theft before the steal's own answer reaches this task.
        try:
            assert await database.run(_steal, job.id) is not None
            await asyncio.sleep(WAIT)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return JobOutcome("done")

    await asyncio.wait_for(
        drain(
            database,
            handler,
            worker_id="test",
            renew_every=dt.timedelta(milliseconds=10),
            on_progress=lambda job, outcome: progress.append(job.username),
        ),
        WAIT,
    )
    assert cancelled.is_set()
    assert progress == []
    job = (await database.run(jobs_by_user))["ann"]
    assert job[0] == "running"
    assert await database.run(finished_at, run_id) is None


async def test_drain_refuses_zero_concurrency(database: Database) -> None:
    async def handler(job: ClaimedJob) -> JobOutcome:
        return JobOutcome("done")

    with pytest.raises(ValueError, match="concurrency"):
        await drain(database, handler, worker_id="test", concurrency=0)


class _DatabaseGone:
    """Stands in for a Database whose every call fails the way a lost server does."""

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        raise pw.OperationalError("server closed the connection unexpectedly")


async def test_drain_raises_the_database_error_itself() -> None:
    async def handler(job: ClaimedJob) -> JobOutcome:
        return JobOutcome("done")

    gone = cast(Database, _DatabaseGone())
    with pytest.raises(pw.OperationalError, match="server closed"):
        await drain(gone, handler, worker_id="test", concurrency=3)


async def test_drain_of_a_run_waits_for_another_workers_job_and_takes_it_over(
    database: Database,
) -> None:
    """Two workers on one date: the one that runs out of work reports only a whole run."""
    await database.run(add_users, "ann", "bob")
    other_run = await database.run(create_run, DAY, trigger="cli")
    held = await database.run(claim_next_job, "other", lease=dt.timedelta(milliseconds=300))
    assert held is not None
    mine = await database.run(create_run, DAY, trigger="cli")
    done: list[str] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        done.append(job.username)
        return JobOutcome("done")

    await asyncio.wait_for(drain(database, handler, worker_id="mine", run_id=mine, poll=0.05), WAIT)
    assert sorted(done) == ["ann", "bob"]  # the other worker died: its job was taken over
    summary = await database.run(summarize_run, mine)
    assert (sorted(summary.ok), summary.pending) == (["ann", "bob"], [])
    earlier = await database.run(summarize_run, other_run)
    assert sorted(earlier.ok) == ["ann", "bob"]  # the earlier run still covers its users


class _OutOfTime(Exception):
    """Stands for Spotify's rate limit running a user out of time."""


async def test_a_user_the_rate_limit_ran_out_of_time_is_retried_later_in_the_run(
    database: Database,
) -> None:
    await database.run(add_users, "ann", "bob")
    run_id = await database.run(create_run, DAY, trigger="nightly", deadline=dt.timedelta(hours=1))
    tries: list[str] = []
    progress: list[tuple[str, str]] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        tries.append(job.username)
        if job.username == "ann" and tries.count("ann") == 1:
            raise _OutOfTime("GET /v1/me/top/tracks: rate limited")
        return JobOutcome("done")

    counted = _users_counted()
    await drain(
        database,
        handler,
        worker_id="test",
        run_id=run_id,
        retry_on=(_OutOfTime,),
        retry_delay=dt.timedelta(0),
        poll=0.01,
        on_progress=lambda job, outcome: progress.append((job.username, outcome.status)),
    )
    assert sorted(tries) == ["ann", "ann", "bob"]
    assert sorted(progress) == [("ann", "done"), ("bob", "done")]
    assert _counted_since(counted) == {"ok": 2, "retried_later": 1}
    summary = await database.run(summarize_run, run_id)
    assert summary.succeeded, summary
    assert jobs_by_user()["ann"][0] == "done"


async def test_past_the_runs_deadline_a_rate_limited_user_is_reported_as_such(
    database: Database,
) -> None:
    await database.run(add_users, "ann")
    run_id = await database.run(
        create_run, DAY, trigger="nightly", deadline=dt.timedelta(minutes=1)
    )
    progress: list[tuple[str, str]] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        raise _OutOfTime("GET /v1/me/top/tracks: rate limited")

    counted = _users_counted()
    await drain(
        database,
        handler,
        worker_id="test",
        run_id=run_id,
        retry_on=(_OutOfTime,),
        retry_delay=dt.timedelta(minutes=2),
        on_progress=lambda job, outcome: progress.append((job.username, outcome.status)),
    )
    assert progress == [("ann", "rate_limited")]
    assert _counted_since(counted) == {"rate_limited": 1}
    summary = await database.run(summarize_run, run_id)
    assert summary.failed == {}
    assert "_OutOfTime: GET /v1/me/top/tracks: rate limited" in summary.rate_limited["ann"]
    assert await database.run(finished_at, run_id) is not None


class _AskedToWait(Exception):
    """Stands for RateLimited: Spotify asked for a wait of `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def test_a_user_put_back_is_not_tried_again_before_spotifys_wait_is_over(
    database: Database,
) -> None:
    """Tried sooner, the user can only run out of time again (a spin with no retry delay)."""
    await database.run(add_users, "ann")
    run_id = await database.run(create_run, DAY, trigger="nightly", deadline=dt.timedelta(hours=1))
    tries: list[str] = []
    progress: list[tuple[str, str]] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        tries.append(job.username)
        if len(tries) == 1:
            raise _AskedToWait("GET /v1/me/top/tracks: rate limited", retry_after=2 * 3600)
        return JobOutcome("done")

    await asyncio.wait_for(
        drain(
            database,
            handler,
            worker_id="test",
            run_id=run_id,
            retry_on=(_AskedToWait,),
            retry_delay=dt.timedelta(0),
            poll=0.01,
            on_progress=lambda job, outcome: progress.append((job.username, outcome.status)),
        ),
        WAIT,
    )
    # Spotify's wait ends after the run's deadline: no try of ann's could have been made.
    assert tries == ["ann"]
    assert progress == [("ann", "rate_limited")]


def _job_claims() -> list[tuple[str, str | None, int]]:
    from db.models import SnapshotJob

    return [(j.status, j.worker, j.attempts) for j in SnapshotJob.select().order_by(SnapshotJob.id)]


async def test_an_interrupted_drain_releases_its_claims(database: Database) -> None:
    """SIGTERM, Ctrl-C or a graceful shutdown: the next run must not wait out the leases."""
    await database.run(add_users, "ann", "bob")
    run_id = await database.run(create_run, DAY, trigger="cli")
    working = asyncio.Event()

    async def handler(job: ClaimedJob) -> JobOutcome:
        working.set()
        await asyncio.Event().wait()  # a snapshot that takes a while
        raise AssertionError("unreachable")

    draining = asyncio.create_task(
        drain(database, handler, worker_id="stopping", run_id=run_id, concurrency=2)
    )
    await asyncio.wait_for(working.wait(), WAIT)
    await asyncio.sleep(0.05)  # let the second worker claim too
    draining.cancel()
    with pytest.raises(asyncio.CancelledError):
        await draining
    assert await database.run(_job_claims) == [("queued", None, 0), ("queued", None, 0)]
    # The next run claims them at once instead of waiting ten minutes.
    job = await database.run(claim_next_job, "next", lease=LEASE, run_id=run_id)
    assert job is not None


def _expire_leases() -> None:
    from db.models import SnapshotJob

    SnapshotJob.update(lease_until=utcnow() - dt.timedelta(seconds=1)).execute()


async def test_a_drain_waiting_for_a_crashed_workers_lease_says_for_what_and_until_when(
    database: Database,
) -> None:
    """After a crash the next run waits out a lease: it says so once, then takes the job over."""
    await database.run(add_users, "ann", "bob")
    await database.run(create_run, DAY, trigger="cli")
    crashed = await database.run(claim_next_job, "crashed-host:41/0", lease=LEASE)
    assert crashed is not None
    until = (await database.run(lease_until, crashed.id)).replace(microsecond=0)
    mine = await database.run(create_run, DAY, trigger="cli")
    lines: list[str] = []

    def waiting(wait: RunWait) -> None:
        lines.append(wait.line())
        if len(lines) == 1:
            database.run_sync(_expire_leases)  # the crashed worker's lease runs out

    async def handler(job: ClaimedJob) -> JobOutcome:
        return JobOutcome("done")

    await asyncio.wait_for(
        drain(database, handler, worker_id="mine", run_id=mine, poll=0.01, on_wait=waiting), WAIT
    )
    assert lines == [
        f"waiting for {crashed.username} held by worker crashed-host:41/0 until its lease ends "
        f"at {until.isoformat(sep=' ')} UTC (renewed while that worker lives; taken over here "
        "if it has died)"
    ]
    summary = await database.run(summarize_run, mine)
    assert sorted(summary.ok) == ["ann", "bob"]
