"""End to end over real HTTP: a browser signs up through the emulated accounts.spotify.com,
an operator adds a user headlessly, and afterwards neither the raw SQLite file, nor any log
line, nor any page holds a token, code, state, key or secret that was used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from application import build_app
from cli import main
from db.database import Database
from db.migrations import migrate
from db.models import User
from db.token_cipher import TokenCipher, generate_key
from logs import JsonFormatter, TextFormatter, install_log_redaction
from settings import Settings
from spotify_emulator import EmulatorServer, World
from tests.conftest import SETTING_NAMES
from tests.threaded_server import bound_socket, serving

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "admin-token-3f9c1e"
API_KEY = "api-key-7d2a90"


def _configure(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer, db_url: str, key: str, port: int
) -> Settings:
    for name in list(os.environ):
        if name in SETTING_NAMES:
            monkeypatch.delenv(name)
    world = emulator.world
    for name, value in {
        "DATABASE_URL": db_url,
        "SPOTIFY_CLIENT_ID": world.client_id,
        "SPOTIFY_CLIENT_SECRET": world.client_secret,
        "SPOTIFY_API_URL": emulator.api_url,
        "SPOTIFY_ACCOUNTS_URL": emulator.accounts_url,
        "SPOTIFY_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/callback",
        "TOKEN_ENCRYPTION_KEY": key,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "API_KEYS": API_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    return Settings.from_environment(env_file=None)


async def _sign_up(browser: httpx.AsyncClient, base: str, username: str) -> dict[str, str]:
    """A browser's whole login; answers the pages and the code and state it carried."""
    page = await browser.get(f"{base}/auth/login")
    form_token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert form_token, page.text
    data = {"form_token": form_token.group(1), "username": username}
    to_spotify = await browser.post(f"{base}/auth/login", data=data)
    assert to_spotify.status_code == 303
    back = await browser.get(to_spotify.headers["location"])
    assert back.status_code == 302, back.text
    callback_url = back.headers["location"]
    assert callback_url.startswith(f"{base}/auth/callback?")
    query = parse_qs(urlsplit(callback_url).query)
    done = await browser.get(callback_url)
    replay = await browser.get(callback_url)
    return {
        "code": query.get("code", [""])[0],
        "state": query["state"][0],
        "page": done.text,
        "status": str(done.status_code),
        "replay_status": str(replay.status_code),
    }


def _database_bytes(path: Path) -> bytes:
    # WAL mode: recent writes may sit in the -wal file, not yet in the main file.
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _stored_tokens(db_url: str, key: str) -> dict[str, str]:
    database = Database(db_url, pool_size=1)
    try:
        users = database.run_sync(lambda: list(User.select()))
    finally:
        database.close()
    cipher = TokenCipher([key])
    return {u.username: cipher.decrypt(str(u.refresh_token_encrypted)) for u in users}


async def test_onboarding_over_http_leaves_no_secret_in_the_database_logs_or_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # httpcore's DEBUG trace prints the test browser's own response headers (the Location
    # carrying the code); the service's own lines are what is under test.
    caplog.set_level(logging.INFO, logger="httpcore")
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    db_path = tmp_path / "insight.db"
    db_url = f"sqlite:///{db_path}"
    setup = Database(db_url, pool_size=1, create=True)
    setup.run_sync(migrate, setup.peewee)
    setup.close()
    key = generate_key()
    world = World.generate(seed=7, users=3)
    install_log_redaction()

    with EmulatorServer(world, mode="development") as emulator, bound_socket() as sock:
        port = sock.getsockname()[1]
        settings = _configure(monkeypatch, emulator, db_url, key, port)
        base = f"http://127.0.0.1:{port}"
        # The emulator's uvicorn configured these loggers for itself; send them to the capture.
        for name in ("uvicorn", "uvicorn.access"):
            monkeypatch.setattr(logging.getLogger(name), "propagate", True)
            monkeypatch.setattr(logging.getLogger(name), "handlers", [])
        emulator.consent_user = world.users[0].id
        with serving(build_app(settings), sock):
            async with httpx.AsyncClient(timeout=10) as browser:
                flow = await _sign_up(browser, base, "")
                emulator.deny_consent = True
                denied = await _sign_up(browser, base, "mallory")
                user_page = await browser.get(
                    f"{base}/users/{world.users[0].display_name.lower()}",
                    headers={"Authorization": f"Bearer {API_KEY}"},
                )
        headless_token = world.users[1].refresh_token
        command = ["users", "add", "bob", "--refresh-token", headless_token]
        assert await asyncio.to_thread(main, command) == 0

    assert flow["status"] == "200", flow["page"]
    assert flow["replay_status"] == "400"
    assert denied["status"] == "403"
    assert user_page.status_code == 200, user_page.text
    tokens = _stored_tokens(db_url, key)
    assert set(tokens) == {world.users[0].display_name.lower(), "bob"}
    secrets = {
        "authorization code": flow["code"],
        "state": flow["state"],
        "denied state": denied["state"],
        "client secret": world.client_secret,
        "encryption key": key,
        "admin token": ADMIN_TOKEN,
        "api key": API_KEY,
        "headless token": headless_token,
        **{f"stored token of {name}": token for name, token in tokens.items()},
    }
    assert all(len(value) >= 8 for value in secrets.values()), secrets.keys()
    raw = _database_bytes(db_path)
    # Both formats the service writes (LOG_FORMAT), as its own handler would format each line.
    formatted = [f.format(r) for r in caplog.records for f in (JsonFormatter(), TextFormatter())]
    logs = caplog.text + "".join(str(r.args) for r in caplog.records) + "\n".join(formatted)
    # SQL parameters are logged at DEBUG: they are part of what must stay clean.
    assert any(r.name == "peewee" for r in caplog.records)
    access = [r for r in caplog.records if r.name == "uvicorn.access"]
    access_lines = [r.getMessage() for r in access]
    assert any("/auth/callback?code=[redacted]&state=[redacted]" in x for x in access_lines)
    # Each of the service's access lines names its request (the emulator's lines are not ours).
    ours = [r for r in access if re.search(r'"[A-Z]+ /(auth|users)/', r.getMessage())]
    assert len(ours) >= 6, access_lines
    assert all(json.loads(JsonFormatter().format(r)).get("request_id") for r in ours)
    pages = flow["page"] + denied["page"] + user_page.text
    for what, value in secrets.items():
        assert value.encode() not in raw, f"the database holds the {what} in plaintext"
        assert value not in logs, f"a log line holds the {what}"
        assert value not in pages, f"a page shows the {what}"
