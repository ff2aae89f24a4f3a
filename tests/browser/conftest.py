"""The browser half: the real service on a real socket, driven by Debian's Chromium.

One Chromium for the whole package (Playwright, headless, no browser download); per module
one emulator, one database and one API server (uvicorn in a thread), people signed up
through the service's own OAuth pages and snapshots taken by the snapshot service. The
database is PostgreSQL when a server answers (or REQUIRE_POSTGRES=1 demands one), else
SQLite. Without Chromium the half is skipped, unless REQUIRE_BROWSER=1 (CI) makes that a
failure; tests/conftest.py prints whether it ran.

Playwright's sync API keeps an event loop running in this thread, so asynchronous service
code (snapshots) runs in a thread of its own (`in_thread`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import os
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import pytest
from playwright.sync_api import Browser, Page, Response, ViewportSize, expect, sync_playwright
from starlette.datastructures import Secret

import demo
from application import open_database
from db.database import Database
from db.migrations import migrate
from db.token_cipher import generate_key
from db.users import list_users
from jobs.history_import import import_history
from settings import Settings
from spotify_emulator import EmulatorServer, World, generate_history, write_features_csv
from spotify_emulator.model import EmulatedUser as Listener
from tests.conftest import (
    CHROMIUM,
    POSTGRES_ADMIN_URL,
    SETTING_NAMES,
    postgres_required,
    throwaway_postgres,
)
from tests.e2e.conftest import DAY, ApiServer, configure, take_snapshots

# Two nights, so a date picker has something to pick.
NIGHTS = (DAY - dt.timedelta(days=1), DAY)
TIMEOUT_MS = 20_000  # a bound on any one browser step, never a measure of speed
HISTORY_YEARS = 2
API_KEY = "browser-half-instance-key"
ADMIN_TOKEN = "browser-half-admin-token"
T = TypeVar("T")


def browser_required() -> bool:
    """Whether a missing Chromium fails the run (REQUIRE_BROWSER=1, as in CI)."""
    return os.environ.get("REQUIRE_BROWSER", "") not in ("", "0")


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run service code that starts an event loop beside Playwright's (see the module doc)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium from /usr/bin/chromium, one for every browser test."""
    if not CHROMIUM.exists():
        reason = f"Browser half skipped: no Chromium at {CHROMIUM}"
        if browser_required():
            pytest.fail(reason.replace("skipped", "required (REQUIRE_BROWSER=1)"))
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: BROWSER_SCREENSHOTS (CI: test-artifacts/browser), else a tmp dir."""
    chosen = os.environ.get("BROWSER_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("browser-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Tab:
    """A page in a context of its own (own cookies), recording script errors as they happen."""

    def __init__(
        self,
        browser: Browser,
        screenshots: Path,
        *,
        phone: bool = False,
        javascript: bool = True,
    ) -> None:
        size = (
            ViewportSize(width=390, height=844) if phone else ViewportSize(width=1280, height=900)
        )
        self.context = browser.new_context(
            viewport=size, is_mobile=phone, has_touch=phone, java_script_enabled=javascript
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        self.folder = screenshots

    def _console(self, message: Any) -> None:
        # A failed load is judged by `_response`, which knows what was loaded.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text} at {message.location.get('url')}")

    def _response(self, response: Response) -> None:
        # A page may answer 403 or 404 on purpose; what it loads (scripts, styles) may not.
        # Chromium asks every site for a favicon on its own; a missing one breaks no page.
        request = response.request
        loaded = request.resource_type != "document" and not request.url.endswith("/favicon.ico")
        if loaded and response.status >= 400:
            self.errors.append(f"{response.status} for {request.resource_type} {request.url}")

    def screenshot(self, name: str) -> Path:
        """Save the whole page as NAME.png in the screenshot folder."""
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


# Per plotly container: whether plotly drew it, and what its SVG holds. A chart counts as
# drawn when its SVG has an area and at least one trace carries a visible mark; `clipped`
# lists the labels that reach past the container's edges (cut off on screen).
_DRAWN = """plot => {
  const svg = plot.querySelector("svg.main-svg");
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const marks = [...plot.querySelectorAll(".trace path, .trace rect, .hm image, .trace image")]
    .filter(mark => {
      const b = mark.getBoundingClientRect();
      return b.width > 0 && b.height > 0;
    });
  const edge = plot.getBoundingClientRect();
  const clipped = [...plot.querySelectorAll("svg.main-svg text")]
    .filter(text => {
      const b = text.getBoundingClientRect();
      if (!text.textContent.trim() || b.width === 0) return false;
      return b.left < edge.left - 1 || b.right > edge.right + 1
        || b.top < edge.top - 1 || b.bottom > edge.bottom + 1;
    })
    .map(text => text.textContent);
  return {
    id: plot.getAttribute("data-figure"),
    drawn: plot.classList.contains("drawn"),
    traces: (plot._fullData || []).length,
    width: box.width,
    height: box.height,
    marks: marks.length,
    clipped: clipped,
  };
}"""


def charts_drawn(tab: Tab, name: str) -> list[dict[str, object]]:
    """Every chart of the page, once plotly has drawn them all; fails on an empty one.

    Saves the page as NAME.png and each chart with its table as NAME-ID.png.
    """
    page = tab.page
    plots = page.locator(".plot[data-figure]")
    expect(page.locator(".plot[data-figure]:not(.drawn)")).to_have_count(0)
    found = [plots.nth(i).evaluate(_DRAWN) for i in range(plots.count())]
    tab.screenshot(name)
    for i, chart in enumerate(found):
        figure = plots.nth(i).locator("xpath=ancestor::figure[1]")
        figure.screenshot(path=str(tab.folder / f"{name}-{chart['id']}.png"))
    empty = [chart for chart in found if not (chart["traces"] and chart["marks"])]
    flat = [chart for chart in found if not (chart["width"] and chart["height"])]
    assert not empty, f"charts with nothing drawn: {empty}"
    assert not flat, f"charts without an area: {flat}"
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so a tab can tell whether its test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _close(tabs: list[Tab], request: pytest.FixtureRequest) -> None:
    """Close the tabs, after a screenshot of each if the test failed (what it last saw)."""
    report = getattr(request.node, "report_call", None)
    for number, each in enumerate(tabs):
        if report is not None and report.failed and not each.page.is_closed():
            each.screenshot(f"FAILED-{request.node.name}-{number}")
        each.context.close()
    errors = [error for each in tabs for error in each.errors]
    assert not errors, "script errors on the pages: " + "; ".join(errors)


@pytest.fixture
def tab(browser: Browser, screenshots: Path, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """A fresh tab (nobody signed in); a script error on any page it opened fails the test."""
    opened = Tab(browser, screenshots)
    yield opened
    _close([opened], request)


@pytest.fixture
def open_tab(
    browser: Browser, screenshots: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Tab]]:
    """Factory of more tabs (`phone=True`, `javascript=False`), with the checks of `tab`."""
    opened: list[Tab] = []

    def start(**kind: bool) -> Tab:
        opened.append(Tab(browser, screenshots, **kind))
        return opened[-1]

    yield start
    _close(opened, request)


# -- the service -------------------------------------------------------------------------


@dataclasses.dataclass
class Service:
    """The service on a socket, the emulator behind it and the one database both halves use."""

    world: World
    emulator: EmulatorServer
    settings: Settings
    database: Database
    api: ApiServer

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def usernames(self) -> set[str]:
        """Who is registered."""
        return {user["username"] for user in self.database.run_sync(list_users)}


def _postgres_answers() -> bool:
    try:
        psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


@contextlib.contextmanager
def _one_database(folder: Path) -> Iterator[str]:
    if postgres_required() or _postgres_answers():
        with throwaway_postgres("insight_browser") as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'insight.db'}"


def _free_port() -> int:
    # The redirect URI names the port, so it must be known before the app is built.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fresh_settings(database_url: str) -> Settings:
    """Settings as a fresh install has them (whatever this shell exports), on `database_url`."""
    with pytest.MonkeyPatch.context() as env:
        for name in SETTING_NAMES:
            env.delenv(name, raising=False)
        env.setenv("DATABASE_URL", database_url)
        return Settings.from_environment(env_file=None)


def _settings(database_url: str, emulator: EmulatorServer, port: int, csv: Path) -> Settings:
    return configure(
        _fresh_settings(database_url),
        emulator,
        emulator.world,
        generate_key(),
        spotify_redirect_uri=f"http://127.0.0.1:{port}/auth/callback",
        audio_features_sources=("spotify", "reccobeats", "csv"),
        audio_features_csv=csv,
        # With a key configured the JSON API is closed: only a session opens one's own data.
        api_keys=(Secret(API_KEY),),
        admin_token=Secret(ADMIN_TOKEN),
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The demo's world behind the real service, its consent page asking who signs in."""
    folder = tmp_path_factory.mktemp("service")
    world = World.generate(seed=demo.WORLD_SEED)
    write_features_csv(world, folder / "tracks.csv")
    with _one_database(folder) as url, EmulatorServer(world) as emulator:
        emulator.pick_user = True
        port = _free_port()
        settings = _settings(url, emulator, port, folder / "tracks.csv")
        database = open_database(settings, for_migration=True)
        database.run_sync(migrate, database.peewee)
        try:
            with ApiServer(settings, port=port) as api:
                yield Service(world, emulator, settings, database, api)
        finally:
            database.close()


