"""The snapshot job queue on SQLite and PostgreSQL: runs, claims, leases, drain, summaries."""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import ParamSpec, TypeVar, cast

import peewee as pw
import pytest

from db.database import Database
from db.models import Snapshot, SnapshotJob, SnapshotRun, User, utcnow
from jobs.queue import (
    SKIPPED,
    ClaimedJob,
    JobOutcome,
    RunSummary,
    UnknownRun,
    UnknownUsers,
    claim_next_job,
    create_run,
    drain,
    finish_job,
    renew_lease,
    run_progress,
    summarize_run,
)

P = ParamSpec("P")
T = TypeVar("T")
DAY = dt.date(2026, 7, 1)
LEASE = dt.timedelta(minutes=10)
WAIT = 10.0  # upper bound for awaited events; never reached when things work


def _add_users(*names: str, status: str = User.ACTIVE) -> list[int]:
    return [User.create(username=name, status=status).id for name in names]


def _jobs() -> dict[str, tuple[str, bool, str | None]]:
    query = SnapshotJob.select(SnapshotJob, User).join(User)
    return {job.user.username: (job.status, job.force, job.run_id) for job in query}


def _job_ids() -> dict[str, int]:
    query = SnapshotJob.select(SnapshotJob, User).join(User)
    return {job.user.username: job.id for job in query}


def _set_status(username: str, status: str) -> None:
    user = User.get(User.username == username)
    SnapshotJob.update(status=status).where(SnapshotJob.user == user).execute()


def _claim_all(worker: str, run_id: str | None = None) -> list[ClaimedJob]:
    claimed = []
    while job := claim_next_job(worker, lease=LEASE, run_id=run_id):
        claimed.append(job)
    return claimed


def _finished_at(run_id: str) -> dt.datetime | None:
    return SnapshotRun.get_by_id(run_id).finished_at


# -- create_run ---------------------------------------------------------------------------


