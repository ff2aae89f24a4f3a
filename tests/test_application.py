"""The composition root: what `serve` starts."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.datastructures import Secret

from application import build_app
from db.claims import ClaimedJob, JobOutcome
from db.database import Database
from db.models import SnapshotJob
from db.token_cipher import generate_key
from jobs.history_schedule import USERS_JOB_ID
from jobs.scheduler import JOB_ID
from settings import Settings
from tests.conftest import SETTING_NAMES
from tests.queue_helpers import add_users

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "scheduler", [pytest.param(True, id="serve"), pytest.param(False, id="no-scheduler")]
)
async def test_serve_runs_the_nightly_schedule_unless_told_not_to(
    database: Database, settings: Settings, scheduler: bool
) -> None:
    configured = dataclasses.replace(
        settings, snapshot_cron="30 2 * * *", snapshot_timezone="Europe/Paris"
    )
    app = build_app(configured, scheduler=scheduler)
    async with app.router.lifespan_context(app) as state:
        assert state is not None
        nightly = state["scheduler"]
        if not scheduler:
            assert nightly is None
            return
        assert nightly.running
        job = nightly.get_job("nightly-snapshot")
        trigger = {field.name: str(field) for field in job.trigger.fields}
        assert (trigger["hour"], trigger["minute"]) == ("2", "30")
        assert str(job.trigger.timezone) == "Europe/Paris"
        assert job.coalesce is True
        assert job.next_run_time.hour == 2
    await asyncio.sleep(0)  # AsyncIOScheduler.shutdown runs on the loop's next turn
    assert not nightly.running


@pytest.mark.parametrize(
    ("interval", "key", "polled"),
    [
        pytest.param(30.0, True, True, id="on"),
        pytest.param(0.0, True, False, id="off"),
        pytest.param(30.0, False, False, id="no-key"),
    ],
)
async def test_serve_polls_history_in_the_same_scheduler(
    database: Database, settings: Settings, interval: float, key: bool, polled: bool
) -> None:
    keys = (Secret(generate_key()),) if key else ()
    configured = dataclasses.replace(
        settings, history_interval=interval, token_encryption_keys=keys
    )
    app = build_app(configured, scheduler=True)
    async with app.router.lifespan_context(app) as state:
        assert state is not None
        jobs = {job.id for job in state["scheduler"].get_jobs()}
    await asyncio.sleep(0)
    expected = {"nightly-snapshot"} | ({USERS_JOB_ID} if polled else set())
    assert jobs == expected


class _SlowPipeline:
    """Stands for a snapshot that takes a while: the night is still running at shutdown."""

    started: asyncio.Event

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    async def __call__(self, job: ClaimedJob) -> JobOutcome:
        _SlowPipeline.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def _claims() -> list[tuple[str, str | None, object]]:
    return [(job.status, job.worker, job.lease_until) for job in SnapshotJob.select()]


async def test_a_graceful_shutdown_gives_back_the_jobs_the_nightly_run_held(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease is for crashes: after `serve` stops cleanly the next run starts at once."""
    monkeypatch.setattr("application.SnapshotPipeline", _SlowPipeline)
    _SlowPipeline.started = asyncio.Event()
    database.run_sync(add_users, "ann", "bob")
    configured = dataclasses.replace(
        settings, token_encryption_keys=(Secret(generate_key()),), snapshot_workers=2
    )
    app = build_app(configured, scheduler=True)
    async with app.router.lifespan_context(app) as state:
        assert state is not None
        state["scheduler"].modify_job(JOB_ID, next_run_time=dt.datetime.now(dt.UTC))
        await asyncio.wait_for(_SlowPipeline.started.wait(), 10)
        assert "running" in {status for status, _, _ in database.run_sync(_claims)}
    # Nothing is left to run after the lifespan: the claims must be given back by now.
    assert database.run_sync(_claims) == [("queued", None, None), ("queued", None, None)]


def test_a_serving_process_loads_no_numpy_until_a_snapshot_computes(tmp_path: Path) -> None:
    """numpy was ~20 MB of a fresh `serve` (issue #10: memory per serving process); it is for
    snapshots and the offline evaluation, so it loads when one of them first computes."""
    probe = (
        "import sys, cli, serving; from application import build_app; "
        "from settings import Settings; "
        "build_app(Settings.from_environment(env_file=None), scheduler=True); "
        "print(sorted(m for m in ('numpy', 'sklearn', 'scipy') if m in sys.modules))"
    )
    env = {name: value for name, value in os.environ.items() if name not in SETTING_NAMES}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'never-opened.db'}"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
