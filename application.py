"""Spotify Insight: settings, the composition root and the command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

from starlette.config import Config, EnvironError
from starlette.datastructures import CommaSeparatedStrings, Secret

RECOMMENDERS = ("auto", "spotify", "local")
FEATURE_SOURCES = ("spotify", "reccobeats", "csv")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line naming it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of the service, read once from the environment and `.env`."""

    database_url: str
    db_pool_size: int
    spotify_client_id: str | None
    spotify_client_secret: Secret | None
    spotify_redirect_uri: str
    spotify_api_url: str
    spotify_accounts_url: str
    spotify_max_concurrency: int
    spotify_timeout: float
    token_encryption_keys: tuple[Secret, ...]
    api_keys: tuple[Secret, ...]
    admin_token: Secret | None
    snapshot_cron: str
    snapshot_timezone: str
    audio_features_sources: tuple[str, ...]
    audio_features_csv: Path | None
    reccobeats_url: str
    recommender: str
    log_level: str

    @classmethod
    def from_environment(cls, env_file: str | Path | None = ".env") -> Settings:
        """Read and validate the settings; raise SettingsError with one clear line."""
        config = Config(env_file if env_file and Path(env_file).is_file() else None)
        try:
            return _read_settings(config)
        except (EnvironError, ValueError) as exc:
            raise SettingsError(str(exc).splitlines()[0]) from None


def _secret_list(config: Config, name: str) -> tuple[Secret, ...]:
    values = config(name, cast=CommaSeparatedStrings, default="")
    return tuple(Secret(value) for value in values if value)


def _optional_secret(config: Config, name: str) -> Secret | None:
    value = config(name, default="")
    return Secret(value) if value else None


def _positive(config: Config, name: str, cast: type[int] | type[float], default: str) -> float:
    raw = config(name, default=default)
    try:
        value = cast(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a positive number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be a positive number, not {raw!r}")
    return value


def _choice(config: Config, name: str, choices: tuple[str, ...], default: str) -> str:
    value = config(name, default=default).strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _feature_sources(config: Config) -> tuple[str, ...]:
    sources = tuple(s.lower() for s in config("AUDIO_FEATURES_SOURCES", cast=CommaSeparatedStrings, default=""))
    unknown = [s for s in sources if s not in FEATURE_SOURCES]
    if unknown:
        raise SettingsError(
            f"AUDIO_FEATURES_SOURCES has unknown source {unknown[0]!r}; "
            f"choose from {', '.join(FEATURE_SOURCES)}"
        )
    return sources


def _url(config: Config, name: str, default: str) -> str:
    value = config(name, default=default).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http:// or https:// URL, not {value!r}")
    return value


def _read_settings(config: Config) -> Settings:
    csv_path = config("AUDIO_FEATURES_CSV", default="")
    return Settings(
        database_url=config("DATABASE_URL", default=f"sqlite:///{Path.cwd() / 'spotify_insight.db'}"),
        db_pool_size=int(_positive(config, "DB_POOL_SIZE", int, "8")),
        spotify_client_id=config("SPOTIFY_CLIENT_ID", default="") or None,
        spotify_client_secret=_optional_secret(config, "SPOTIFY_CLIENT_SECRET"),
        spotify_redirect_uri=_url(config, "SPOTIFY_REDIRECT_URI", "http://127.0.0.1:8000/auth/callback"),
        spotify_api_url=_url(config, "SPOTIFY_API_URL", "https://api.spotify.com/v1"),
        spotify_accounts_url=_url(config, "SPOTIFY_ACCOUNTS_URL", "https://accounts.spotify.com"),
        spotify_max_concurrency=int(_positive(config, "SPOTIFY_MAX_CONCURRENCY", int, "8")),
        spotify_timeout=_positive(config, "SPOTIFY_TIMEOUT", float, "10"),
        token_encryption_keys=_secret_list(config, "TOKEN_ENCRYPTION_KEY"),
        api_keys=_secret_list(config, "API_KEYS"),
        admin_token=_optional_secret(config, "ADMIN_TOKEN"),
        snapshot_cron=config("SNAPSHOT_CRON", default="0 0 * * *"),
        snapshot_timezone=config("SNAPSHOT_TIMEZONE", default="UTC"),
        audio_features_sources=_feature_sources(config),
        audio_features_csv=Path(csv_path) if csv_path else None,
        reccobeats_url=_url(config, "RECCOBEATS_URL", "https://api.reccobeats.com/v1"),
        recommender=_choice(config, "RECOMMENDER", RECOMMENDERS, "auto"),
        log_level=config("LOG_LEVEL", default="INFO").upper(),
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the command line."""
    try:
        Settings.from_environment()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(dt.date.today())
    return 0


if __name__ == "__main__":
    sys.exit(main())
