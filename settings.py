"""Every setting of the service, declared once: its variable, parser, default and meaning.

Each field of `Settings` carries its declaration, so the dataclass, the README's
configuration table (`python settings.py --markdown`) and the tests' clean environment are
all read from one place, and a new setting cannot be missed by any of them.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.config import Config, EnvironError
from starlette.datastructures import CommaSeparatedStrings, Secret

RECOMMENDERS = ("auto", "spotify", "local")
# The sources each setting may name, in their default order; jobs/ builds them by these names.
FEATURE_SOURCES = ("spotify", "reccobeats", "csv")
RECOMMENDATION_SOURCES = (
    "spotify",
    "reccobeats",
    "csv",
    "artists",
    "co-listeners",
    "collaborators",
    "search",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# `.env` is read beside the code (as the README says), whichever directory the service starts in.
ENV_FILE = Path(__file__).resolve().parent / ".env"
_DECLARATION = "setting"
_PARSE_DEFAULT: Any = object()


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line naming it."""


Parse = Callable[[str, str], Any]


@dataclasses.dataclass(frozen=True)
class Declaration:
    """One environment variable: how its text becomes a value, its default, its meaning."""

    variable: str
    parse: Parse
    default: str | Callable[[], str]
    meaning: str
    shown_default: str | None
    # The value when the variable is absent, for settings where written-but-empty is a mistake.
    unset: Any = _PARSE_DEFAULT

    def read(self, config: Config) -> Any:
        raw = config(self.variable, default=None)
        if raw is None:
            if self.unset is not _PARSE_DEFAULT:
                return self.unset
            raw = self.default() if callable(self.default) else self.default
        return self.parse(self.variable, raw)

    def table_row(self) -> str:
        default = self.shown_default or f"`{self.default}`"
        return f"| `{self.variable}` | {self.meaning} | {default} |"


def _declare(
    variable: str,
    parse: Parse,
    default: str | Callable[[], str],
    meaning: str,
    *,
    shown_default: str | None = None,
    unset: Any = _PARSE_DEFAULT,
) -> dict[str, Declaration]:
    """A field's metadata; the field itself has no default, so a Settings is built whole."""
    return {_DECLARATION: Declaration(variable, parse, default, meaning, shown_default, unset)}


