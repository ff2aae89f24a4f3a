"""The admin signs in with ADMIN_TOKEN in a browser and sees every page; the admin API still
takes the header only; a new ADMIN_TOKEN or signing out ends the admin session."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.datastructures import Secret

from db.database import Database
from tests.factories import make_user
from web import admin_sign_in

ADMIN = "admin-token-of-the-browser-tests"
SECRET = Secret("a-session-secret-of-the-admin-tests-0123456789")
INSTANCE_KEY = "instance-key-value"

Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def browser(app_client: Client, database: Database) -> httpx.AsyncClient:
    database.run_sync(make_user, "alice")
    return await app_client(
        admin_token=Secret(ADMIN), session_secret=SECRET, api_keys=(Secret(INSTANCE_KEY),)
    )


async def _csrf(browser: httpx.AsyncClient) -> str:
    page = await browser.get("/auth/admin")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def _sign_in(browser: httpx.AsyncClient, token: str = ADMIN) -> httpx.Response:
    return await browser.post(
        "/auth/admin", data={"csrf_token": await _csrf(browser), "token": token}
    )


async def test_the_admin_signs_in_and_sees_every_page_and_user(browser: httpx.AsyncClient) -> None:
    assert (await browser.get("/u/alice")).status_code == 401
    signed_in = await _sign_in(browser)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    assert (await browser.get("/u/alice")).status_code == 200
    assert (await browser.get("/users/alice")).status_code == 200


async def test_the_admin_api_takes_the_header_only(browser: httpx.AsyncClient) -> None:
    await _sign_in(browser)
    assert (await browser.delete("/users/alice")).status_code == 401
    assert (await browser.get("/users/alice")).status_code == 200


@pytest.mark.parametrize("token", ["wrong", "", ADMIN + "x"], ids=["wrong", "empty", "longer"])
async def test_anything_but_the_token_is_refused(browser: httpx.AsyncClient, token: str) -> None:
    refused = await _sign_in(browser, token)
    assert refused.status_code == 401
    assert "not the admin token" in refused.text
    assert ADMIN not in refused.text
    assert (await browser.get("/u/alice")).status_code == 401


async def test_the_form_needs_its_csrf_token(browser: httpx.AsyncClient) -> None:
    await _csrf(browser)
    refused = await browser.post("/auth/admin", data={"csrf_token": "guess", "token": ADMIN})
    assert refused.status_code == 403
    assert (await browser.get("/u/alice")).status_code == 401


async def test_a_new_admin_token_ends_admin_sessions(
    browser: httpx.AsyncClient, app_client: Client
) -> None:
    await _sign_in(browser)
    replaced = await app_client(admin_token=Secret("the-next-admin-token"), session_secret=SECRET)
    replaced.cookies = browser.cookies
    assert (await replaced.get("/u/alice")).status_code == 401


async def test_signing_out_ends_the_admin_session(browser: httpx.AsyncClient) -> None:
    await _sign_in(browser)
    csrf = await _csrf(browser)
    assert (await browser.post("/auth/logout", data={"csrf_token": csrf})).status_code == 303
    assert (await browser.get("/u/alice")).status_code == 401


async def test_tries_are_limited_per_client(
    browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(admin_sign_in, "clock", lambda: now[0])
    for _ in range(admin_sign_in.TRIES_PER_CLIENT):
        assert (await _sign_in(browser, "wrong")).status_code == 401
    limited = await _sign_in(browser, ADMIN)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    now[0] += admin_sign_in.TRIES_WINDOW_SECONDS
    assert (await _sign_in(browser, ADMIN)).status_code == 303


async def test_without_an_admin_token_there_is_no_admin_sign_in(app_client: Client) -> None:
    client = await app_client(session_secret=SECRET)
    assert (await client.get("/auth/admin")).status_code == 404


async def test_the_admin_sign_in_page_wears_the_sites_header(
    browser: httpx.AsyncClient, app_client: Client
) -> None:
    form = await browser.get("/auth/admin")
    refused = await _sign_in(browser, "wrong")
    off = await (await app_client(admin_token=Secret(ADMIN))).get("/auth/admin")

    assert (form.status_code, refused.status_code) == (200, 401)
    for page in (form, refused, off):
        assert '<header class="site">' in page.text, page.text
        assert 'href="/static/site.css?v=' in page.text
