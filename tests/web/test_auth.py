from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from starlette.datastructures import Secret

from db import oauth_states, users
from db.database import Database
from db.models import OAuthState, User
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from spotify_client import SpotifyClient, SpotifyUnavailable
from web import auth

ACCOUNTS = "https://accounts.spotify.test"
API = "https://api.spotify.test/v1"
CLIENT_SECRET = "client-secret-value"
CODE = "code-from-spotify"
REFRESH = "refresh-token-of-ann"
KEY = generate_key()
ONBOARDING = {
    "spotify_client_id": "client-id",
    "spotify_client_secret": Secret(CLIENT_SECRET),
    "spotify_accounts_url": ACCOUNTS,
    "spotify_api_url": API,
    "spotify_redirect_uri": "http://127.0.0.1:8000/auth/callback",
    "token_encryption_keys": (Secret(KEY),),
}
PROFILE = {"id": "ann-id", "account_id": "acct-ann", "display_name": "Ann Smith"}


class FakeSpotify:
    """The token endpoint and /me, with knobs for each way they can fail."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.rotated: str | None = None
        self.me_status = 200
        self.token_route = router.post(f"{ACCOUNTS}/api/token").mock(side_effect=self._token)
        self.me_route = router.get(f"{API}/me").mock(side_effect=self._me)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        grant = form["grant_type"][0]
        if grant == "authorization_code" and form["code"] == [CODE]:
            body = {
                "access_token": "at-1",
                "expires_in": 3600,
                "scope": "",
                "refresh_token": REFRESH,
            }
            return httpx.Response(200, json=body)
        if grant == "refresh_token" and form["refresh_token"] == [REFRESH]:
            body = {"access_token": "at-2", "expires_in": 3600, "scope": ""}
            if self.rotated:
                body["refresh_token"] = self.rotated
            return httpx.Response(200, json=body)
        return httpx.Response(400, json={"error": "invalid_grant"})

    def _me(self, request: httpx.Request) -> httpx.Response:
        if self.me_status != 200:
            return httpx.Response(self.me_status, json={"error": {"status": self.me_status}})
        return httpx.Response(200, json=PROFILE)


@pytest.fixture
def spotify() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield FakeSpotify(router)


@pytest.fixture
async def browser(app_client: Callable[..., Any]) -> httpx.AsyncClient:
    return await app_client(**ONBOARDING)


def _form_token(page: httpx.Response) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def _start(browser: httpx.AsyncClient, username: str = "") -> httpx.Response:
    page = await browser.get("/auth/login")
    data = {"form_token": _form_token(page), "username": username}
    return await browser.post("/auth/login", data=data)


async def _state(browser: httpx.AsyncClient, username: str = "") -> str:
    redirect = await _start(browser, username)
    assert redirect.status_code == 303, redirect.text
    return parse_qs(urlsplit(redirect.headers["location"]).query)["state"][0]


def _users(database: Database) -> list[tuple[str, str | None, str]]:
    def read() -> list[tuple[str, str | None, str]]:
        return [
            (
                u.username,
                u.spotify_account_id,
                TokenCipher([KEY]).decrypt(str(u.refresh_token_encrypted)),
            )
            for u in User.select().order_by(User.username)
        ]

    return database.run_sync(read)


async def test_login_redirects_to_spotify_with_every_oauth_parameter(
    browser: httpx.AsyncClient,
) -> None:
    response = await _start(browser)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ACCOUNTS}/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == ["client-id"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/auth/callback"]
    assert query["scope"][0].split() == [
        "user-top-read",
        "user-read-recently-played",
        "user-library-read",
        "playlist-read-private",
        "playlist-read-collaborative",
    ]
    assert len(query["state"][0]) > 40
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie


async def test_the_state_cookie_is_secure_over_https(
    app_client: Callable[..., Any], database: Database
) -> None:
    client = await app_client(**ONBOARDING, public_url="https://insight.example.org")
    response = await _start(client)
    assert "; secure" in response.headers["set-cookie"].lower()


async def test_the_login_page_is_escaped_and_sends_security_headers(
    browser: httpx.AsyncClient,
) -> None:
    page = await browser.get("/auth/login", params={"username": '"><script>alert(1)</script>'})
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert f"form-action 'self' {ACCOUNTS}" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"


def _wears_the_site_header(page: httpx.Response) -> None:
    assert '<header class="site">' in page.text, page.text
    assert 'href="/static/site.css?v=' in page.text
    assert '<a class="brand" href="/">Spotify Insight</a>' in page.text


async def test_the_login_connected_and_refused_pages_wear_the_sites_header(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    login = await browser.get("/auth/login")
    connected = await browser.get(
        "/auth/callback", params={"code": CODE, "state": await _state(browser)}
    )
    refused = await browser.get("/auth/callback", params={"code": CODE, "state": "forged"})

    assert (login.status_code, connected.status_code, refused.status_code) == (200, 200, 400)
    for page in (login, connected, refused):
        _wears_the_site_header(page)
    # Signed in by the callback: the header names the new user and offers Sign out.
    assert '<a href="/u/ann-smith">ann-smith</a>' in connected.text
    assert "Sign out" in connected.text


async def test_the_not_configured_and_too_many_pages_wear_the_sites_header(
    app_client: Callable[..., Any], browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "LOGIN_STARTS_PER_CLIENT", 1)
    unconfigured = await app_client(**{**ONBOARDING, "spotify_client_id": None})
    off = await unconfigured.get("/auth/login")
    await _start(browser)
    limited = await _start(browser)

    assert (off.status_code, limited.status_code) == (503, 429)
    _wears_the_site_header(off)
    _wears_the_site_header(limited)


async def test_a_full_login_stores_the_user_with_an_encrypted_token(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    state = await _state(browser)
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 200, page.text
    assert "ann-smith" in page.text
    assert 'href="/u/ann-smith"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert _users(database) == [("ann-smith", "acct-ann", REFRESH)]
    raw = database.run_sync(lambda: str(User.get().refresh_token_encrypted))
    assert REFRESH not in raw


async def test_a_chosen_username_is_used(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    state = await _state(browser, "annie")
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 200
    assert _users(database) == [("annie", "acct-ann", REFRESH)]


async def test_a_rotated_refresh_token_is_the_one_stored(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    spotify.rotated = "rotated-refresh-token"
    state = await _state(browser)
    await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert _users(database) == [("ann-smith", "acct-ann", "rotated-refresh-token")]


async def test_logging_in_again_reactivates_the_same_user(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    old = TokenCipher([KEY]).encrypt("dead-token")
    database.run_sync(save_user_token, "ann", old, account_id="acct-ann")
    database.run_sync(lambda: User.update(status=User.REAUTH_REQUIRED).execute())
    state = await _state(browser, "ann")
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    # A returning person goes straight to their page, signed in.
    assert page.status_code == 303
    assert page.headers["location"] == "/u/ann"
    assert _users(database) == [("ann", "acct-ann", REFRESH)]
    assert database.run_sync(lambda: User.get().status) == User.ACTIVE


async def test_a_username_of_another_account_is_refused(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    database.run_sync(save_user_token, "ann", "cipher", account_id="acct-someone-else")
    state = await _state(browser, "ann")
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 409
    assert "choose another. Nothing was stored." in page.text
    assert database.run_sync(lambda: User.get().spotify_account_id) == "acct-someone-else"


async def test_a_login_racing_another_for_the_same_username_gets_the_409_page(
    browser: httpx.AsyncClient,
    spotify: FakeSpotify,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The other callback commits "ann" after this one checked the name was free.
    database.run_sync(save_user_token, "ann", "cipher", account_id="acct-someone-else")
    checked = users._new_username
    calls: list[str | None] = []

    def overtaken_once(requested: str | None, display: str | None, account_id: str) -> str:
        calls.append(requested)
        return str(requested) if len(calls) == 1 else checked(requested, display, account_id)

    monkeypatch.setattr(users, "_new_username", overtaken_once)
    state = await _state(browser, "ann")
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 409, page.text
    assert "Nothing was stored." in page.text
    stored = database.run_sync(lambda: [(u.username, u.spotify_account_id) for u in User.select()])
    assert stored == [("ann", "acct-someone-else")]


async def test_an_invalid_chosen_username_shows_the_form_again(
    browser: httpx.AsyncClient, database: Database
) -> None:
    response = await _start(browser, "-no good")
    assert response.status_code == 400
    assert "username is" in response.text
    assert database.run_sync(OAuthState.select().count) == 0


async def test_a_login_form_posted_from_elsewhere_is_refused(
    browser: httpx.AsyncClient, database: Database
) -> None:
    response = await browser.post("/auth/login", data={"form_token": "forged", "username": ""})
    assert response.status_code == 400
    assert database.run_sync(OAuthState.select().count) == 0


def _nothing_stored(database: Database) -> bool:
    return database.run_sync(User.select().count) == 0


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        pytest.param(lambda b, s: b.cookies.clear(), 400, "another browser", id="no-cookie"),
        pytest.param(
            lambda b, s: b.cookies.set(auth.STATE_COOKIE, "other-browser"),
            400,
            "another browser",
            id="other-browser-cookie",
        ),
        pytest.param(lambda b, s: s[:-4] + "AAAA", 400, "not one this server issued", id="forged"),
        pytest.param(lambda b, s: "", 400, "no state", id="missing"),
    ],
)
async def test_a_bad_state_is_refused_and_nothing_is_stored(
    browser: httpx.AsyncClient,
    spotify: FakeSpotify,
    database: Database,
    change: Callable[[httpx.AsyncClient, str], str | None],
    status: int,
    says: str,
) -> None:
    state = await _state(browser)
    changed = change(browser, state)
    state = state if changed is None else changed
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == status
    assert says in page.text
    assert not spotify.token_route.called
    assert _nothing_stored(database)


async def test_a_state_from_another_server_key_is_refused(
    app_client: Callable[..., Any], spotify: FakeSpotify, database: Database
) -> None:
    other = await app_client(**{**ONBOARDING, "token_encryption_keys": (Secret(generate_key()),)})
    state = await _state(other)
    browser = await app_client(**ONBOARDING)
    browser.cookies = other.cookies
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 400
    assert _nothing_stored(database)


async def test_a_replayed_state_is_refused(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    state = await _state(browser)
    cookie = browser.cookies[auth.STATE_COOKIE]
    assert (await browser.get("/auth/callback", params={"code": CODE, "state": state})).is_success
    browser.cookies.set(auth.STATE_COOKIE, cookie)
    database.run_sync(lambda: User.delete().execute())
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 400
    assert "already used" in page.text
    assert _nothing_stored(database)


async def test_an_expired_state_is_refused(
    browser: httpx.AsyncClient,
    spotify: FakeSpotify,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = await _state(browser)
    later = time.time() + auth.STATE_MAX_AGE + 5
    monkeypatch.setattr(auth, "clock", lambda: later)
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 400
    assert "took too long" in page.text
    assert _nothing_stored(database)


async def test_denied_consent_stores_nothing(
    browser: httpx.AsyncClient, spotify: FakeSpotify, database: Database
) -> None:
    state = await _state(browser)
    page = await browser.get("/auth/callback", params={"error": "access_denied", "state": state})
    assert page.status_code == 403
    assert "declined" in page.text
    assert not spotify.token_route.called
    assert _nothing_stored(database)


@pytest.mark.parametrize(
    ("code", "me_status", "status"),
    [
        pytest.param("wrong-code", 200, 400, id="code-refused"),
        pytest.param(CODE, 403, 403, id="not-on-allow-list"),
    ],
)
async def test_a_failed_exchange_stores_nothing(
    browser: httpx.AsyncClient,
    spotify: FakeSpotify,
    database: Database,
    code: str,
    me_status: int,
    status: int,
) -> None:
    spotify.me_status = me_status
    state = await _state(browser)
    page = await browser.get("/auth/callback", params={"code": code, "state": state})
    assert page.status_code == status
    assert "Nothing was stored" in page.text
    assert _nothing_stored(database)


async def test_spotify_being_down_is_a_502_page_and_stores_nothing(
    browser: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(*args: Any) -> None:
        raise SpotifyUnavailable("POST /api/token kept failing")

    monkeypatch.setattr(SpotifyClient, "exchange_code", unavailable)
    state = await _state(browser)
    page = await browser.get("/auth/callback", params={"code": CODE, "state": state})
    assert page.status_code == 502
    assert "could not be reached" in page.text
    assert _nothing_stored(database)


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param("spotify_client_id", id="no-client-id"),
        pytest.param("spotify_client_secret", id="no-client-secret"),
        pytest.param("token_encryption_keys", id="no-encryption-key"),
    ],
)
async def test_onboarding_says_when_it_is_not_configured(
    app_client: Callable[..., Any], missing: str
) -> None:
    empty: Any = () if missing == "token_encryption_keys" else None
    client = await app_client(**{**ONBOARDING, missing: empty})
    for response in (
        await client.get("/auth/login"),
        await client.post("/auth/login", data={}),
        await client.get("/auth/callback", params={"code": "x", "state": "y"}),
    ):
        assert response.status_code == 503
        assert "not configured" in response.text


def _live_states(database: Database) -> int:
    return database.run_sync(OAuthState.select().count)


async def test_login_starts_from_one_client_are_rate_limited(
    browser: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    monkeypatch.setattr(auth, "clock", lambda: now[0])
    answers = [(await _start(browser)).status_code for _ in range(30)]
    allowed = auth.LOGIN_STARTS_PER_CLIENT
    assert answers == [303] * allowed + [429] * (30 - allowed)
    assert _live_states(database) == allowed
    refused = await _start(browser)
    assert "Too many logins" in refused.text
    assert refused.headers["retry-after"].isdigit()
    now[0] += auth.LOGIN_WINDOW_SECONDS + 1
    assert (await _start(browser)).status_code == 303


async def test_live_login_states_are_bounded_whatever_the_clients(
    browser: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "LOGIN_STARTS_PER_CLIENT", 1_000)
    monkeypatch.setattr(oauth_states, "MAX_LIVE_STATES", 5)
    answers = [(await _start(browser)).status_code for _ in range(8)]
    assert answers == [303] * 5 + [429] * 3
    assert _live_states(database) == 5