def _echo(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")


def _text(variable: str, raw: str) -> str:
    return raw


def _optional_text(variable: str, raw: str) -> str | None:
    return raw or None


def _log_level(variable: str, raw: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise SettingsError(f"{variable} must be one of {', '.join(LOG_LEVELS)}, not {_echo(raw)}")
    return value


def _optional_path(variable: str, raw: str) -> Path | None:
    return Path(raw) if raw else None


def _optional_secret(variable: str, raw: str) -> Secret | None:
    return Secret(raw) if raw else None


def _secret_list(variable: str, raw: str) -> tuple[Secret, ...]:
    return tuple(Secret(value) for value in CommaSeparatedStrings(raw) if value)


def _key_list(variable: str, raw: str) -> tuple[Secret, ...]:
    # Written but empty (`API_KEYS=" , "`, or `API_KEYS=$UNSET_VARIABLE`) is a mistake that
    # would silently open every read: refuse it rather than guess.
    keys = tuple(Secret(value.strip()) for value in raw.split(",") if value.strip())
    if not keys:
        raise SettingsError(
            f"{variable} is set but lists no key: list keys separated by commas, "
            f"or remove {variable} to leave reads open"
        )
    return keys


SESSION_SECRET_MIN = 32


def _session_secret(variable: str, raw: str) -> Secret | None:
    # Every worker process must sign with the same secret, so it is a setting, never random;
    # a short one could be guessed offline from any cookie it signed.
    if not raw:
        return None
    if len(raw) < SESSION_SECRET_MIN:
        raise SettingsError(
            f"{variable} must be at least {SESSION_SECRET_MIN} characters; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return Secret(raw)


def _whole(maximum: int) -> Parse:
    def parse(variable: str, raw: str) -> int:
        text = raw.strip()
        fits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
        if not fits or not 1 <= int(text) <= maximum:
            raise SettingsError(
                f"{variable} must be a positive whole number up to {maximum}, not {_echo(raw)}"
            )
        return int(text)

    return parse


def _duration(unit: str, maximum: int, *, zero_is_off: bool = False) -> Parse:
    """A number of `unit` up to `maximum`: positive, or 0 as well where 0 turns a thing off."""
    rule = (
        f"a number of {unit} up to {maximum} (0 = off)"
        if zero_is_off
        else f"a positive number of {unit} up to {maximum}"
    )

    def parse(variable: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        # NaN fails every comparison, so it is refused here too, as are 1e400 (infinity) and
        # 1e300, which would overflow the first timedelta made of it.
        low_ok = value >= 0 if zero_is_off else value > 0
        if not (low_ok and value <= maximum):
            raise SettingsError(f"{variable} must be {rule}, not {_echo(raw)}")
        return value

    return parse


def _seconds(maximum: int) -> Parse:
    return _duration("seconds", maximum)


def _choice(*choices: str) -> Parse:
    def parse(variable: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise SettingsError(f"{variable} must be one of {', '.join(choices)}, not {value!r}")
        return value

    return parse


def _url(variable: str, raw: str) -> str:
    value = raw.rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{variable} must be an http:// or https:// URL, not {value!r}")
    return value


def _optional_origin(variable: str, raw: str) -> str | None:
    if not raw.strip():
        return None
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise SettingsError(
            f"{variable} must be the service's public origin, like https://insight.example.org, "
            f"not {_echo(raw)}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(f"{variable} must be scheme://host[:port] only, not {_echo(raw)}")
    return f"{parts.scheme}://{parts.netloc}"


def origin_of(url: str) -> str:
    """scheme://host[:port] of an absolute URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_names(names: Iterable[str], known: Sequence[str]) -> tuple[str, ...]:
    """`names` as a tuple; ValueError naming the first that is not one of `known`."""
    checked = tuple(names)
    unknown = [name for name in checked if name not in known]
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r}; choose from {', '.join(known)}")
    return checked


def _sources(known: Sequence[str]) -> Parse:
    def parse(variable: str, raw: str) -> tuple[str, ...]:
        names = dict.fromkeys(s.lower() for s in CommaSeparatedStrings(raw))
        try:
            return check_names(names, known)
        except ValueError as exc:
            raise SettingsError(f"{variable} has {exc}") from None

    return parse


def _share(variable: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{variable} must be a number from 0 to 1, not {raw!r}")
    return value


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'spotify_insight.db'}"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of the service, read once from the environment and `.env`."""

    database_url: str = dataclasses.field(
        metadata=_declare(
            "DATABASE_URL",
            _text,
            _default_database_url,
            "`sqlite:///path` or `postgresql://user@host:port/db`",
            shown_default="`sqlite:///<cwd>/spotify_insight.db`",
        )
    )
    db_pool_size: int = dataclasses.field(
        metadata=_declare(
            "DB_POOL_SIZE",
            _whole(1000),
            "8",
            "PostgreSQL connections, and threads doing database work at once",
        )
    )
    db_read_connections: int = dataclasses.field(
        metadata=_declare(
            "DB_READ_CONNECTIONS",
            _whole(1000),
            "24",
            "PostgreSQL connections of their own for snapshot document reads the read cache "
            "misses, opened as needed",
        )
    )
    read_cache_mb: int = dataclasses.field(
        metadata=_declare(
            "READ_CACHE_MB",
            _whole(1_000_000),
            "64",
            "megabytes of rendered snapshot responses each serving process keeps in memory",
        )
    )
    db_connect_timeout: float = dataclasses.field(
        metadata=_declare(
            "DB_CONNECT_TIMEOUT",
            _seconds(300),
            "5",
            "seconds to wait for a PostgreSQL connection, or a free one in the pool, "
            "before answering 503",
        )
    )
    db_statement_timeout: float = dataclasses.field(
        metadata=_declare(
            "DB_STATEMENT_TIMEOUT",
            _seconds(3600),
            "60",
            "seconds a PostgreSQL statement may run before the server cancels it; one left "
            "unanswered this plus DB_CONNECT_TIMEOUT (a frozen server) loses its connection "
            "(`migrate` has none)",
        )
    )
    public_url: str | None = dataclasses.field(
        metadata=_declare(
            "PUBLIC_URL",
            _optional_origin,
            "",
            "origin the service is reached at (`https://host[:port]`); absolute URLs in "
            "answers are built from it, never from the request's Host header",
            shown_default="the origin of `SPOTIFY_REDIRECT_URI`",
        )
    )
    spotify_client_id: str | None = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_CLIENT_ID", _optional_text, "", "Spotify app client id", shown_default="none"
        )
    )
    spotify_client_secret: Secret | None = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_CLIENT_SECRET",
            _optional_secret,
            "",
            "Spotify app client secret",
            shown_default="none",
        )
    )
    spotify_redirect_uri: str = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_REDIRECT_URI", _url, "http://127.0.0.1:8000/auth/callback", "OAuth callback"
        )
    )
    spotify_api_url: str = dataclasses.field(
        metadata=_declare("SPOTIFY_API_URL", _url, "https://api.spotify.com/v1", "Web API base")
    )
    spotify_accounts_url: str = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_ACCOUNTS_URL",
            _url,
            "https://accounts.spotify.com",
            "accounts base (`/authorize`, `/api/token`)",
        )
    )
    spotify_max_concurrency: int = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_MAX_CONCURRENCY", _whole(1000), "8", "requests in flight to Spotify at once"
        )
    )
    spotify_timeout: float = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_TIMEOUT", _seconds(3600), "10", "seconds before a Spotify request times out"
        )
    )
    spotify_rate_window: float = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_RATE_WINDOW",
            _seconds(3600),
            "30",
            "seconds of Spotify's rolling rate-limit window; after a 429 the client paces "
            "itself to what was accepted within one",
        )
    )
    token_encryption_keys: tuple[Secret, ...] = dataclasses.field(
        metadata=_declare(
            "TOKEN_ENCRYPTION_KEY",
            _secret_list,
            "",
            "Fernet key(s), comma-separated for rotation: the first encrypts, all decrypt",
            shown_default="required once a user exists",
        )
    )
    api_keys: tuple[Secret, ...] = dataclasses.field(
        metadata=_declare(
            "API_KEYS",
            _key_list,
            "",
            "comma list of instance-wide keys: `Authorization: Bearer <key>` reads every user; "
            "once these or a scoped key (`keys create`) exist, API reads need a credential; "
            "set but empty stops the service",
            shown_default="unset = open while no scoped key exists",
            unset=(),
        )
    )
    admin_token: Secret | None = dataclasses.field(
        metadata=_declare(
            "ADMIN_TOKEN",
            _optional_secret,
            "",
            "bearer token for admin endpoints",
            shown_default="unset = no admin endpoints",
        )
    )
    session_secret: Secret | None = dataclasses.field(
        metadata=_declare(
            "SESSION_SECRET",
            _session_secret,
            "",
            f"signs the session cookie of people signed in with Spotify (at least "
            f"{SESSION_SECRET_MIN} characters); every worker process must share it",
            shown_default="derived from the first `TOKEN_ENCRYPTION_KEY`; without either, "
            "nobody can sign in",
        )
    )
    session_max_age: int = dataclasses.field(
        metadata=_declare(
            "SESSION_MAX_AGE",
            _whole(366 * 24 * 3600),
            str(14 * 24 * 3600),
            "seconds a sign-in lasts; the session cookie expires then",
        )
    )
    snapshot_cron: str = dataclasses.field(
        metadata=_declare("SNAPSHOT_CRON", _text, "0 0 * * *", "nightly schedule (crontab syntax)")
    )
    snapshot_timezone: str = dataclasses.field(
        metadata=_declare(
            "SNAPSHOT_TIMEZONE", _text, "UTC", "IANA time zone of the nightly schedule"
        )
    )
    snapshot_workers: int = dataclasses.field(
        metadata=_declare(
            "SNAPSHOT_WORKERS", _whole(1000), "4", "users snapshotted at once by one process"
        )
    )
    snapshot_lease: float = dataclasses.field(
        metadata=_declare(
            "SNAPSHOT_LEASE_SECONDS",
            _seconds(7 * 24 * 3600),
            "600",
            "how long a claimed job is held before another worker may take it over",
        )
    )
    history_interval: float = dataclasses.field(
        metadata=_declare(
            "HISTORY_INTERVAL",
            _duration("minutes", 7 * 24 * 60, zero_is_off=True),
            "30",
            "minutes between polls of each user's recently played (Spotify keeps the last 50); "
            "each user's polls fall at their own point of the interval; `0` turns polling off",
        )
    )
    snapshot_user_deadline: float = dataclasses.field(
        metadata=_declare(
            "SNAPSHOT_USER_DEADLINE",
            _seconds(7 * 24 * 3600),
            "1800",
            "seconds one user's snapshot may spend waiting on Spotify's rate limit before it "
            "is put back to be retried later in the run",
        )
    )
    snapshot_run_deadline: float = dataclasses.field(
        metadata=_declare(
            "SNAPSHOT_RUN_DEADLINE",
            _seconds(7 * 24 * 3600),
            "43200",
            "seconds after its start a run stops retrying users Spotify's rate limit put back; "
            "they are then reported as rate limited, never as failed",
        )
    )
    audio_features_sources: tuple[str, ...] = dataclasses.field(
        metadata=_declare(
            "AUDIO_FEATURES_SOURCES",
            _sources(FEATURE_SOURCES),
            "",
            f"ordered comma list of {', '.join(f'`{name}`' for name in FEATURE_SOURCES)}",
            shown_default="every configured source, in that order",
        )
    )
    audio_features_csv: Path | None = dataclasses.field(
        metadata=_declare(
            "AUDIO_FEATURES_CSV",
            _optional_path,
            "",
            'a CSV in the Kaggle "Spotify Tracks Dataset" layout',
            shown_default="unset",
        )
    )
    reccobeats_url: str = dataclasses.field(
        metadata=_declare(
            "RECCOBEATS_URL", _url, "https://api.reccobeats.com/v1", "ReccoBeats API base"
        )
    )
    recommender: str = dataclasses.field(
        metadata=_declare(
            "RECOMMENDER",
            _choice(*RECOMMENDERS),
            "auto",
            "`auto` (Spotify's when the app has it, else local), `spotify`, `local`",
        )
    )
    recommendation_sources: tuple[str, ...] = dataclasses.field(
        metadata=_declare(
            "RECOMMENDATION_SOURCES",
            _sources(RECOMMENDATION_SOURCES),
            "",
            "ordered comma list of the local recommender's candidate sources: "
            + ", ".join(f"`{name}`" for name in RECOMMENDATION_SOURCES)
            + "; each is optional, and a failing one is logged and counted in the snapshot",
            shown_default="every one that is configured, in that order",
        )
    )
    discovery: float = dataclasses.field(
        metadata=_declare(
            "DISCOVERY",
            _share,
            "0.4",
            "share (0 to 1) of the local recommender's picks by artists new to the user",
        )
    )
    log_level: str = dataclasses.field(
        metadata=_declare(
            "LOG_LEVEL", _log_level, "INFO", ", ".join(f"`{level}`" for level in LOG_LEVELS)
        )
    )
    log_format: str = dataclasses.field(
        metadata=_declare(
            "LOG_FORMAT",
            _choice(*LOG_FORMATS),
            "text",
            "`text` (readable lines) or `json` (one JSON object per line); either way each line "
            "names its request (`request_id`) or snapshot run (`run_id`)",
        )
    )

    @classmethod
    def from_environment(cls, env_file: str | Path | None = ENV_FILE) -> Settings:
        """Read and validate the settings; raise SettingsError with one clear line."""
        config = _config(Path(env_file) if env_file else None)
        try:
            values = {field.name: declaration.read(config) for field, declaration in _declared()}
        except (EnvironError, ValueError) as exc:
            raise SettingsError(str(exc).splitlines()[0]) from None
        return cls(**values)

    @property
    def public_origin(self) -> str:
        """Where clients reach the service: PUBLIC_URL, else the redirect URI's origin."""
        return self.public_url or origin_of(self.spotify_redirect_uri)

    @property
    def has_spotify_app(self) -> bool:
        """Whether the Spotify app's client id and secret are both set."""
        return bool(self.spotify_client_id and self.spotify_client_secret)

    def require_spotify_app(self, purpose: str) -> None:
        """SettingsError naming both credentials unless the Spotify app is configured."""
        if not self.has_spotify_app:
            raise SettingsError(
                f"SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set to {purpose}"
            )


def _config(env_file: Path | None) -> Config:
    if env_file is None or not env_file.is_file():
        return Config()
    try:
        return Config(env_file)
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{env_file} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise SettingsError(
            f"{env_file} cannot be read ({exc.strerror}); check its permissions"
        ) from None


def _declared() -> Iterator[tuple[dataclasses.Field[Any], Declaration]]:
    for field in dataclasses.fields(Settings):
        yield field, field.metadata[_DECLARATION]


def variables() -> tuple[str, ...]:
    """The environment variables the service reads, in declaration order."""
    return tuple(declaration.variable for _, declaration in _declared())


def markdown_table() -> str:
    """The README's configuration table, rendered from the declarations."""
    header = ["| variable | meaning | default |", "|---|---|---|"]
    return "\n".join(header + [declaration.table_row() for _, declaration in _declared()])


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python settings.py --markdown")
    print(markdown_table())