@dataclasses.dataclass
class Demo:
    """What `application.py demo` serves, and the usernames it registered (the first public)."""

    service: Service
    usernames: list[str]


@pytest.fixture(scope="module")
def demo_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo as a newcomer meets it: its emulator (clock a week back, then today, tastes
    drifting), its settings and its data (`demo.load`), on this half's one database."""
    folder = tmp_path_factory.mktemp("demo")
    clock = demo.DemoClock(behind=demo.EARLIER_DAYS * 86_400)
    world = demo.demo_world(clock)
    write_features_csv(world, folder / "tracks.csv")
    with (
        _one_database(folder) as url,
        EmulatorServer(world, clock=clock, drift=True) as emulator,
    ):
        emulator.pick_user = True
        port = _free_port()
        settings = demo.demo_settings(_fresh_settings(url), emulator, folder, port)
        settings = dataclasses.replace(settings, database_url=url)
        usernames = in_thread(demo.load, settings, world, folder, clock, _ignore, _ignore, _ignore)
        database = open_database(settings)
        try:
            with ApiServer(settings, port=port) as api:
                yield Demo(Service(world, emulator, settings, database, api), usernames)
        finally:
            database.close()


def _ignore(*_: object) -> None:
    """The demo's progress lines, which a test has no one to show to."""


