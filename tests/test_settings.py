"""Settings: validation, and the README table and test environment derived from them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.datastructures import Secret

from settings import Settings, SettingsError, _declared, markdown_table, variables
from tests.conftest import SETTING_NAMES

ROOT = Path(__file__).resolve().parent.parent
TABLE_HEADER = "| variable | meaning | default |"


@pytest.fixture
def settings(settings_without_database: Settings) -> Settings:
    """Nothing here opens the database: one run per test, not one per kind of database."""
    return settings_without_database


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param(
            "DB_POOL_SIZE", "zero", "DB_POOL_SIZE must be a positive whole number", id="pool"
        ),
        pytest.param(
            "RECOMMENDER",
            "magic",
            "RECOMMENDER must be one of auto, spotify, local",
            id="recommender",
        ),
        pytest.param(
            "SPOTIFY_API_URL", "api.spotify.com", "SPOTIFY_API_URL must be an http", id="url"
        ),
        pytest.param(
            "AUDIO_FEATURES_SOURCES", "spotify,lastfm", "unknown source 'lastfm'", id="sources"
        ),
        pytest.param(
            "RECOMMENDATION_SOURCES",
            "csv,lastfm",
            "RECOMMENDATION_SOURCES has unknown source 'lastfm'",
            id="recommendation-sources",
        ),
        pytest.param("DISCOVERY", "1.5", "DISCOVERY must be a number from 0 to 1", id="discovery"),
        pytest.param(
            "SNAPSHOT_LEASE_SECONDS", "-5", "SNAPSHOT_LEASE_SECONDS must be a positive", id="lease"
        ),
        pytest.param(
            "HISTORY_INTERVAL", "-1", "HISTORY_INTERVAL must be a number of minutes", id="interval"
        ),
        pytest.param(
            "HISTORY_INTERVAL", "nan", "HISTORY_INTERVAL must be a number of minutes", id="nan"
        ),
        pytest.param(
            "LOG_FORMAT", "logfmt", "LOG_FORMAT must be one of text, json", id="log-format"
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_environment(env_file=None)
    assert "\n" not in str(raised.value)


def test_values_are_parsed_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    for name, value in {
        "SNAPSHOT_LEASE_SECONDS": "90",
        "TOKEN_ENCRYPTION_KEY": "new, old",
        "AUDIO_FEATURES_SOURCES": "CSV,Spotify",
        "RECOMMENDER": " Local ",
        "RECOMMENDATION_SOURCES": "CSV, co-listeners,csv",
        "DISCOVERY": "0.25",
        "RECCOBEATS_URL": "http://127.0.0.1:9/v1/",
        "AUDIO_FEATURES_CSV": "tracks.csv",
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": " JSON ",
        "SNAPSHOT_USER_DEADLINE": "120",
        "SPOTIFY_RATE_WINDOW": "2.5",
    }.items():
        monkeypatch.setenv(name, value)
    read = Settings.from_environment(env_file=None)
    assert read.snapshot_lease == 90.0
    assert [str(key) for key in read.token_encryption_keys] == ["new", "old"]
    assert read.audio_features_sources == ("csv", "spotify")
    assert read.recommender == "local"
    assert read.recommendation_sources == ("csv", "co-listeners")
    assert read.discovery == 0.25
    assert read.reccobeats_url == "http://127.0.0.1:9/v1"
    assert read.audio_features_csv == Path("tracks.csv")
    assert read.log_level == "DEBUG"
    assert read.log_format == "json"
    assert read.snapshot_user_deadline == 120.0
    assert read.spotify_rate_window == 2.5


def test_a_fresh_install_has_the_documented_defaults(settings: Settings) -> None:
    fresh = dataclasses.replace(settings, database_url="")
    assert fresh == Settings(
        database_url="",
        db_pool_size=8,
        db_read_connections=24,
        read_cache_mb=64,
        db_connect_timeout=5.0,
        db_statement_timeout=60.0,
        public_url=None,
        spotify_client_id=None,
        spotify_client_secret=None,
        spotify_redirect_uri="http://127.0.0.1:8000/auth/callback",
        spotify_api_url="https://api.spotify.com/v1",
        spotify_accounts_url="https://accounts.spotify.com",
        spotify_max_concurrency=8,
        spotify_timeout=10.0,
        spotify_rate_window=30.0,
        token_encryption_keys=(),
        api_keys=(),
        admin_token=None,
        session_secret=None,
        session_max_age=14 * 24 * 3600,
        snapshot_cron="0 0 * * *",
        snapshot_timezone="UTC",
        snapshot_workers=4,
        snapshot_lease=600.0,
        history_interval=30.0,
        snapshot_user_deadline=1800.0,
        snapshot_run_deadline=43200.0,
        audio_features_sources=(),
        audio_features_csv=None,
        reccobeats_url="https://api.reccobeats.com/v1",
        recommender="auto",
        recommendation_sources=(),
        discovery=0.4,
        log_level="INFO",
        log_format="text",
    )
    assert fresh.public_origin == "http://127.0.0.1:8000"


def test_the_default_database_is_sqlite_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    read = Settings.from_environment(env_file=None)
    assert read.database_url == f"sqlite:///{tmp_path / 'spotify_insight.db'}"


def test_a_dot_env_file_is_read(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SNAPSHOT_WORKERS=2\nADMIN_TOKEN=from-file\n")
    read = Settings.from_environment(env_file=env_file)
    assert read.snapshot_workers == 2
    assert str(read.admin_token) == "from-file"


@pytest.mark.parametrize(
    ("client_id", "secret", "configured"),
    [
        pytest.param("app", "shh", True, id="both"),
        pytest.param("app", None, False, id="no-secret"),
        pytest.param(None, "shh", False, id="no-id"),
    ],
)
def test_the_spotify_app_needs_both_credentials(
    settings: Settings, client_id: str | None, secret: str | None, configured: bool
) -> None:
    app = dataclasses.replace(
        settings,
        spotify_client_id=client_id,
        spotify_client_secret=Secret(secret) if secret else None,
    )
    assert app.has_spotify_app is configured
    if configured:
        app.require_spotify_app("talk to Spotify")
        return
    with pytest.raises(SettingsError) as raised:
        app.require_spotify_app("talk to Spotify")
    assert str(raised.value) == (
        "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set to talk to Spotify"
    )


def test_every_field_is_declared_with_a_variable() -> None:
    assert len(variables()) == len(dataclasses.fields(Settings))
    assert len(set(variables())) == len(variables())
    assert {"TOKEN_ENCRYPTION_KEY", "SNAPSHOT_LEASE_SECONDS"} <= set(variables())


def test_the_test_environment_clears_every_declared_variable() -> None:
    assert set(variables()) == SETTING_NAMES


@pytest.fixture
def polluted_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every declared variable set to a value no setting accepts as its default."""
    for name in variables():
        monkeypatch.setenv(name, "polluted")


