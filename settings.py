"""Every setting of the service, declared once: its variable, parser, default and meaning.

Each field of `Settings` carries its declaration, so the dataclass, the README's
configuration table (`python settings.py --markdown`) and the tests' clean environment are
all read from one place, and a new setting cannot be missed by any of them.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

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
_DECLARATION = "setting"


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

    def read(self, config: Config) -> Any:
        default = self.default() if callable(self.default) else self.default
        return self.parse(self.variable, config(self.variable, default=default))

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
) -> dict[str, Declaration]:
    """A field's metadata; the field itself has no default, so a Settings is built whole."""
    return {_DECLARATION: Declaration(variable, parse, default, meaning, shown_default)}


def _text(variable: str, raw: str) -> str:
    return raw


def _optional_text(variable: str, raw: str) -> str | None:
    return raw or None


def _upper(variable: str, raw: str) -> str:
    return raw.upper()


def _optional_path(variable: str, raw: str) -> Path | None:
    return Path(raw) if raw else None


def _optional_secret(variable: str, raw: str) -> Secret | None:
    return Secret(raw) if raw else None


def _secret_list(variable: str, raw: str) -> tuple[Secret, ...]:
    return tuple(Secret(value) for value in CommaSeparatedStrings(raw) if value)


def _positive(cast: type[int] | type[float]) -> Parse:
    def parse(variable: str, raw: str) -> float:
        try:
            value = cast(raw)
        except ValueError:
            raise SettingsError(f"{variable} must be a positive number, not {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"{variable} must be a positive number, not {raw!r}")
        return value

    return parse


def _minutes_or_off(variable: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or value != value or value == float("inf"):
        raise SettingsError(f"{variable} must be a number of minutes (0 = off), not {raw!r}")
    return value


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
            _positive(int),
            "8",
            "PostgreSQL connections, and threads doing database work at once",
        )
    )
    read_cache_mb: int = dataclasses.field(
        metadata=_declare(
            "READ_CACHE_MB",
            _positive(int),
            "64",
            "megabytes of rendered snapshot responses each serving process keeps in memory",
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
            "SPOTIFY_MAX_CONCURRENCY", _positive(int), "8", "requests in flight to Spotify at once"
        )
    )
    spotify_timeout: float = dataclasses.field(
        metadata=_declare(
            "SPOTIFY_TIMEOUT", _positive(float), "10", "seconds before a Spotify request times out"
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
            _secret_list,
            "",
            "comma list; when set, API reads need `Authorization: Bearer <key>`",
            shown_default="unset = open",
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
            "SNAPSHOT_WORKERS", _positive(int), "4", "users snapshotted at once by one process"
        )
    )
    snapshot_lease: float = dataclasses.field(
        metadata=_declare(
            "SNAPSHOT_LEASE_SECONDS",
            _positive(float),
            "600",
            "how long a claimed job is held before another worker may take it over",
        )
    )
    history_interval: float = dataclasses.field(
        metadata=_declare(
            "HISTORY_INTERVAL",
            _minutes_or_off,
            "30",
            "minutes between polls of each user's recently played (Spotify keeps the last 50); "
            "each user's polls fall at their own point of the interval; `0` turns polling off",
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
        metadata=_declare("LOG_LEVEL", _upper, "INFO", "`DEBUG`, `INFO`, `WARNING`...")
    )

    @classmethod
    def from_environment(cls, env_file: str | Path | None = ".env") -> Settings:
        """Read and validate the settings; raise SettingsError with one clear line."""
        config = Config(env_file if env_file and Path(env_file).is_file() else None)
        try:
            values = {field.name: declaration.read(config) for field, declaration in _declared()}
        except (EnvironError, ValueError) as exc:
            raise SettingsError(str(exc).splitlines()[0]) from None
        return cls(**values)

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
