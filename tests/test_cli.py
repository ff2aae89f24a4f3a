from __future__ import annotations

import datetime as dt
import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from cli import main
from db.claims import claim_next_job
from db.database import Database, database_proxy
from db.models import Play, Snapshot, SnapshotJob, User, utcnow
from db.runs import create_run
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from tests.factories import episode_entry, track_entry, write_export

T = TypeVar("T")
TOKEN = "refresh-token-from-headless-login"
CLIENT_SECRET = "cli-client-secret"
KEY = generate_key()
PROFILE = {"id": "ann-id", "account_id": "acct-ann", "display_name": "Ann Smith"}


@pytest.fixture
def env(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    """The CLI's environment: Spotify app and one key configured; no .env file read."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": database_url,
        "SPOTIFY_CLIENT_ID": "cli-client",
        "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
        "TOKEN_ENCRYPTION_KEY": KEY,
    }.items():
        monkeypatch.setenv(name, value)
    return database_url


class Accounts:
    """Spotify's token endpoint and /me; `rotate_to` makes the refresh return a new token."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.rotate_to: str | None = None
        router.post("https://accounts.spotify.com/api/token").mock(side_effect=self._token)
        router.get("https://api.spotify.com/v1/me").mock(
            return_value=httpx.Response(200, json=PROFILE)
        )

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form.get("refresh_token") != [TOKEN]:
            return httpx.Response(400, json={"error": "invalid_grant"})
        body = {"access_token": "at", "expires_in": 3600, "scope": "user-top-read"}
        if self.rotate_to:
            body["refresh_token"] = self.rotate_to
        return httpx.Response(200, json=body)


@pytest.fixture
def spotify() -> Iterator[Accounts]:
    with respx.mock(assert_all_called=False) as router:
        yield Accounts(router)


def _read(url: str, fn: Callable[[], T]) -> T:
    # A Database of its own: the CLI rebinds the models to the databases it opens.
    database = Database(url, pool_size=1)
    try:
        return database.run_sync(fn)
    finally:
        database.close()


def _stored(url: str) -> list[tuple[str, str | None, str | None, str, str]]:
    def read() -> list[tuple[str, str | None, str | None, str, str]]:
        return [
            (
                u.username,
                u.spotify_account_id,
                u.display_name,
                u.status,
                TokenCipher([KEY]).decrypt(str(u.refresh_token_encrypted)),
            )
            for u in User.select().order_by(User.username)
        ]

    return _read(url, read)


def test_add_checks_the_token_and_stores_it_encrypted(
    env: str, spotify: Accounts, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "ann", "--refresh-token", TOKEN]) == 0
    assert capsys.readouterr().out == "added user ann (Ann Smith)\n"
    assert _stored(env) == [("ann", "acct-ann", "Ann Smith", "active", TOKEN)]
    assert TOKEN not in _read(env, lambda: str(User.get().refresh_token_encrypted))


def test_add_stores_the_token_spotify_rotated_to(env: str, spotify: Accounts) -> None:
    spotify.rotate_to = "rotated-token"
    assert main(["users", "add", "ann", "--refresh-token", TOKEN]) == 0
    assert _stored(env)[0][-1] == "rotated-token"


def test_add_reads_the_token_from_stdin(
    env: str, spotify: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(TOKEN + "\n"))
    assert main(["users", "add", "ann", "--refresh-token", "-"]) == 0
    assert _stored(env)[0][-1] == TOKEN