@pytest.mark.usefixtures("polluted_environment")
def test_the_settings_fixture_starts_from_a_fresh_install(settings: Settings) -> None:
    assert settings.recommender == "auto"
    assert settings.admin_token is None
    assert not any(name in os.environ for name in variables() if name != "DATABASE_URL")


def _readme_table() -> str:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(TABLE_HEADER)
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def test_the_readme_table_is_rendered_from_the_declarations() -> None:
    # On failure: python settings.py --markdown, and paste the table into README.md.
    assert _readme_table() == markdown_table()


def test_the_table_lists_every_variable_once() -> None:
    rows = markdown_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == list(variables())


def test_python_settings_py_prints_the_table() -> None:
    printed = subprocess.run(
        [sys.executable, "settings.py", "--markdown"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout == markdown_table() + "\n"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param(
            "SPOTIFY_TIMEOUT", "nan", "SPOTIFY_TIMEOUT must be a positive number", id="nan"
        ),
        pytest.param(
            "SPOTIFY_TIMEOUT", "inf", "SPOTIFY_TIMEOUT must be a positive number", id="inf"
        ),
        pytest.param(
            "SNAPSHOT_LEASE_SECONDS",
            "1e400",
            "SNAPSHOT_LEASE_SECONDS must be a positive",
            id="1e400",
        ),
        pytest.param(
            "SNAPSHOT_LEASE_SECONDS",
            "1e300",
            "SNAPSHOT_LEASE_SECONDS must be a positive",
            id="1e300",
        ),
        pytest.param("DB_POOL_SIZE", "9" * 30, "DB_POOL_SIZE must be a positive whole", id="huge"),
        pytest.param(
            "SNAPSHOT_WORKERS", "2.5", "SNAPSHOT_WORKERS must be a positive whole", id="frac"
        ),
        pytest.param("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of DEBUG, INFO", id="log-level"),
        pytest.param("API_KEYS", " , ", "API_KEYS is set but lists no key", id="no-api-key"),
        pytest.param("API_KEYS", "", "API_KEYS is set but lists no key", id="empty-api-keys"),
    ],
)
def test_a_value_that_would_fail_later_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_environment(env_file=None)
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith(name)