# -- people ------------------------------------------------------------------------------


def sign_in(tab: Tab, service: Service, listener: Listener) -> None:
    """Sign in as `listener` the way a person does: the home page's button, the login page,
    the emulator's picker, and back."""
    page = tab.page
    page.goto(f"{service.base_url}/")
    page.get_by_role("link", name="Sign in with Spotify").first.click()
    page.get_by_role("button", name=re.compile("Spotify")).click()
    page.wait_for_url(f"{service.emulator.accounts_url}/authorize?*")
    page.locator("a.user", has_text=f"({listener.id})").click()
    page.wait_for_url(f"{service.base_url}/**")


def sign_up(tab: Tab, service: Service, listener: Listener) -> str:
    """Sign `listener` up through the browser; answers the username the service gave them."""
    before = service.usernames()
    sign_in(tab, service, listener)
    [username] = service.usernames() - before
    return username


@dataclasses.dataclass(frozen=True)
class Member:
    """A signed-up person: the emulated listener and their username here."""

    listener: Listener
    username: str


@pytest.fixture(scope="module")
def members(
    service: Service,
    browser: Browser,
    screenshots: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> list[Member]:
    """The world's first two listeners, signed up in the browser, each with two nights of
    snapshots; the first also imported two years of extended streaming history (a recap)."""
    joined = []
    for listener in service.world.users[:2]:
        tab = Tab(browser, screenshots)
        try:
            joined.append(Member(listener, sign_up(tab, service, listener)))
        finally:
            tab.context.close()
    first = joined[0]
    export = generate_history(service.world, first.listener.id, years=HISTORY_YEARS)
    path = export.write_zip(tmp_path_factory.mktemp("export") / "my_spotify_data.zip")
    import_history(service.database, first.username, [path], show_progress=False)
    names = [member.username for member in joined]
    for night in NIGHTS:
        summary = in_thread(asyncio.run, take_snapshots(service.settings, names, night))
        assert sorted(summary.ok) == sorted(names), summary
    return joined
