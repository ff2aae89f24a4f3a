"""The consent page people see: pick which emulated user you are, with one click."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from spotify_emulator import World
from tests.spotify_emulator.helpers import Connect, app_of, basic_auth

REDIRECT = "http://127.0.0.1:8000/auth/callback"


def _params(world: World, **extra: str) -> dict[str, str]:
    return {
        "client_id": world.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": 's<t>&"ate',
        "scope": "user-top-read",
        **extra,
    }


def _links(page: str) -> dict[str, str]:
    """Link text -> href (unescaped) of the page's anchors."""
    return {
        re.sub(r"<[^>]+>", "", text).strip(): html.unescape(href)
        for href, text in re.findall(r'<a class="\w+" href="([^"]+)">(.*?)</a>', page)
    }


async def _signed_in_as(client: httpx.AsyncClient, world: World, location: str) -> str:
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = await client.post(
        "/accounts/api/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=basic_auth(world),
    )
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    return str(me.json()["id"])


async def test_picker_offers_every_user_and_signs_in_the_one_clicked(
    connect: Connect, world: World
) -> None:
    chosen = world.users[3]
    async with connect() as client:
        app_of(client).state.emulator.pick_user = True
        page = await client.get("/accounts/authorize", params=_params(world))
        links = _links(page.text)
        href = next(h for text, h in links.items() if chosen.id in text)
        clicked = await client.get(href)
        signed_in = await _signed_in_as(client, world, clicked.headers["location"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert len([t for t in links if t != "Cancel"]) == len(world.users)
    assert all(any(u.display_name in t and u.id in t for t in links) for u in world.users)
    assert clicked.status_code == 302
    assert parse_qs(urlsplit(clicked.headers["location"]).query)["state"] == ['s<t>&"ate']
    assert signed_in == chosen.id
    assert "s<t>" not in page.text  # the state is escaped, never injected


async def test_cancel_on_the_picker_denies(connect: Connect, world: World) -> None:
    async with connect() as client:
        page = await client.get("/accounts/authorize", params=_params(world, show_dialog="true"))
        denied = await client.get(_links(page.text)["Cancel"])
    location = urlsplit(denied.headers["location"])
    assert page.status_code == 200
    assert parse_qs(location.query)["error"] == ["access_denied"]


async def test_without_the_picker_consent_user_is_signed_in_at_once(
    connect: Connect, world: World
) -> None:
    async with connect() as client:
        app_of(client).state.emulator.consent_user = world.users[1].id
        answer = await client.get("/accounts/authorize", params=_params(world))
        signed_in = await _signed_in_as(client, world, answer.headers["location"])
    assert answer.status_code == 302
    assert signed_in == world.users[1].id


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        pytest.param({"emulator_user": "nobody"}, 400, id="unknown-user"),
        pytest.param({"client_id": "wrong", "emulator_user": "alice.0"}, 400, id="bad-client"),
    ],
)
async def test_picked_user_goes_through_the_same_checks(
    connect: Connect, world: World, extra: dict[str, str], status: int
) -> None:
    async with connect() as client:
        answer = await client.get("/accounts/authorize", params=_params(world, **extra))
    assert answer.status_code == status


async def test_picker_over_the_control_api(connect: Connect, world: World) -> None:
    async with connect() as client:
        switched = await client.post("/_emulator/consent", json={"pick": True})
        page = await client.get("/accounts/authorize", params=_params(world))
        await client.post("/_emulator/consent", json={"pick": False})
        direct = await client.get("/accounts/authorize", params=_params(world))
    assert switched.status_code == 204
    assert page.status_code == 200
    assert direct.status_code == 302
