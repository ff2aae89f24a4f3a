"""The demo as a newcomer meets it (issue 13's 'done when'): the URL it prints shows the first
listener's page with its charts, and each other listener signs in with one click to see their
own pages while the rest stay closed."""

from __future__ import annotations

from playwright.sync_api import expect

from spotify_emulator.model import EmulatedUser
from tests.browser.conftest import Demo, Tab, charts_drawn, sign_in


def _listener(demo: Demo, username: str) -> EmulatedUser:
    return next(u for u in demo.service.world.users if u.display_name.lower() == username)


def _status(tab: Tab, url: str) -> int:
    answer = tab.page.goto(url)
    assert answer is not None
    return answer.status


def test_the_printed_url_shows_every_section_to_a_newcomer(tab: Tab, demo_service: Demo) -> None:
    page, base = tab.page, demo_service.service.base_url
    first = demo_service.usernames[0]
    assert _status(tab, f"{base}/u/{first}") == 200  # public: no sign-in needed
    charts_drawn(tab, "demo-first-page")
    for section in ("#clusters", "#listening", "#taste"):
        expect(page.locator(f"{section} .plot.drawn").first).to_be_visible()
    expect(page.locator("#recommendations ol.picks > li").first).to_be_visible()
    # The demo's week of drift: the changes name items that moved, not only dashes.
    moved = page.locator("#changes table.changes td").evaluate_all(
        "cells => cells.filter(cell => cell.textContent.trim() !== '—').length"
    )
    assert moved > 0
    page.get_by_role("link", name=f"Recap {demo_service.service.world.now.year - 1}").click()
    expect(page).to_have_url(f"{base}/u/{first}/recap/{demo_service.service.world.now.year - 1}")
    assert charts_drawn(tab, "demo-first-recap")


def test_another_listener_signs_in_with_one_click_and_sees_only_their_own_pages(
    tab: Tab, demo_service: Demo
) -> None:
    service, base = demo_service.service, demo_service.service.base_url
    first, second, third = demo_service.usernames[:3]
    assert _status(tab, f"{base}/u/{second}") == 401
    registered = service.usernames()
    sign_in(tab, service, _listener(demo_service, second))
    assert service.usernames() == registered  # signed in, not signed up again
    tab.page.goto(f"{base}/")
    tab.page.get_by_role("link", name="Your page").click()
    expect(tab.page).to_have_url(f"{base}/u/{second}")
    charts_drawn(tab, "demo-second-page")
    assert _status(tab, f"{base}/u/{third}") == 404
    assert _status(tab, f"{base}/u/{first}") == 200


def test_the_listener_left_out_signs_up_with_one_click(tab: Tab, demo_service: Demo) -> None:
    service, base = demo_service.service, demo_service.service.base_url
    newcomer = service.world.users[-1]
    before = service.usernames()
    sign_in(tab, service, newcomer)
    [username] = service.usernames() - before
    tab.page.goto(f"{base}/")
    tab.page.get_by_role("link", name="Your page").click()
    expect(tab.page).to_have_url(f"{base}/u/{username}")
    expect(tab.page.locator("main")).to_contain_text("No snapshot")
    tab.screenshot("demo-newcomer-page")
