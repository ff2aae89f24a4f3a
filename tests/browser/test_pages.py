"""The pages in a real browser: each one opened, every chart drawn, the date picker used,
one person's pages closed to another until made public, a phone's width and a browser without
JavaScript."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import NIGHTS, Member, Service, Tab, charts_drawn, sign_in
from tests.e2e.conftest import REPO_ROOT, worker_env


@pytest.fixture(scope="module")
def first(
    browser: Browser, service: Service, members: list[Member], screenshots: Path
) -> Iterator[Tab]:
    """The first member, signed in once for the module's page tours."""
    tab = Tab(browser, screenshots)
    sign_in(tab, service, members[0].listener)
    yield tab
    tab.context.close()


@pytest.fixture
def fresh(first: Tab) -> Iterator[Tab]:
    """`first`, with a script error on any page opened in this test failing it."""
    first.errors.clear()
    yield first
    assert not first.errors, "script errors on the pages: " + "; ".join(first.errors)


def test_home_leads_a_signed_in_person_to_their_own_page(
    fresh: Tab, service: Service, members: list[Member]
) -> None:
    me = members[0]
    fresh.page.goto(f"{service.base_url}/")
    fresh.screenshot("home-signed-in")
    fresh.page.get_by_role("link", name="Your page").click()
    expect(fresh.page).to_have_url(f"{service.base_url}/u/{me.username}")
    expect(fresh.page.locator("h1")).to_have_text(me.username)


def test_the_user_page_draws_every_chart(
    fresh: Tab, service: Service, members: list[Member]
) -> None:
    fresh.page.goto(f"{service.base_url}/u/{members[0].username}")
    drawn = charts_drawn(fresh, "user-page")
    assert len(drawn) >= 3, drawn
    expect(fresh.page.locator("#snapshot-date")).to_have_text(str(NIGHTS[-1]))


def test_the_date_picker_shows_the_earlier_snapshot(
    fresh: Tab, service: Service, members: list[Member]
) -> None:
    me = members[0]
    earlier = str(NIGHTS[0])
    fresh.page.goto(f"{service.base_url}/u/{me.username}")
    fresh.page.locator("form.date-picker select").select_option(earlier)
    fresh.page.locator("form.date-picker").get_by_role("button").click()
    expect(fresh.page).to_have_url(re.compile(rf"/u/{re.escape(me.username)}\?date={earlier}$"))
    expect(fresh.page.locator("#snapshot-date")).to_have_text(earlier)
    charts_drawn(fresh, "user-page-earlier")


def test_the_recap_draws_every_chart(fresh: Tab, service: Service, members: list[Member]) -> None:
    me = members[0]
    fresh.page.goto(f"{service.base_url}/u/{me.username}")
    fresh.page.get_by_role("link", name=re.compile(r"^Recap \d{4}$")).first.click()
    expect(fresh.page).to_have_url(re.compile(rf"/u/{re.escape(me.username)}/recap/\d{{4}}$"))
    drawn = charts_drawn(fresh, "recap")
    assert drawn


def test_an_artist_page_draws_the_radar_against_the_clusters(
    fresh: Tab, service: Service, members: list[Member]
) -> None:
    fresh.page.goto(f"{service.base_url}/u/{members[0].username}")
    fresh.page.locator("a[href^='/artists/']:visible").first.click()
    expect(fresh.page).to_have_url(re.compile(r"/artists/[^/?]+\?username="))
    drawn = charts_drawn(fresh, "artist")
    assert drawn


