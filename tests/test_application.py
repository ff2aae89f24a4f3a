"""The composition root: what `serve` starts."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from application import build_app
from db.database import Database
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