def test_run_queues_one_job_per_active_user(database: Database) -> None:
    database.run_sync(_add_users, "ann", "bob")
    database.run_sync(_add_users, "cat", status=User.DISABLED)
    database.run_sync(_add_users, "dan", status=User.REAUTH_REQUIRED)
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    assert database.run_sync(_jobs) == {
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
    database.run_sync(_add_users, "ann", "bob")
    first = database.run_sync(create_run, DAY, trigger="nightly")
    ids = database.run_sync(_job_ids)
    second = database.run_sync(create_run, DAY, trigger="cli")
    assert first != second
    assert database.run_sync(_job_ids) == ids
    assert {run for _, _, run in database.run_sync(_jobs).values()} == {second}


def test_runs_for_other_dates_get_jobs_of_their_own(database: Database) -> None:
    database.run_sync(_add_users, "ann")
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
    database.run_sync(_add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    database.run_sync(_set_status, "ann", before)
    run_id = database.run_sync(create_run, DAY, trigger="cli", force=force)
    assert database.run_sync(_jobs)["ann"] == (*after, run_id)


def test_requeued_job_starts_its_attempts_afresh(database: Database) -> None:
    database.run_sync(_add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=LEASE)
    assert job is not None
    database.run_sync(finish_job, job.id, "w1", JobOutcome("failed", "boom"))
    database.run_sync(create_run, DAY, trigger="cli")
    again = database.run_sync(claim_next_job, "w2", lease=LEASE)
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 1)


def _complete_snapshot(username: str) -> None:
    user = User.get(User.username == username)
    Snapshot.create(user=user, date=DAY, status=Snapshot.COMPLETE)


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
    database.run_sync(_add_users, "ann", "bob")
    database.run_sync(_complete_snapshot, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="cli", force=force)
    assert database.run_sync(_jobs)["ann"][0] == status
    assert database.run_sync(_jobs)["bob"][0] == "queued"
    if not force:
        assert [job.username for job in database.run_sync(_claim_all, "w1")] == ["bob"]
        assert database.run_sync(summarize_run, run_id).ok == ["ann"]


def test_unknown_usernames_are_refused_and_nothing_is_queued(database: Database) -> None:
    database.run_sync(_add_users, "ann")
    with pytest.raises(UnknownUsers) as raised:
        database.run_sync(create_run, DAY, trigger="cli", usernames=["zed", "ann", "amy"])
    assert raised.value.names == ["amy", "zed"]
    assert "amy, zed" in str(raised.value)
    assert database.run_sync(SnapshotRun.select().count) == 0
    assert database.run_sync(_jobs) == {}


def test_named_users_only_and_inactive_ones_skipped(database: Database) -> None:
    database.run_sync(_add_users, "ann", "bob")
    database.run_sync(_add_users, "cat", status=User.DISABLED)
    database.run_sync(_add_users, "dan", status=User.REAUTH_REQUIRED)
    run_id = database.run_sync(create_run, DAY, trigger="cli", usernames=["bob", "cat", "dan"])
    assert {name: status for name, (status, _, _) in database.run_sync(_jobs).items()} == {
        "bob": "queued",
        "cat": SKIPPED,
        "dan": SKIPPED,
    }
    assert [job.username for job in database.run_sync(_claim_all, "w1")] == ["bob"]
    summary = database.run_sync(summarize_run, run_id)
    assert (summary.skipped, summary.pending) == (["cat", "dan"], ["bob"])


def test_run_with_nothing_to_do_is_finished_at_once(database: Database) -> None:
    database.run_sync(_add_users, "cat", status=User.DISABLED)
    run_id = database.run_sync(create_run, DAY, trigger="cli", usernames=["cat"])
    assert database.run_sync(_finished_at, run_id) is not None
    assert database.run_sync(run_progress, run_id)["status"] == "finished"
    assert database.run_sync(summarize_run, run_id).succeeded


def test_unknown_run_is_an_error(database: Database) -> None:
    with pytest.raises(UnknownRun):
        database.run_sync(run_progress, "no-such-run")
    with pytest.raises(UnknownRun):
        database.run_sync(summarize_run, "no-such-run")


# -- claiming -----------------------------------------------------------------------------


def test_jobs_are_claimed_oldest_first_and_once(database: Database) -> None:
    database.run_sync(_add_users, "cid", "ann", "bob")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    claimed = database.run_sync(_claim_all, "w1")
    assert [job.username for job in claimed] == ["cid", "ann", "bob"]
    assert [job.id for job in claimed] == sorted(job.id for job in claimed)
    first = claimed[0]
    assert (first.date, first.attempts, first.force, first.run_id) == (DAY, 1, False, run_id)
    assert database.run_sync(claim_next_job, "w2", lease=LEASE) is None
    assert database.run_sync(run_progress, run_id)["status"] == "running"


def test_claim_keeps_to_the_given_run(database: Database) -> None:
    database.run_sync(_add_users, "ann", "bob")
    database.run_sync(create_run, DAY, trigger="nightly", usernames=["ann"])
    other = database.run_sync(create_run, DAY + dt.timedelta(days=1), trigger="cli")
    claimed = database.run_sync(_claim_all, "w1", other)
    assert [(job.username, job.date) for job in claimed] == [
        ("ann", DAY + dt.timedelta(days=1)),
        ("bob", DAY + dt.timedelta(days=1)),
    ]


def test_expired_lease_hands_the_job_to_another_worker(database: Database) -> None:
    database.run_sync(_add_users, "ann")
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
    assert database.run_sync(_jobs)["ann"][0] == "done"


def test_job_whose_workers_keep_dying_is_given_up(database: Database) -> None:
    database.run_sync(_add_users, "ann", "bob")
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
    assert database.run_sync(_finished_at, run_id) is not None


@pytest.mark.parametrize(
    ("status", "job_status", "listed_as"),
    [
        pytest.param(User.DISABLED, SKIPPED, "skipped", id="disabled"),
        pytest.param(User.REAUTH_REQUIRED, "reauth_required", "reauth_required", id="reauth"),
    ],
)
def test_jobs_of_users_no_longer_active_are_not_claimed(
    database: Database, status: str, job_status: str, listed_as: str
) -> None:
    database.run_sync(_add_users, "ann", "bob")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    database.run_sync(User.update(status=status).where(User.username == "ann").execute)
    assert [job.username for job in database.run_sync(_claim_all, "w1")] == ["bob"]
    assert database.run_sync(_jobs)["ann"][0] == job_status
    assert getattr(database.run_sync(summarize_run, run_id), listed_as) == ["ann"]


# -- leases and finishing -----------------------------------------------------------------


def _lease_until(job_id: int) -> dt.datetime:
    lease_until = SnapshotJob.get_by_id(job_id).lease_until
    assert lease_until is not None
    return lease_until


def test_only_the_lease_holder_renews_and_finishes(database: Database) -> None:
    database.run_sync(_add_users, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=dt.timedelta(minutes=1))
    assert job is not None
    first_lease = database.run_sync(_lease_until, job.id)
    assert not database.run_sync(renew_lease, job.id, "intruder", LEASE)
    assert not database.run_sync(finish_job, job.id, "intruder", JobOutcome("failed", "mine now"))
    assert database.run_sync(_lease_until, job.id) == first_lease
    assert database.run_sync(renew_lease, job.id, "w1", LEASE)
    assert database.run_sync(_lease_until, job.id) > first_lease
    assert database.run_sync(finish_job, job.id, "w1", JobOutcome("done"))
    assert not database.run_sync(finish_job, job.id, "w1", JobOutcome("failed", "twice"))
    assert not database.run_sync(renew_lease, job.id, "w1", LEASE)
    assert database.run_sync(summarize_run, run_id).ok == ["ann"]


def test_finishing_the_last_job_finishes_the_run(database: Database) -> None:
    database.run_sync(_add_users, "ann", "bob")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    first, second = database.run_sync(_claim_all, "w1")
    database.run_sync(finish_job, first.id, "w1", JobOutcome("done"))
    assert database.run_sync(_finished_at, run_id) is None
    database.run_sync(finish_job, second.id, "w1", JobOutcome("reauth_required", "invalid_grant"))
    assert database.run_sync(_finished_at, run_id) is not None
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
    database.run_sync(_add_users, "ann")
    database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=LEASE)
    assert job is not None
    with pytest.raises(ValueError, match="done, failed, reauth_required"):
        database.run_sync(finish_job, job.id, "w1", outcome)


