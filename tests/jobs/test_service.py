"""Snapshot runs through jobs.service: refused before they start, failed runs closed."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

from db import claims
from db.database import Database
from db.models import SnapshotJob, SnapshotRun
from jobs import drain
from jobs.service import (
    ClaimedJob,
    Handler,
    JobOutcome,
    RunCannotStart,
    SnapshotDateRefused,
    SnapshotService,
    check_snapshot_date,
)
from tests.queue_helpers import DAY, add_users, jobs_by_user

WAIT = 10.0  # upper bound for awaited events; never reached when things work


def _cannot_start() -> Handler:
    raise RunCannotStart("TOKEN_ENCRYPTION_KEY is not set: stored tokens cannot be read")


def _runs_and_jobs() -> tuple[int, int]:
    return SnapshotRun.select().count(), SnapshotJob.select().count()


async def test_a_run_that_cannot_start_queues_nothing(database: Database) -> None:
    await database.run(add_users, "ann")
    service = SnapshotService(database, _cannot_start)
    with pytest.raises(RunCannotStart, match="TOKEN_ENCRYPTION_KEY"):
        await service.start_run(DAY, None, False)
    with pytest.raises(RunCannotStart, match="TOKEN_ENCRYPTION_KEY"):
        await service.run(DAY)
    assert await database.run(_runs_and_jobs) == (0, 0)


async def test_a_nightly_run_that_cannot_start_is_logged(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await database.run(add_users, "ann")
    with caplog.at_level(logging.ERROR, logger="jobs.service"):
        await SnapshotService(database, _cannot_start).nightly()
    assert "TOKEN_ENCRYPTION_KEY is not set" in caplog.text
    assert await database.run(_runs_and_jobs) == (0, 0)


def _claims_break_after(calls: int) -> Any:
    """claim_next_job that works `calls` times, then fails as a lost database would."""
    count = 0

    def claim(*args: Any, **kwargs: Any) -> ClaimedJob | None:
        nonlocal count
        count += 1
        if count > calls:
            raise RuntimeError("the claim broke")
        return claims.claim_next_job(*args, **kwargs)

    return claim


async def _until_finished(service: SnapshotService, run_id: str) -> dict[str, Any]:
    while (progress := await service.progress(run_id)) is None or progress["finished_at"] is None:
        await asyncio.sleep(0.02)
    return progress


async def test_a_background_run_that_fails_is_logged_and_marked_failed(
    database: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await database.run(add_users, "ann", "bob", "cid")
    monkeypatch.setattr(drain, "claim_next_job", _claims_break_after(1))

    async def handler(job: ClaimedJob) -> JobOutcome:
        await asyncio.sleep(WAIT)  # cancelled when the other worker's claim fails
        return JobOutcome("done")

    service = SnapshotService(database, lambda: handler, concurrency=2)
    with caplog.at_level(logging.ERROR, logger="jobs.service"):
        run_id = await service.start_run(DAY, None, False)
        progress = await asyncio.wait_for(_until_finished(service, run_id), WAIT)
    await service.close()
    assert progress["status"] == "finished"
    assert progress["counts"] == {"failed": 3}
    for job in progress["jobs"]:
        assert job["error"].startswith("the snapshot run failed: RuntimeError: the claim broke")
    assert f"snapshot run {run_id} failed: RuntimeError: the claim broke" in caplog.text
    statuses = {status for status, _, _ in (await database.run(jobs_by_user)).values()}
    assert statuses == {"failed"}


async def _never(job: ClaimedJob) -> JobOutcome:
    raise AssertionError("no job may run")


@pytest.mark.parametrize("days_ahead", [2, 365, 3_000_000])
async def test_a_snapshot_date_after_tomorrow_is_refused_and_queues_nothing(
    database: Database, days_ahead: int
) -> None:
    await database.run(add_users, "ann")
    service = SnapshotService(database, lambda: _never)
    ahead = dt.date.max - service.today()
    far = service.today() + min(dt.timedelta(days=days_ahead), ahead)
    with pytest.raises(SnapshotDateRefused, match="after tomorrow"):
        await service.run(far)
    with pytest.raises(SnapshotDateRefused, match="after tomorrow"):
        await service.start_run(far, None, False)
    assert await database.run(_runs_and_jobs) == (0, 0)


def test_tomorrow_is_the_last_date_a_snapshot_may_have() -> None:
    today = dt.date(2026, 11, 30)
    assert check_snapshot_date(dt.date(2026, 12, 1), today) == dt.date(2026, 12, 1)
    assert check_snapshot_date(dt.date(2020, 1, 1), today) == dt.date(2020, 1, 1)
    with pytest.raises(SnapshotDateRefused, match="2026-12-02 is after tomorrow"):
        check_snapshot_date(dt.date(2026, 12, 2), today)