def _set_public(service: Service, username: str, public: bool) -> None:
    flag = "--public" if public else "--private"
    done = subprocess.run(
        [sys.executable, "application.py", "users", "set", username, flag],
        cwd=REPO_ROOT,
        env=worker_env(service.settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _open(tab: Tab, service: Service, path: str) -> int:
    answer = tab.page.goto(f"{service.base_url}{path}")
    assert answer is not None
    return answer.status


def _kind(path: str) -> str:
    return "recap" if "/recap/" in path else "artist" if path.startswith("/artists/") else "page"


def _owners_pages(owner: Member) -> list[str]:
    favourite = owner.listener.top_artists["short_term"][0]
    return [
        f"/u/{owner.username}",
        f"/u/{owner.username}/recap/{NIGHTS[-1].year - 1}",
        f"/artists/{favourite}?username={owner.username}",
    ]


def test_a_second_person_cannot_open_the_first_ones_pages(
    tab: Tab, service: Service, members: list[Member]
) -> None:
    owner, other = members
    world = service.world
    favourite = world.artists[owner.listener.top_artists["short_term"][0]].name
    sign_in(tab, service, other.listener)
    for path in _owners_pages(owner):
        assert _open(tab, service, path) == 404, path
        expect(tab.page.locator("main")).not_to_contain_text(favourite)
        expect(tab.page.locator(".plot")).to_have_count(0)
    tab.screenshot("closed-to-another")
    assert _open(tab, service, f"/u/{other.username}") == 200  # while their own page opens


def test_a_page_made_public_opens_to_everyone_until_made_private(
    open_tab: Callable[..., Tab], service: Service, members: list[Member]
) -> None:
    owner, other = members
    stranger, someone = open_tab(), open_tab()
    sign_in(someone, service, other.listener)
    _set_public(service, owner.username, True)
    try:
        for viewer, name in ((stranger, "public-to-a-stranger"), (someone, "public-to-another")):
            for path in _owners_pages(owner):
                assert _open(viewer, service, path) == 200, path
                charts_drawn(viewer, f"{name}-{_kind(path)}")
    finally:
        _set_public(service, owner.username, False)
    assert _open(stranger, service, _owners_pages(owner)[0]) == 401
    assert _open(someone, service, _owners_pages(owner)[0]) == 404


def test_a_stranger_is_asked_to_sign_in(tab: Tab, service: Service, members: list[Member]) -> None:
    answer = tab.page.goto(f"{service.base_url}/u/{members[0].username}")
    assert answer is not None
    assert answer.status == 401
    tab.screenshot("stranger")
    tab.page.get_by_role("link", name="Sign in with Spotify").first.click()
    expect(tab.page).to_have_url(re.compile(r"/auth/login"))


def test_the_user_page_fits_a_phone(
    open_tab: Callable[..., Tab], service: Service, members: list[Member]
) -> None:
    phone = open_tab(phone=True)
    sign_in(phone, service, members[0].listener)
    phone.page.goto(f"{service.base_url}/u/{members[0].username}")
    drawn = charts_drawn(phone, "phone-user-page")
    screen = phone.page.viewport_size
    assert screen is not None
    # Nothing wider than the screen: wide tables scroll inside their own box.
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= screen["width"]
    assert all(float(str(chart["width"])) <= screen["width"] for chart in drawn), drawn


def test_without_javascript_every_chart_still_has_its_table(
    open_tab: Callable[..., Tab], service: Service, members: list[Member]
) -> None:
    plain = open_tab(javascript=False)
    sign_in(plain, service, members[0].listener)
    plain.page.goto(f"{service.base_url}/u/{members[0].username}")
    plain.screenshot("no-javascript-user-page")
    figures = plain.page.locator("figure.chart")
    assert figures.count() >= 3
    for i in range(figures.count()):
        table = figures.nth(i).locator("table")
        expect(table.locator("caption")).not_to_be_empty()
        assert table.locator("tbody tr").count() > 0, figures.nth(i).get_attribute(
            "aria-labelledby"
        )
    assert plain.page.locator("svg.main-svg").count() == 0  # truly without scripts


@pytest.mark.parametrize(
    "phone", [pytest.param(False, id="desktop"), pytest.param(True, id="phone")]
)
def test_no_chart_cuts_off_its_labels(
    open_tab: Callable[..., Tab], service: Service, members: list[Member], phone: bool
) -> None:
    viewer = open_tab(phone=phone)
    sign_in(viewer, service, members[0].listener)
    viewer.page.goto(f"{service.base_url}/u/{members[0].username}")
    drawn = charts_drawn(viewer, f"labels-{'phone' if phone else 'desktop'}")
    clipped = {str(chart["id"]): chart["clipped"] for chart in drawn if chart["clipped"]}
    assert not clipped, f"labels cut off, by chart: {clipped}"
