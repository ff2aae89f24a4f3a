"""`python application.py demo`: the whole service offline against the emulator."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

import demo
from application import open_database
from cli import main
from db.evaluation_data import stored_tracks, user_events
from jobs.clustering import CLUSTER_FEATURES
from jobs.recommend.corpus import database_corpus
from jobs.recommend.csv_pool import read_csv_catalogue
from jobs.recommend.evaluation import UserCase, user_cases
from jobs.service import RunSummary
from settings import Settings
from tests.conftest import with_lifespan_state

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the demo ignores the configured database for an embedded one of its own."""
    return f"sqlite:///{tmp_path / 'ignored.db'}"


async def _ask(app: Starlette, paths: list[str]) -> list[httpx.Response]:
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=with_lifespan_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return [await client.get(path) for path in paths]


def _one_click(settings: Settings, display_name: str) -> tuple[httpx.Response, httpx.Response]:
    """The emulator's consent page as the demo's login reaches it, and a click on one listener."""
    query = {
        "client_id": settings.spotify_client_id,
        "response_type": "code",
        "redirect_uri": settings.spotify_redirect_uri,
        "state": "from-the-login",
    }
    picker = httpx.get(f"{settings.spotify_accounts_url}/authorize", params=query)
    found = re.search(rf'<a class="user" href="([^"]+)">{display_name} ', picker.text)
    assert found, picker.text
    return picker, httpx.get(urljoin(str(picker.url), html.unescape(found[1])))


def _evaluation_cases(settings: Settings) -> dict[str, UserCase]:
    """Each user `application.py evaluate` would score on this database, at its default cut."""
    database = open_database(settings)
    try:
        events = database.run_sync(user_events, ())
        stored = database.run_sync(stored_tracks, CLUSTER_FEATURES)
    finally:
        database.close()
    assert settings.audio_features_csv is not None
    corpus = database_corpus(stored, events, read_csv_catalogue(settings.audio_features_csv))
    return {case.history.user: case for case in user_cases(corpus, None)}


def test_the_demo_snapshots_the_emulated_users_and_serves_them(
    settings: Settings,
    tmp_path: Path,
    free_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summaries: list[RunSummary] = []
    answers: list[httpx.Response] = []
    clicks: list[tuple[httpx.Response, httpx.Response]] = []
    served: list[Settings] = []
    world = demo.demo_world(demo.DemoClock(behind=demo.EARLIER_DAYS * 86_400))
    importer = world.users[0].display_name.lower()
    # The month before the first snapshot's recent plays begin: only the export covers it.
    first_snapshot = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=demo.EARLIER_DAYS)
    before_snapshots = first_snapshot - dt.timedelta(days=2)
    month_before = before_snapshots - dt.timedelta(days=29)

    def serve(app: Starlette, **kwargs: Any) -> None:
        # Instead of listening: ask the app what a user would ask, then "Ctrl-C".
        assert kwargs["port"] == free_port
        first = sorted(summaries[0].ok)[0]
        paths = [f"/users/{first}/snapshots", f"/user-recommendations/{first}", "/auth/login"]
        paths += demo.stats_paths(importer, world.now.date())
        paths += [f"/users/{first}/changes"]
        paths += [f"/users/{importer}/stats?from={month_before}&to={before_snapshots}"]
        paths += [f"/u/{importer}", f"/u/{sorted(summaries[0].ok)[-1]}"]
        answers.extend(asyncio.run(_ask(app, paths)))
        served.append(app.state.settings)
        clicks.append(_one_click(app.state.settings, world.users[1].display_name))

    monkeypatch.setattr(uvicorn, "run", serve)
    options = demo.DemoOptions("127.0.0.1", free_port, "development", tmp_path)
    demo.run(settings, options, lambda job, outcome: None, summaries.append)

    assert len(summaries) == 2  # a week ago, then today
    # All but the emulator's last user, who is left to sign up through /auth/login.
    emulated = sorted(user.display_name.lower() for user in world.users[:-1])
    for summary in summaries:
        assert summary.succeeded
        assert not summary.failed
        assert sorted(summary.ok) == emulated
    assert (tmp_path / "demo.db").exists()
    assert (tmp_path / "tracks.csv").exists()
    snapshots, recommendations, login, stats, recap, changes, gap, page, closed = answers
    # The first listener's page is public, with its charts; another's asks to sign in.
    assert page.status_code == 200, page.text
    for chart in ("clusters", "sources", "taste-shift", "heatmap", "days", "taste"):
        assert f'id="{chart}-figure"' in page.text, chart
    assert closed.status_code == 401
    # A newcomer sees statistics at once: the first user's export was imported.
    assert stats.status_code == 200
    assert stats.json()["music"]["plays"] > 100
    assert stats.json()["top"]["artists"]["by_plays"]
    assert recap.json()["minutes"]["music"] > 1000
    # The imported history runs up to the snapshots: no months without a play between them.
    assert gap.json()["music"]["plays"] > 100, gap.text
    assert snapshots.status_code == 200, snapshots.text
    earlier, today = sorted(dt.date.fromisoformat(s["date"]) for s in snapshots.json()["snapshots"])
    assert today - earlier == dt.timedelta(days=demo.EARLIER_DAYS)
    # The emulated tastes drifted over the week, and the two snapshots say how.
    assert changes.status_code == 200, changes.text
    assert (changes.json()["from"], changes.json()["to"]) == (str(earlier), str(today))
    short_term = changes.json()["lists"]["artists"]["short_term"]
    assert short_term["new"]
    assert short_term["dropped"]
    assert short_term["risers"]
    assert short_term["fallers"]
    assert recommendations.status_code == 200
    assert recommendations.json()["recommendations"]
    assert login.status_code == 200  # onboarding is configured against the emulator
    # Every listener imported an export, so `evaluate` scores each of them: plays and saves
    # from two years before the cut, and more tracks after it than a week of snapshots hides.
    cases = _evaluation_cases(served[0])
    assert sorted(cases) == emulated
    a_year_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=365)
    for username, case in cases.items():
        assert min(at for _, at in case.history.events) < a_year_ago, username
        assert len(case.before) > 1000, username
        assert len(case.hidden) >= 20, username
    printed = capsys.readouterr().out
    assert f"http://127.0.0.1:{free_port}/user-recommendations/" in printed
    assert f"http://127.0.0.1:{free_port}/u/{importer} " in printed
    # Signing in is one click: the emulator's consent page asks which listener you are.
    [(picker, click)] = clicks
    assert picker.status_code == 200
    assert all(f"{user.display_name} <small>" in picker.text for user in world.users)
    assert click.status_code == 302
    back = urlsplit(click.headers["location"])
    assert (
        f"{back.scheme}://{back.netloc}{back.path}" == f"http://127.0.0.1:{free_port}/auth/callback"
    )
    assert parse_qs(back.query)["state"] == ["from-the-login"]
    assert parse_qs(back.query)["code"]


def test_a_port_in_use_is_one_line_before_anything_starts(
    settings: Settings, free_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port))
        taken.listen()
        status = main(["demo", "--port", str(free_port)])
    assert status == 2
    assert capsys.readouterr().err == (
        f"error: 127.0.0.1:{free_port} is in use; choose another with --port\n"
    )


@pytest.mark.parametrize("module", ["application", "cli"])
def test_serving_never_loads_the_emulator_or_scikit_learn(module: str) -> None:
    probe = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('spotify_emulator', 'sklearn') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
