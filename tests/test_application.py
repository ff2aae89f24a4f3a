"""The composition root: what `serve` starts, and settings validation."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from application import Settings, SettingsError, build_app
from db.database import Database


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
    ("name", "value", "message"),
    [
        pytest.param("DB_POOL_SIZE", "zero", "DB_POOL_SIZE must be a positive number", id="pool"),
        pytest.param(
            "RECOMMENDER",
            "magic",
            "RECOMMENDER must be one of auto, spotify, local",
            id="recommender",
        ),
        pytest.param(
            "SPOTIFY_API_URL", "api.spotify.com", "SPOTIFY_API_URL must be an http", id="url"
        ),
        pytest.param(
            "AUDIO_FEATURES_SOURCES", "spotify,lastfm", "unknown source 'lastfm'", id="sources"
        ),
        pytest.param(
            "SNAPSHOT_LEASE_SECONDS", "-5", "SNAPSHOT_LEASE_SECONDS must be a positive", id="lease"
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_environment(env_file=None)
    assert "\n" not in str(raised.value)