def test_an_env_file_that_is_not_utf8_is_one_line_naming_it(
    settings: Settings, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes("ADMIN_TOKEN=caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(env_file=env_file)
    message = str(raised.value)
    assert "\n" not in message
    assert str(env_file) in message
    assert "UTF-8" in message


def test_the_env_file_is_read_beside_the_code_not_from_the_working_directory(
    tmp_path: Path,
) -> None:
    """Started from another directory, the service still reads its own `.env`."""
    code = tmp_path / "app"
    code.mkdir()
    (code / "settings.py").write_text((ROOT / "settings.py").read_text())
    (code / ".env").write_text("ADMIN_TOKEN=beside-the-code\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("ADMIN_TOKEN=working-directory\n")
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    env["PYTHONPATH"] = f"{code}{os.pathsep}{ROOT}"
    script = "import settings; print(settings.Settings.from_environment().admin_token)"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    # Secret's str() is the value itself.
    assert done.stdout.strip() == "beside-the-code"


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        pytest.param("https://insight.example.org", "https://insight.example.org", id="https"),
        pytest.param("http://10.0.0.5:8080/", "http://10.0.0.5:8080", id="trailing-slash"),
    ],
)
def test_public_url_is_an_origin(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, value: str, origin: str
) -> None:
    monkeypatch.setenv("PUBLIC_URL", value)
    assert Settings.from_environment(env_file=None).public_origin == origin


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("insight.example.org", id="no-scheme"),
        pytest.param("https://insight.example.org/app", id="path"),
        pytest.param("https://insight.example.org/?a=1", id="query"),
        pytest.param("ftp://insight.example.org", id="scheme"),
    ],
)
def test_a_public_url_that_is_not_an_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, value: str
) -> None:
    monkeypatch.setenv("PUBLIC_URL", value)
    with pytest.raises(SettingsError, match=r"^PUBLIC_URL must be"):
        Settings.from_environment(env_file=None)


def test_the_public_origin_defaults_to_the_redirect_uris(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("SPOTIFY_REDIRECT_URI", "https://music.example.org:8443/auth/callback")
    read = Settings.from_environment(env_file=None)
    assert read.public_origin == "https://music.example.org:8443"


NUMBERS = [
    declaration.variable
    for field, declaration in _declared()
    if field.type in ("int", "float", "int | None", "float | None")
]


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("value", ["1e300", "1e400", "inf", "-inf", "nan", "-1"])
def test_no_number_setting_takes_an_absurd_value(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, name: str, value: str
) -> None:
    """A duration of 1e300 minutes overflows the first timedelta made of it, long after start."""
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(env_file=None)
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith(f"{name} must be ")


def test_the_absurd_values_sweep_covers_every_number_setting() -> None:
    assert {"HISTORY_INTERVAL", "SNAPSHOT_LEASE_SECONDS", "DISCOVERY", "DB_POOL_SIZE"} <= set(
        NUMBERS
    )