def test_stored_error_is_one_short_line(database: Database) -> None:
    database.run_sync(_add_users, "ann")
    run_id = database.run_sync(create_run, DAY, trigger="nightly")
    job = database.run_sync(claim_next_job, "w1", lease=LEASE)
    assert job is not None
    error = "\n  first line " + "x" * 1000 + "\nsecond line"
    database.run_sync(finish_job, job.id, "w1", JobOutcome("failed", error))
    stored = database.run_sync(summarize_run, run_id).failed["ann"]
    assert stored.startswith("first line x")
    assert "\n" not in stored
    assert len(stored) <= 500


# -- concurrent claims --------------------------------------------------------------------


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
    database.run_sync(_add_users, *names)
    database.run_sync(create_run, DAY, trigger="nightly")
    claimed = _claim_in_threads(database, workers=database.pool_size)
    assert sorted(claimed) == sorted(database.run_sync(_job_ids).values())
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
    database.run_sync(_add_users, *names)
    database.run_sync(create_run, DAY, trigger="nightly")
    context = multiprocessing.get_context("spawn")
    workers = 3
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        start = manager.Barrier(workers)
        futures = [
            pool.submit(_claim_in_process, database.url, f"p{n}", start) for n in range(workers)
        ]
        claimed = [job_id for future in futures for job_id in future.result(timeout=60)]
    assert sorted(claimed) == sorted(database.run_sync(_job_ids).values())


# -- drain --------------------------------------------------------------------------------