def test_a_refused_token_is_one_clear_line_and_stores_nothing(
    env: str, spotify: Accounts, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "ann", "--refresh-token", "revoked-token"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "invalid_grant" in err
    assert "nothing was stored" in err
    assert "revoked-token" not in err
    assert _stored(env) == []


def test_adding_again_replaces_the_token_clears_reauth_and_keeps_snapshots(
    env: str, spotify: Accounts
) -> None:
    def revoked_user_with_a_snapshot() -> None:
        save_user_token("ann", TokenCipher([KEY]).encrypt("old"), account_id="acct-ann")
        User.update(status=User.REAUTH_REQUIRED).execute()
        Snapshot.create(user=User.get(), date=dt.date(2026, 5, 1), status=Snapshot.COMPLETE)

    _read(env, revoked_user_with_a_snapshot)
    assert main(["users", "add", "ann", "--refresh-token", TOKEN]) == 0
    assert _stored(env) == [("ann", "acct-ann", "Ann Smith", "active", TOKEN)]
    assert _read(env, Snapshot.select().count) == 1


def test_a_token_of_an_account_registered_under_another_name_is_refused(
    env: str, spotify: Accounts, capsys: pytest.CaptureFixture[str]
) -> None:
    _read(env, lambda: save_user_token("bob", "cipher", account_id="acct-ann"))
    assert main(["users", "add", "ann", "--refresh-token", TOKEN]) == 2
    assert "already registered as user 'bob'" in capsys.readouterr().err
    assert _read(env, User.select().count) == 1


@pytest.mark.parametrize(
    ("unset", "says"),
    [
        pytest.param("SPOTIFY_CLIENT_SECRET", "SPOTIFY_CLIENT_SECRET", id="no-spotify-app"),
        pytest.param("TOKEN_ENCRYPTION_KEY", "TOKEN_ENCRYPTION_KEY", id="no-key"),
    ],
)
def test_add_needs_spotify_credentials_and_a_key(
    env: str,
    spotify: Accounts,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    unset: str,
    says: str,
) -> None:
    monkeypatch.delenv(unset)
    assert main(["users", "add", "ann", "--refresh-token", TOKEN]) == 2
    assert says in capsys.readouterr().err
    assert _stored(env) == []


def test_rotate_keys_re_encrypts_every_token_with_the_first_key(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def two_users() -> None:
        save_user_token("ann", TokenCipher([KEY]).encrypt("token-a"))
        save_user_token("bob", TokenCipher([KEY]).encrypt("token-b"))

    _read(env, two_users)
    new = generate_key()
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", f"{new},{KEY}")
    assert main(["users", "rotate-keys"]) == 0
    assert "re-encrypted 2 refresh tokens" in capsys.readouterr().out

    def decrypted_with_new_key_only() -> list[str]:
        cipher = TokenCipher([new])
        return sorted(cipher.decrypt(str(u.refresh_token_encrypted)) for u in User.select())

    assert _read(env, decrypted_with_new_key_only) == ["token-a", "token-b"]


def test_users_list_and_remove(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    _read(env, lambda: save_user_token("ann", "cipher"))
    assert main(["users", "list"]) == 0
    assert "ann" in capsys.readouterr().out
    assert main(["users", "remove", "ann"]) == 0
    assert main(["users", "remove", "ann"]) == 2
    assert "no user named 'ann'" in capsys.readouterr().err
    assert _read(env, User.select().count) == 0


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        pytest.param(
            ["snapshot", "--date", "2026-02-30"],
            "error: argument --date: 2026-02-30 is not a real calendar date "
            "(see application.py snapshot --help)",
            id="no-such-day",
        ),
        pytest.param(
            ["evaluate", "--cut", "2026-1-1"],
            "error: argument --cut: must be a date written YYYY-MM-DD, not '2026-1-1' "
            "(see application.py evaluate --help)",
            id="not-iso",
        ),
        pytest.param(
            ["serve", "--port", "70000"],
            "error: argument --port: '70000' is not a TCP port (1-65535) "
            "(see application.py serve --help)",
            id="port",
        ),
        pytest.param(
            ["serve", "--port", "\u00b2"],
            "error: argument --port: '\u00b2' is not a TCP port (1-65535) "
            "(see application.py serve --help)",
            id="port-superscript-digit",
        ),
        *(
            pytest.param(
                ["serve", "--workers", raw],
                f"error: argument --workers: {raw!r} is not a number of worker processes "
                "(1-64) (see application.py serve --help)",
                id=f"workers-{raw}",
            )
            for raw in ("0", "-2", "65", "100000", "1.5", "\u00b2")
        ),
        *(
            pytest.param(
                ["evaluate", "--k", raw],
                f"error: argument --k: {raw!r} is not a number of picks per user (1-500) "
                "(see application.py evaluate --help)",
                id=f"k-{raw}",
            )
            for raw in ("0", "-1", "501", "99999999999", "ten", "\u0663")
        ),
        pytest.param(
            ["users", "add", "ann"],
            "error: the following arguments are required: --refresh-token "
            "(see application.py users add --help)",
            id="missing",
        ),
    ],
)
def test_a_mistake_in_the_arguments_is_one_line(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == line + "\n"


def test_users_set_timezone(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    _read(env, lambda: save_user_token("ann", "cipher"))
    assert main(["users", "set", "ann", "--timezone", "Europe/Berlin"]) == 0
    assert "Europe/Berlin" in capsys.readouterr().out
    assert main(["users", "set", "ann", "--timezone", "Mars/Olympus"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: a time zone is an IANA name")
    assert error.count("\n") == 1
    assert main(["users", "set", "bob", "--timezone", "UTC"]) == 2
    assert "no user named 'bob'" in capsys.readouterr().err
    assert _read(env, lambda: User.get(User.username == "ann").timezone) == "Europe/Berlin"


def test_users_set_public_and_private(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    _read(env, lambda: save_user_token("ann", "cipher"))
    assert main(["users", "list"]) == 0
    assert re.search(r"^ann +active +private +never$", capsys.readouterr().out, re.M)
    assert main(["users", "set", "ann", "--public"]) == 0
    assert "pages are public" in capsys.readouterr().out
    assert _read(env, lambda: User.get(User.username == "ann").public) is True
    assert main(["users", "list"]) == 0
    assert re.search(r"^ann +active +public +never$", capsys.readouterr().out, re.M)
    assert main(["users", "set", "ann", "--private"]) == 0
    assert _read(env, lambda: User.get(User.username == "ann").public) is False
    assert main(["users", "set", "bob", "--public"]) == 2
    assert capsys.readouterr().err == "error: no user named 'bob'\n"


def test_users_set_needs_something_to_set_and_one_of_public_or_private(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "set", "ann"]) == 2
    assert capsys.readouterr().err.startswith("error: nothing to set")
    with pytest.raises(SystemExit):
        main(["users", "set", "ann", "--public", "--private"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_bad_zone_leaves_the_pages_as_they_were(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _read(env, lambda: save_user_token("ann", "cipher"))
    assert main(["users", "set", "ann", "--timezone", "Mars/Olympus", "--public"]) == 2
    assert _read(env, lambda: User.get(User.username == "ann").public) is False


def test_history_import_reports_and_refuses_a_malformed_file_in_one_line(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _read(env, lambda: save_user_token("ann", "cipher"))
    good = write_export(
        tmp_path / "Streaming_History_Audio_2024_0.json",
        [
            track_entry("4uLU6hMCjMI75M1A2tKUQC", "2024-03-01T10:00:00Z"),
            track_entry("4uLU6hMCjMI75M1A2tKUQC", "2024-03-01T10:00:00Z"),
            episode_entry("512ojhOuo1ktJprKbVcKyQ", "2024-03-01T11:00:00Z"),
        ],
    )
    bad = write_export(
        tmp_path / "Streaming_History_Audio_2024_1.json",
        [{**track_entry("7ouMYWpwJ422jRcDASZB7P", "2024-03-02T10:00:00Z"), "ts": "yesterday"}],
    )

    assert main(["history", "import", "ann", str(good)]) == 0
    first = capsys.readouterr().out
    assert main(["history", "import", "ann", str(good)]) == 0
    again = capsys.readouterr().out
    assert main(["history", "import", "ann", str(bad)]) == 2
    error = capsys.readouterr().err

    assert first.splitlines()[0] == "1 file(s): 2 plays imported, 0 already present, 1 skipped"
    assert "skipped 1: a duplicate" in first
    assert again.splitlines()[0] == "1 file(s): 0 plays imported, 2 already present, 1 skipped"
    assert error.count("\n") == 1
    assert "Streaming_History_Audio_2024_1.json" in error
    assert "ts must be an ISO 8601 time" in error
    assert _read(env, Play.select().count) == 1


def test_history_import_says_how_many_plays_were_at_implausible_times(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _read(env, lambda: save_user_token("ann", "cipher"))
    export = write_export(
        tmp_path / "Streaming_History_Audio_2024_0.json",
        [
            track_entry("4uLU6hMCjMI75M1A2tKUQC", "2024-03-01T10:00:00Z"),
            track_entry("7ouMYWpwJ422jRcDASZB7P", "1999-03-01T10:00:00Z"),
            track_entry("7ouMYWpwJ422jRcDASZB7P", "2999-03-01T10:00:00Z"),
            track_entry("7ouMYWpwJ422jRcDASZB7P", "2998-03-01T10:00:00Z"),
        ],
    )
    assert main(["history", "import", "ann", str(export)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "1 file(s): 1 plays imported, 0 already present, 3 skipped",
        "  skipped 2: played in the future (more than a day from now)",
        "  skipped 1: played before 2006-01-01, before Spotify existed",
    ]
    assert _read(env, Play.select().count) == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        pytest.param(
            "postgresql://insight@127.0.0.1:1/insight",
            "cannot reach the database",
            id="postgresql-refused",
        ),
        pytest.param("sqlite:///{tmp}/moved.db", "does not exist; run", id="sqlite-missing"),
    ],
)
@pytest.mark.parametrize("command", [["users", "list"], ["snapshot"], ["serve"]])
def test_an_unreachable_database_is_one_line_naming_the_fix(
    env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    url: str,
    says: str,
    command: list[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", url.format(tmp=tmp_path))
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert says in err
    assert "DATABASE_URL" in err or "migrate" in err
    assert not (tmp_path / "moved.db").exists()


@pytest.mark.parametrize("date", ["2999-01-01", "9999-12-31"])
def test_a_snapshot_date_after_tomorrow_is_refused(
    env: str, capsys: pytest.CaptureFixture[str], date: str
) -> None:
    _read(env, lambda: save_user_token("ann", TokenCipher([KEY]).encrypt(TOKEN)))
    assert main(["snapshot", "--date", date]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{date} is after tomorrow" in err
    assert _read(env, Snapshot.select().count) == 0


def _ann_on(*days: dt.date) -> None:
    user = User.create(username="ann")
    for day in days:
        Snapshot.create(user=user, date=day, status=Snapshot.COMPLETE)


def test_snapshot_delete_removes_one_snapshot(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    keep, drop = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
    _read(env, lambda: _ann_on(keep, drop))
    assert main(["snapshot", "delete", "ann", "2026-11-20"]) == 0
    assert "deleted ann's snapshot of 2026-11-20" in capsys.readouterr().out
    assert _read(env, lambda: [s.date for s in Snapshot.select()]) == [keep]
    assert main(["snapshot", "delete", "ann", "2026-11-20"]) == 2
    assert "ann has no snapshot on 2026-11-20" in capsys.readouterr().err
    assert main(["snapshot", "delete", "nobody", "2026-11-19"]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err
    assert _read(env, Snapshot.select().count) == 1


def _crashed_worker_holds_anns_job(today: dt.date) -> None:
    """A worker claimed ann's job, wrote her snapshot and died before recording it done."""
    save_user_token("ann", TokenCipher([KEY]).encrypt(TOKEN))
    create_run(today, trigger="nightly")
    held = claim_next_job("crashed-host:41/0", lease=dt.timedelta(minutes=10))
    assert held is not None
    Snapshot.create(user=User.get(), date=today, status=Snapshot.COMPLETE)


def _end_the_lease_once_told(capsys: pytest.CaptureFixture[str], heard: list[str]) -> None:
    """Read the CLI's stderr until it says what it waits for, then let the lease run out."""
    deadline = time.monotonic() + 20
    while "waiting for" not in "".join(heard) and time.monotonic() < deadline:
        heard.append(capsys.readouterr().err)
        time.sleep(0.02)
    expired = {SnapshotJob.lease_until: utcnow() - dt.timedelta(seconds=1)}
    # The CLI's own database (this thread gets a connection of its own from it).
    with database_proxy.connection_context():
        SnapshotJob.update(expired).execute()


def test_a_snapshot_waiting_for_a_crashed_workers_lease_says_so_in_one_line(
    env: str, spotify: Accounts, capsys: pytest.CaptureFixture[str]
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    _read(env, lambda: _crashed_worker_holds_anns_job(today))
    heard: list[str] = []
    ender = threading.Thread(target=_end_the_lease_once_told, args=(capsys, heard))
    ender.start()
    try:
        code = main(["snapshot", "--date", today.isoformat()])
    finally:
        ender.join()
    captured = capsys.readouterr()
    err = "".join(heard) + captured.err
    waits = [line for line in err.splitlines() if line.startswith("waiting for")]
    assert len(waits) == 1, err
    assert "ann held by worker crashed-host:41/0 until its lease ends at " in waits[0]
    assert re.search(r"at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", waits[0]), waits[0]
    assert code == 0  # the lease ran out: the run took the job over, found the snapshot written
    assert "1 ok, 0 failed" in captured.out
