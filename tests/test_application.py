"""The composition root: what `serve` starts."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from starlette.datastructures import Secret

from application import build_app
from db.database import Database
from db.token_cipher import generate_key
from jobs.history_schedule import USERS_JOB_ID
from settings import Settings


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