async def test_drain_runs_every_job_and_one_failure_blocks_nobody(database: Database) -> None:
    await database.run(_add_users, "ann", "bob", "cid", "dan")
    run_id = await database.run(create_run, DAY, trigger="nightly")
    progress: list[tuple[str, str]] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        if job.username == "bob":
            raise RuntimeError("spotify said no\nsecond line")
        if job.username == "dan":
            return JobOutcome("reauth_required", "invalid_grant")
        return JobOutcome("done")

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
    summary = await database.run(summarize_run, run_id)
    assert summary == RunSummary(
        run_id=run_id,
        ok=["ann", "cid"],
        failed={"bob": summary.failed["bob"]},
        reauth_required=["dan"],
        skipped=[],
    )
    assert summary.failed["bob"].startswith("RuntimeError: spotify said no (test_queue.py:")
    assert not summary.succeeded
    assert await database.run(_finished_at, run_id) is not None


async def test_drain_works_jobs_concurrently(database: Database) -> None:
    await database.run(_add_users, "ann", "bob", "cid")
    run_id = await database.run(create_run, DAY, trigger="nightly")
    # Each handler waits for all three to be running at once: only concurrency lets it end.
    all_started = asyncio.Barrier(3)

    async def handler(job: ClaimedJob) -> JobOutcome:
        await asyncio.wait_for(all_started.wait(), WAIT)
        return JobOutcome("done")

    await drain(database, handler, worker_id="test", run_id=run_id, concurrency=3)
    assert (await database.run(summarize_run, run_id)).ok == ["ann", "bob", "cid"]


async def test_drain_with_nothing_to_do_returns(database: Database) -> None:
    async def handler(job: ClaimedJob) -> JobOutcome:
        raise AssertionError("no job should run")

    await drain(database, handler, worker_id="test")


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
    await database.run(_add_users, "ann")
    run_id = await database.run(create_run, DAY, trigger="nightly")

    async def handler(job: ClaimedJob) -> JobOutcome:
        return returned  # type: ignore[return-value]

    await drain(database, handler, worker_id="test", run_id=run_id)
    assert list((await database.run(summarize_run, run_id)).failed) == ["ann"]


def _steal(job_id: int) -> ClaimedJob | None:
    later = utcnow() + LEASE * 2
    return claim_next_job("thief", lease=LEASE, now=later)


async def test_drain_renews_the_lease_while_the_handler_runs(database: Database) -> None:
    await database.run(_add_users, "ann")
    run_id = await database.run(create_run, DAY, trigger="nightly")

    async def handler(job: ClaimedJob) -> JobOutcome:
        first = await database.run(_lease_until, job.id)
        while await database.run(_lease_until, job.id) == first:
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
    await database.run(_add_users, "ann")
    run_id = await database.run(create_run, DAY, trigger="nightly")
    cancelled = asyncio.Event()
    progress: list[str] = []

    async def handler(job: ClaimedJob) -> JobOutcome:
        assert await database.run(_steal, job.id) is not None
        try:
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
    job = (await database.run(_jobs))["ann"]
    assert job[0] == "running"
    assert await database.run(_finished_at, run_id) is None


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
        _add_users("ann")
        create_run(DAY, trigger="test")
        crashed = claim_next_job("w1", lease=LEASE)
        assert crashed is not None
        _complete_snapshot("ann")
        SnapshotJob.update(force=force).execute()
        later = utcnow() + 2 * LEASE
        job = claim_next_job("w2", lease=LEASE, now=later)
        return job, SnapshotJob.get().status

    job, status = database.run_sync(scenario)
    assert (job is not None) is claimed
    assert status == (SnapshotJob.RUNNING if claimed else SnapshotJob.DONE)


async def test_drain_of_a_run_waits_for_another_workers_job_and_takes_it_over(
    database: Database,
) -> None:
    """Two workers on one date: the one that runs out of work reports only a whole run."""
    await database.run(_add_users, "ann", "bob")
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
