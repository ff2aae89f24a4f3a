"""Signing in with Spotify starts a session, its cookie's flags; signing out needs CSRF."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import peewee
import pytest
import respx
from starlette.datastructures import Secret
from starlette.middleware.sessions import Session
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from application import session_secret
from db.database import Database
from db.users import remove_user
from settings import Settings
from tests.factories import make_user
from tests.web.signed_in import CSRF, session_cookie, session_data
from tests.web.test_auth import CODE, KEY, ONBOARDING, FakeSpotify, _state
from web.sessions import SESSION_COOKIE, CurrentSessions

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
    app_client: Callable[..., Any], settings: Settings, database: Database
) -> None:
    database.run_sync(make_user, "ann")
    browser = await app_client(**ONBOARDING, api_keys=(Secret(INSTANCE_KEY),))
    cookie = session_cookie(_settings_of(settings), "ann")
    for form in ({}, {"csrf_token": "guessed"}, {"csrf_token": ""}):
        refused = await browser.post("/auth/logout", data=form, headers=cookie)
        assert refused.status_code == 403, form
        assert "set-cookie" not in refused.headers
    done = await browser.post("/auth/logout", data={"csrf_token": CSRF}, headers=cookie)
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    assert "expires=thu, 01 jan 1970" in _session_set_cookie(done).lower()


async def test_signing_out_ends_every_session_of_the_person_on_the_server(
    app_client: Callable[..., Any], settings: Settings, database: Database
) -> None:
    database.run_sync(make_user, "ann")
    browser = await app_client(**ONBOARDING, api_keys=(Secret(INSTANCE_KEY),))
    laptop = session_cookie(_settings_of(settings), "ann")
    phone = session_cookie(_settings_of(settings), "ann")
    assert (await browser.get("/users/ann", headers=phone)).status_code == 200
    await browser.post("/auth/logout", data={"csrf_token": CSRF}, headers=laptop)
    for copy in (laptop, phone):  # a copy of the cookie kept from before is over too
        ended = await browser.get("/users/ann", headers=copy)
        assert ended.status_code == 401
        assert "expires=thu, 01 jan 1970" in _session_set_cookie(ended).lower()
    again = session_cookie(_settings_of(settings), "ann")
    assert (await browser.get("/users/ann", headers=again)).status_code == 200


async def test_a_removed_user_s_session_does_not_open_a_newcomer_of_the_same_name(
    app_client: Callable[..., Any], settings: Settings, database: Database
) -> None:
    database.run_sync(make_user, "ann")
    browser = await app_client(**ONBOARDING, api_keys=(Secret(INSTANCE_KEY),))
    old = session_cookie(_settings_of(settings), "ann", since=time.time())
    database.run_sync(remove_user, "ann")
    assert (await browser.get("/users/ann", headers=old)).status_code == 401
    database.run_sync(make_user, "ann")
    assert (await browser.get("/users/ann", headers=old)).status_code == 401


async def test_a_session_without_its_start_is_no_session(
    app_client: Callable[..., Any], settings: Settings, database: Database
) -> None:
    database.run_sync(make_user, "ann")
    browser = await app_client(**ONBOARDING, api_keys=(Secret(INSTANCE_KEY),))
    for since in ("yesterday", True, None):
        odd = session_cookie(_settings_of(settings), "ann", since=since)
        assert (await browser.get("/users/ann", headers=odd)).status_code == 401


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


class _DownDatabase:
    async def run(self, *args: Any) -> Any:
        raise peewee.OperationalError("connection refused")


async def test_when_the_database_cannot_check_a_session_the_request_is_anonymous() -> None:
    seen: list[Any] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["session"]))
        await PlainTextResponse("ok")(scope, receive, send)

    session = Session({"user": "ann", "since": time.time(), "csrf": CSRF})
    scope = {"type": "http", "session": session, "state": {"database": _DownDatabase()}}
    await CurrentSessions(endpoint)(scope, _no_body, _discard)
    assert seen == [{"since": session["since"], "csrf": CSRF}]
    assert not session.modified  # the browser's cookie is left as it was


async def _no_body() -> Message:
    return {"type": "http.request", "body": b""}


async def _discard(message: Message) -> None:
    pass
