"""`keys create | list | revoke`: a key printed once, stored as a hash, revoked by id or name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli import main
from db.api_keys import key_digest, key_users
from db.database import Database
from db.models import ApiKey
from tests.factories import make_user

KEY_LINE = re.compile(r"^si_[A-Za-z0-9_-]{43}$", re.M)


@pytest.fixture
def env(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Database:
    """The CLI pointed at the test database, with users alice and bob."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def users() -> None:
        make_user("alice")
        make_user("bob")

    database.run_sync(users)
    return database


def _created(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    out = capsys.readouterr().out
    found = KEY_LINE.search(out)
    assert found, out
    return found.group(0), out


def test_a_key_is_printed_once_and_only_its_hash_is_stored(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--user", "alice", "--user", "bob", "--name", "dash"]) == 0
    key, out = _created(capsys)
    assert "reading alice, bob" in out
    stored = env.run_sync(lambda: [(k.name, k.digest) for k in ApiKey.select()])
    assert stored == [("dash", key_digest(key))]
    assert env.run_sync(key_users, key) == {"alice", "bob"}
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert key not in listed
    assert key_digest(key) not in listed
    assert re.search(r"^1 +dash +\d{4}-\d\d-\d\d \d\d:\d\d +- +alice, bob$", listed, re.M)


@pytest.mark.parametrize("reference", ["1", "dash"], ids=["by-id", "by-name"])
def test_a_revoked_key_reads_nobody(
    env: Database, capsys: pytest.CaptureFixture[str], reference: str
) -> None:
    assert main(["keys", "create", "--user", "alice", "--name", "dash"]) == 0
    key, _ = _created(capsys)
    assert main(["keys", "revoke", reference]) == 0
    assert "revoked API key 1 (dash)" in capsys.readouterr().out
    assert env.run_sync(key_users, key) is None
    assert main(["keys", "list"]) == 0
    assert not re.search(r"^1 +dash +\S+ \S+ +- ", capsys.readouterr().out, re.M)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        pytest.param(
            ["keys", "create", "--user", "alice", "--user", "zed", "--user", "amy"],
            "error: unknown users: amy, zed",
            id="unknown-users",
        ),
        pytest.param(
            ["keys", "create", "--user", "alice", "--name", "123"],
            "error: a key name is 1-64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit, not all digits; got '123'",
            id="digits-only-name",
        ),
        pytest.param(
            ["keys", "revoke", "7"], "error: no API key with id or name '7'", id="unknown"
        ),
        pytest.param(
            ["keys", "revoke", "nope"],
            "error: no API key with id or name 'nope'",
            id="unknown-name",
        ),
    ],
)
def test_mistakes_are_one_line_and_create_nothing(
    env: Database, capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == error + "\n"
    assert "Traceback" not in captured.err
    assert env.run_sync(ApiKey.select().count) == 0


def test_a_name_is_unique(env: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--user", "alice", "--name", "dash"]) == 0
    assert main(["keys", "create", "--user", "bob", "--name", "dash"]) == 2
    assert capsys.readouterr().err == "error: a key named 'dash' exists already\n"


def test_create_needs_a_user(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "create", "--name", "dash"])
    assert "--user" in capsys.readouterr().err


def test_removing_a_user_removes_them_from_every_key(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--user", "alice", "--user", "bob"]) == 0
    key, _ = _created(capsys)
    assert main(["users", "remove", "alice"]) == 0
    assert env.run_sync(key_users, key) == {"bob"}
