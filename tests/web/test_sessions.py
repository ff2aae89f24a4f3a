"""Signing in with Spotify starts a session, its cookie's flags; signing out needs CSRF."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from starlette.datastructures import Secret

from application import session_secret
from settings import Settings
from tests.web.signed_in import CSRF, session_cookie, session_data
from tests.web.test_auth import CODE, KEY, ONBOARDING, FakeSpotify, _state
from web.sessions import SESSION_COOKIE

INSTANCE_KEY = "instance-key-value"


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeSpotify(router)


def _session_set_cookie(response: httpx.Response) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    assert len(found) == 1, response.headers
    return found[0]


async def _sign_in(browser: httpx.AsyncClient, username: str = "") -> httpx.Response:
    state = await _state(browser, username)
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 200, page.text
    return page


async def test_signing_in_starts_a_session_that_reads_the_person_s_own_data(
    app_client: Callable[..., Any], spotify: FakeSpotify
) -> None:
    browser = await app_client(**ONBOARDING, api_keys=(Secret(INSTANCE_KEY),))
    page = await _sign_in(browser, "ann")
    cookie = _session_set_cookie(page)
    assert "signed in" in page.text
    # The browser (httpx's cookie jar) now carries the session.
    assert (await browser.get("/users/ann")).status_code == 200
    assert (await browser.get("/users/someone-else")).status_code == 403
    assert session_data(cookie.split(";")[0].split("=", 1)[1])["user"] == "ann"


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        pytest.param(None, False, id="http"),
        pytest.param("https://insight.example.org", True, id="https"),
    ],
)
async def test_the_session_cookie_is_httponly_lax_and_expires(
    app_client: Callable[..., Any], spotify: FakeSpotify, public_url: str | None, secure: bool
) -> None:
    browser = await app_client(**ONBOARDING, public_url=public_url, session_max_age=3600)
    if secure:  # the browser must speak https to send back the login's Secure cookies
        browser.base_url = httpx.URL("https://insight.test")
    flags = [
        part.strip().lower() for part in _session_set_cookie(await _sign_in(browser)).split(";")
    ]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "max-age=3600" in flags
    assert "path=/" in flags
    assert ("secure" in flags) is secure


def _settings_of(settings: Settings) -> Settings:
    onboarding: dict[str, Any] = ONBOARDING
    return dataclasses.replace(settings, **onboarding)


async def test_signing_out_needs_the_session_s_csrf_token(
    app_client: Callable[..., Any], settings: Settings
) -> None:
    browser = await app_client(**ONBOARDING, api_keys=(Secret(INSTANCE_KEY),))
    cookie = session_cookie(_settings_of(settings), "ann")
    for form in ({}, {"csrf_token": "guessed"}, {"csrf_token": ""}):
        refused = await browser.post("/auth/logout", data=form, headers=cookie)
        assert refused.status_code == 403, form
        assert "set-cookie" not in refused.headers
    done = await browser.post("/auth/logout", data={"csrf_token": CSRF}, headers=cookie)
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    cleared = _session_set_cookie(done)
    assert "max-age=0" in cleared.lower() or "expires=thu, 01 jan 1970" in cleared.lower()


async def test_signing_out_without_a_session_is_refused(app_client: Callable[..., Any]) -> None:
    browser = await app_client(**ONBOARDING)
    assert (await browser.post("/auth/logout", data={"csrf_token": ""})).status_code == 403


def test_the_session_secret_is_the_setting_or_derived_from_the_token_key(
    settings: Settings,
) -> None:
    assert session_secret(settings) is None  # nobody can sign in: no key to store tokens with
    derived = session_secret(_settings_of(settings))
    assert derived
    assert derived == session_secret(_settings_of(settings))
    assert KEY not in derived
    chosen = Secret("x" * 40)
    assert session_secret(dataclasses.replace(settings, session_secret=chosen)) == "x" * 40
