"""Tokens: client credentials, user refresh, the code exchange, and keeping secrets secret."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import httpx
import pytest
import respx

from spotify_client import (
    InvalidGrant,
    RetryPolicy,
    SpotifyAuthError,
    SpotifyClient,
    SpotifyError,
    SpotifyUnavailable,
)
from spotify_client._auth import TOKEN_ANSWER_TIMEOUT
from tests.spotify_client.conftest import (
    ACCOUNTS,
    API,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN_URL,
    TokenEndpoint,
    VirtualTime,
    artist_json,
    basic_header,
    track_json,
)

PROFILE = {"id": "user1", "account_id": "acc-1", "display_name": "Ada"}


async def test_client_credentials_use_basic_auth_and_a_form(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    route = spotify.get(f"{API}/tracks/t1").respond(json=track_json())
    await client.track("t1")
    token_call = spotify.calls[0].request
    assert token_call.headers["Authorization"] == basic_header()
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_endpoint.forms == [{"grant_type": "client_credentials"}]
    assert route.calls.last.request.headers["Authorization"] == "Bearer app-token-1"


async def test_concurrent_callers_share_one_token_until_it_expires(
    client: SpotifyClient,
    spotify: respx.MockRouter,
    token_endpoint: TokenEndpoint,
    vtime: VirtualTime,
) -> None:
    route = spotify.get(url__regex=rf"{API}/tracks/\w+").respond(json=track_json())
    await asyncio.gather(*(client.track(f"t{n}") for n in range(10)))
    assert len(token_endpoint.grants("client_credentials")) == 1
    assert {c.request.headers["Authorization"] for c in route.calls} == {"Bearer app-token-1"}

    vtime.advance(3600)
    await asyncio.gather(*(client.track(f"t{n}") for n in range(10)))
    assert len(token_endpoint.grants("client_credentials")) == 2
    assert route.calls.last.request.headers["Authorization"] == "Bearer app-token-2"


async def test_token_is_renewed_shortly_before_it_expires(
    client: SpotifyClient,
    spotify: respx.MockRouter,
    token_endpoint: TokenEndpoint,
    vtime: VirtualTime,
) -> None:
    spotify.get(f"{API}/tracks/t1").respond(json=track_json())
    await client.track("t1")
    vtime.advance(3500)
    await client.track("t1")
    assert len(token_endpoint.grants("client_credentials")) == 1
    vtime.advance(60)
    await client.track("t1")
    assert len(token_endpoint.grants("client_credentials")) == 2


async def test_401_on_catalogue_call_fetches_a_new_token_and_retries(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    route = spotify.get(f"{API}/artists/a1").mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json=artist_json())]
    )
    artist = await client.artist("a1")
    assert artist.id == "a1"
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer app-token-1",
        "Bearer app-token-2",
    ]


async def test_refused_client_credentials_raise_auth_error_without_the_secret(
    client: SpotifyClient, spotify: respx.MockRouter
) -> None:
    spotify.post(TOKEN_URL).respond(
        400, json={"error": "invalid_client", "error_description": f"bad {CLIENT_SECRET}"}
    )
    with pytest.raises(SpotifyAuthError, match="invalid_client") as raised:
        await client.track("t1")
    assert CLIENT_SECRET not in str(raised.value)


async def test_user_calls_use_a_token_from_the_refresh_token(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    route = spotify.get(f"{API}/me").respond(json=PROFILE)
    profile = await client.for_user(REFRESH_TOKEN).me()
    assert profile.account_id == "acc-1"
    assert token_endpoint.forms == [{"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}]
    assert token_endpoint.authorizations == [basic_header()]
    assert route.calls.last.request.headers["Authorization"] == "Bearer user-token-1"


async def test_401_on_user_call_refreshes_once_and_retries(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    route = spotify.get(f"{API}/me").mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json=PROFILE)]
    )
    assert (await client.for_user(REFRESH_TOKEN).me()).id == "user1"
    assert len(token_endpoint.grants("refresh_token")) == 2
    assert route.calls[1].request.headers["Authorization"] == "Bearer user-token-2"


async def test_401_after_the_refresh_is_an_auth_error(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    route = spotify.get(f"{API}/me").respond(401)
    with pytest.raises(SpotifyAuthError):
        await client.for_user(REFRESH_TOKEN).me()
    assert route.call_count == 2


async def test_invalid_grant_raises_and_is_not_asked_again(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.refresh_error = "invalid_grant"
    route = spotify.get(f"{API}/me").respond(json=PROFILE)
    session = client.for_user(REFRESH_TOKEN)
    for _ in range(2):
        with pytest.raises(InvalidGrant, match="log in again"):
            await session.me()
    assert len(token_endpoint.grants("refresh_token")) == 1
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("rotated", "stored"),
    [
        pytest.param("refresh-token-NEW", ["refresh-token-NEW"], id="rotated"),
        pytest.param(REFRESH_TOKEN, [], id="same-token-returned"),
        pytest.param(None, [], id="not-returned"),
    ],
)
async def test_rotated_refresh_token_is_handed_to_the_callback(
    client: SpotifyClient,
    spotify: respx.MockRouter,
    token_endpoint: TokenEndpoint,
    rotated: str | None,
    stored: list[str],
) -> None:
    token_endpoint.rotated_refresh_token = rotated
    spotify.get(f"{API}/me").mock(
        side_effect=[
            httpx.Response(200, json=PROFILE),
            httpx.Response(401),
            httpx.Response(200, json=PROFILE),
        ]
    )
    received: list[str] = []

    async def store(token: str) -> None:
        received.append(token)

    session = client.for_user(REFRESH_TOKEN, on_refresh_token=store)
    await session.me()
    await session.me()  # the 401 forces a second refresh, which must use the newest token
    assert received == stored
    second = token_endpoint.grants("refresh_token")[1]["refresh_token"]
    assert second == (rotated or REFRESH_TOKEN)


@pytest.mark.parametrize(
    "rotated",
    [pytest.param("refresh-token-NEW", id="rotated"), pytest.param(None, id="kept")],
)
async def test_check_login_names_the_account_and_the_token_to_store(
    client: SpotifyClient,
    spotify: respx.MockRouter,
    token_endpoint: TokenEndpoint,
    rotated: str | None,
) -> None:
    token_endpoint.rotated_refresh_token = rotated
    spotify.get(f"{API}/me").mock(return_value=httpx.Response(200, json=PROFILE))
    login = await client.check_login(REFRESH_TOKEN)
    assert (login.profile.account_id, login.profile.display_name) == ("acc-1", "Ada")
    assert login.refresh_token == (rotated or REFRESH_TOKEN)
    assert login.refresh_token not in repr(login)


async def test_check_login_of_a_refused_token_is_invalid_grant(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.refresh_error = "invalid_grant"
    me = spotify.get(f"{API}/me").mock(return_value=httpx.Response(200, json=PROFILE))
    with pytest.raises(InvalidGrant):
        await client.check_login(REFRESH_TOKEN)
    assert me.call_count == 0


async def test_exchange_code_posts_the_code_and_returns_the_grant(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.rotated_refresh_token = "refresh-from-code"
    grant = await client.exchange_code("the-code", "http://127.0.0.1:8000/auth/callback")
    assert token_endpoint.forms == [
        {
            "grant_type": "authorization_code",
            "code": "the-code",
            "redirect_uri": "http://127.0.0.1:8000/auth/callback",
        }
    ]
    assert token_endpoint.authorizations == [basic_header()]
    assert grant.access_token == "user-token-1"
    assert grant.refresh_token == "refresh-from-code"
    assert grant.expires_in == 3600
    assert grant.scope == "user-top-read"


async def test_refused_code_is_invalid_grant(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.refresh_error = "invalid_grant"
    with pytest.raises(InvalidGrant):
        await client.exchange_code("old-code", "http://127.0.0.1:8000/auth/callback")


async def test_no_secret_in_logs_reprs_or_errors(
    client: SpotifyClient,
    spotify: respx.MockRouter,
    token_endpoint: TokenEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token_endpoint.rotated_refresh_token = "refresh-token-ROTATED-SECRET"
    spotify.get(f"{API}/me").mock(
        side_effect=[httpx.Response(503), httpx.Response(401), httpx.Response(200, json=PROFILE)]
    )
    session = client.for_user(REFRESH_TOKEN)
    await session.me()
    grant = await client.exchange_code("code-SECRET", "http://127.0.0.1:8000/auth/callback")
    token_endpoint.refresh_error = "invalid_grant"
    errors: list[SpotifyError] = []
    try:
        await client.for_user("another-refresh-SECRET").me()
    except InvalidGrant as exc:
        errors.append(exc)
    spotify.get(f"{API}/tracks/t1").respond(429, json={"error": {"reason": "QUOTA_EXCEEDED"}})
    try:
        await client.track("t1")
    except SpotifyError as exc:
        errors.append(exc)

    assert len(errors) == 2
    assert "retry 1" in caplog.text  # the capture did see this module's logs
    exposed: list[Any] = [caplog.text, repr(grant), repr(client), repr(session)]
    exposed += [str(e) for e in errors] + [repr(e) for e in errors]
    secrets = ["SECRET", "user-token-", "app-token-"]
    for text in exposed:
        for secret in secrets:
            assert secret not in str(text)


async def test_a_rotated_token_is_stored_even_when_its_task_is_cancelled(
    client: SpotifyClient, spotify: respx.MockRouter, token_endpoint: TokenEndpoint
) -> None:
    """SIGTERM while Spotify answers with a rotated token: the token must still be stored."""
    token_endpoint.rotated_refresh_token = "refresh-token-NEW"
    spotify.get(f"{API}/me").respond(json=PROFILE)
    stored: list[str] = []

    async def store(token: str) -> None:
        await asyncio.sleep(0)  # storing takes a moment: a database write in a thread
        stored.append(token)

    session = client.for_user(REFRESH_TOKEN, on_refresh_token=store)
    asking = asyncio.create_task(session.me())

    def answer_while_cancelled(request: httpx.Request) -> httpx.Response:
        asking.cancel()  # the run is being stopped as Spotify rotates the token
        return token_endpoint(request)

    spotify.post(TOKEN_URL).mock(side_effect=answer_while_cancelled)
    with pytest.raises(asyncio.CancelledError):
        await asking
    assert stored == ["refresh-token-NEW"]


def test_a_refusal_answered_while_cancelled_is_not_left_unretrieved() -> None:
    """The grant runs to its end after a cancellation; its failure is then the session's to
    read, or asyncio logs "Task exception was never retrieved" when the task is collected.

    A loop of its own, closed before the check: only then is every frame holding the grant's
    task gone, as at the end of a stopped run."""
    unhandled: list[str] = []
    token_endpoint = TokenEndpoint(refresh_error="invalid_grant")

    async def cancelled_while_refused() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _loop, context: unhandled.append(context["message"])
        )
        async with httpx.AsyncClient() as http:
            client = SpotifyClient(
                http,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                api_url=API,
                accounts_url=ACCOUNTS,
                retry=RetryPolicy(),
            )
            asking = asyncio.create_task(client.for_user(REFRESH_TOKEN).me())

            def answer_while_cancelled(request: httpx.Request) -> httpx.Response:
                asking.cancel()
                return token_endpoint(request)

            with respx.mock() as spotify:
                spotify.post(TOKEN_URL).mock(side_effect=answer_while_cancelled)
                with pytest.raises(asyncio.CancelledError):
                    await asking

    asyncio.run(cancelled_while_refused())
    gc.collect()  # a task's unretrieved exception is reported when the task is collected

    assert token_endpoint.grants("refresh_token")  # the refusal did come
    assert unhandled == []


async def test_a_refresh_answer_lost_to_the_timeout_is_a_failure_to_retry_not_a_refusal(
    client: SpotifyClient,
    spotify: respx.MockRouter,
    token_endpoint: TokenEndpoint,
    vtime: VirtualTime,
) -> None:
    """No answer within TOKEN_ANSWER_TIMEOUT says nothing of the refresh token: the user is
    not told to log in again, and the next call asks Spotify afresh."""
    answers = iter([None])

    def lost_then_answered(request: httpx.Request) -> httpx.Response:
        if next(answers, "answered") is None:
            vtime.advance(TOKEN_ANSWER_TIMEOUT)  # the client waited this long for it
            raise httpx.ReadTimeout("no answer", request=request)
        return token_endpoint(request)

    spotify.post(TOKEN_URL).mock(side_effect=lost_then_answered)
    spotify.get(f"{API}/me").respond(json=PROFILE)
    session = client.for_user(REFRESH_TOKEN)

    with pytest.raises(SpotifyUnavailable) as lost:
        await session.me()

    assert not isinstance(lost.value, InvalidGrant)
    message = str(lost.value)
    assert "log in again" not in message
    assert "no answer from Spotify to the refresh token" in message
    assert "ReadTimeout" in message
    assert "not a refusal" in message
    assert (await session.me()).id == "user1"  # the token was fine all along
