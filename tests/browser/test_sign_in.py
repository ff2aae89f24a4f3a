"""Signing in with Spotify in a real browser: the login page, the emulator's picker, back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from playwright.sync_api import expect

from tests.browser.conftest import (
    ADMIN_TOKEN,
    NIGHTS,
    Member,
    Service,
    Tab,
    charts_drawn,
    sign_in,
)
from web.sessions import SESSION_COOKIE


def _to_the_picker(tab: Tab, service: Service) -> None:
    tab.page.goto(f"{service.base_url}/auth/login")
    tab.screenshot("login")
    tab.page.get_by_role("button", name=re.compile("Spotify")).click()
    tab.page.wait_for_url(f"{service.emulator.accounts_url}/authorize?*")


def test_the_consent_page_offers_every_listener_and_signs_up_the_one_picked(
    tab: Tab, service: Service
) -> None:
    newcomer = service.world.users[2]
    before = service.usernames()
    _to_the_picker(tab, service)
    picker = tab.page.locator("a.user")
    expect(picker).to_have_count(len(service.world.users))
    tab.screenshot("consent-picker")
    picker.filter(has_text=f"({newcomer.id})").click()
    tab.page.wait_for_url(f"{service.base_url}/**")
    tab.screenshot("signed-up")
    [username] = service.usernames() - before
    assert username.startswith(newcomer.display_name.lower())
    expect(tab.page.locator("body")).to_contain_text(username)


def test_a_member_signing_in_again_stays_the_same_user(
    tab: Tab, service: Service, members: list[Member]
) -> None:
    member = members[1]
    before = service.usernames()
    sign_in(tab, service, member.listener)
    assert service.usernames() == before
    expect(tab.page.locator("body")).to_contain_text(member.username)


def test_each_listener_gets_their_own_account(
    tab: Tab, service: Service, members: list[Member]
) -> None:
    # Picking another listener in the same browser is another person, never the last one,
    # and the session becomes theirs.
    newcomer = service.world.users[3]
    sign_in(tab, service, members[0].listener)
    before = service.usernames()
    _to_the_picker(tab, service)
    tab.page.locator("a.user", has_text=f"({newcomer.id})").click()
    tab.page.wait_for_url(f"{service.base_url}/**")
    [username] = service.usernames() - before
    assert username not in {member.username for member in members}
    tab.page.goto(f"{service.base_url}/")
    tab.page.get_by_role("link", name="Your page").click()
    expect(tab.page).to_have_url(f"{service.base_url}/u/{username}")


def test_cancelling_on_the_consent_page_stores_nobody(tab: Tab, service: Service) -> None:
    before = service.usernames()
    _to_the_picker(tab, service)
    tab.page.get_by_role("link", name="Cancel").click()
    tab.page.wait_for_url(f"{service.base_url}/**")
    tab.screenshot("consent-cancelled")
    expect(tab.page.locator("h1")).to_have_text("Access not granted")
    assert service.usernames() == before


def _status(tab: Tab, url: str) -> int:
    answer = tab.page.goto(url)
    assert answer is not None
    return answer.status


def test_a_session_reads_ones_own_json_and_nobody_elses(
    tab: Tab, service: Service, members: list[Member]
) -> None:
    me, other = members
    mine = f"{service.base_url}/users/{me.username}/snapshots"
    theirs = f"{service.base_url}/users/{other.username}/snapshots"
    assert _status(tab, mine) == 401  # API keys are on: a stranger reads nothing
    sign_in(tab, service, me.listener)
    assert _status(tab, mine) == 200
    dates = [
        entry["date"] for entry in json.loads(tab.page.locator("body").inner_text())["snapshots"]
    ]
    assert sorted(dates) == [str(night) for night in NIGHTS]
    assert _status(tab, theirs) == 403


def test_the_session_cookie_is_out_of_scripts_reach(
    tab: Tab, service: Service, members: list[Member]
) -> None:
    sign_in(tab, service, members[0].listener)
    [session] = [c for c in tab.context.cookies() if c["name"] == SESSION_COOKIE]
    assert session["httpOnly"]
    assert session["sameSite"] == "Lax"
    assert SESSION_COOKIE not in tab.page.evaluate("document.cookie")


def test_signing_out_closes_ones_pages_even_to_the_old_cookie(
    open_tab: Callable[..., Tab], service: Service, members: list[Member]
) -> None:
    me = members[0].username
    tab = open_tab()
    sign_in(tab, service, members[0].listener)
    assert _status(tab, f"{service.base_url}/u/{me}") == 200
    kept = tab.context.cookies()
    tab.page.get_by_role("button", name="Sign out").click()
    expect(tab.page).to_have_url(f"{service.base_url}/")
    expect(tab.page.get_by_role("link", name="Sign in with Spotify").first).to_be_visible()
    tab.screenshot("signed-out")
    assert _status(tab, f"{service.base_url}/u/{me}") == 401
    # A copy of the cookie taken before signing out opens nothing either.
    replay = open_tab()
    replay.context.add_cookies(kept)  # type: ignore[arg-type]
    assert _status(replay, f"{service.base_url}/u/{me}") == 401


def _admin_sign_in(tab: Tab, service: Service, token: str) -> None:
    tab.page.goto(f"{service.base_url}/auth/admin")
    tab.page.get_by_label("ADMIN_TOKEN").fill(token)
    tab.page.get_by_role("button", name="Sign in as the admin").click()


def test_the_admin_signs_in_with_the_token_and_sees_everyones_pages(
    tab: Tab, service: Service, members: list[Member]
) -> None:
    _admin_sign_in(tab, service, "not-the-token")
    expect(tab.page.locator("h1")).to_have_text("Admin sign-in")
    assert _status(tab, f"{service.base_url}/u/{members[0].username}") == 401
    _admin_sign_in(tab, service, ADMIN_TOKEN)
    expect(tab.page).to_have_url(f"{service.base_url}/")
    for member in members:
        assert _status(tab, f"{service.base_url}/u/{member.username}") == 200
        charts_drawn(tab, f"admin-sees-{member.username}")


def test_the_admin_can_sign_out_from_a_page(
    tab: Tab, service: Service, members: list[Member]
) -> None:
    _admin_sign_in(tab, service, ADMIN_TOKEN)
    tab.page.goto(f"{service.base_url}/u/{members[0].username}")
    tab.page.get_by_role("button", name="Sign out").click()
    assert _status(tab, f"{service.base_url}/u/{members[0].username}") == 401
