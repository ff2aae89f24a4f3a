"""Spotify Insight: the composition root and the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Secret
from tqdm import tqdm

from db.capabilities import DatabaseCapabilityStore
from db.database import Database, DatabaseURLError
from db.evaluation_data import stored_tracks, user_events
from db.migrations import SchemaOutOfDate, check_schema, migrate
from db.token_cipher import TokenCipher, TokenCipherError, generate_key
from db.users import (
    AccountConflict,
    InvalidUsername,
    UnknownUser,
    list_users,
    remove_user,
    rotate_tokens,
    save_user_token,
    validate_username,
)
from jobs.clustering import CLUSTER_FEATURES
from jobs.features import (
    CsvFeatureSource,
    FeatureSource,
    FeatureSourceError,
    build_feature_sources,
)
from jobs.pipeline import SnapshotPipeline
from jobs.recommend.corpus import database_corpus
from jobs.recommend.csv_pool import CsvCandidateSource, read_csv_catalogue
from jobs.recommend.evaluation import OURS, UserCase, baselines, evaluate, format_table, ours
from jobs.recommend.offline import Corpus
from jobs.recommend.protocol import CandidateSource
from jobs.recommend.registry import SourceContext, build_recommendation_sources
from jobs.scheduler import ScheduleError, create_scheduler, validate_schedule
from jobs.service import (
    ClaimedJob,
    Handler,
    JobOutcome,
    RunCannotStart,
    RunSummary,
    SnapshotService,
    UnknownUsers,
)
from settings import Settings, SettingsError
from spotify_client import (
    InvalidGrant,
    QuotaExceeded,
    SpotifyClient,
    SpotifyError,
    create_http_client,
)
from spotify_emulator import EmulatorServer, World, write_features_csv
from web.auth import install_log_redaction
from web.problems import EXCEPTION_HANDLERS
from web.routes import build_routes


def open_database(settings: Settings) -> Database:
    return Database(settings.database_url, settings.db_pool_size)


def token_cipher(settings: Settings) -> TokenCipher:
    return TokenCipher([str(key) for key in settings.token_encryption_keys])


def token_cipher_or_none(settings: Settings) -> TokenCipher | None:
    """The cipher, or None before any key is configured (reads need none)."""
    return token_cipher(settings) if settings.token_encryption_keys else None


@dataclasses.dataclass(frozen=True)
class Resources:
    """What the service holds open while it runs; the lifespan hands it to requests."""

    database: Database
    http: httpx.AsyncClient
    spotify: SpotifyClient
    cipher: TokenCipher | None
    snapshots: SnapshotService

    def as_state(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def create_spotify_client(
    settings: Settings, http: httpx.AsyncClient, database: Database
) -> SpotifyClient:
    secret = settings.spotify_client_secret
    return SpotifyClient(
        http,
        client_id=settings.spotify_client_id or "",
        client_secret=str(secret) if secret else "",
        api_url=settings.spotify_api_url,
        accounts_url=settings.spotify_accounts_url,
        max_concurrency=settings.spotify_max_concurrency,
        capability_store=DatabaseCapabilityStore(database),
    )


def _feature_sources_factory(
    settings: Settings, http: httpx.AsyncClient, spotify: SpotifyClient
) -> Callable[[], list[FeatureSource]]:
    """Fresh sources per run (ReccoBeats gives up for one run only); the CSV index is kept."""
    csv = CsvFeatureSource(settings.audio_features_csv) if settings.audio_features_csv else None

    def build() -> list[FeatureSource]:
        sources = build_feature_sources(
            settings.audio_features_sources,
            client=spotify,
            http=http,
            reccobeats_url=settings.reccobeats_url,
            csv_path=settings.audio_features_csv,
        )
        return [csv if csv is not None and s.name == "csv" else s for s in sources]

    return build


def _recommendation_sources_factory(
    settings: Settings, database: Database, http: httpx.AsyncClient, spotify: SpotifyClient
) -> Callable[[], list[CandidateSource]]:
    """Fresh sources per run; the CSV index is built once and kept."""
    csv = CsvCandidateSource(settings.audio_features_csv) if settings.audio_features_csv else None
    context = SourceContext(database, spotify, http, settings.reccobeats_url, csv)
    return lambda: build_recommendation_sources(settings.recommendation_sources, context)


def create_snapshot_service(
    settings: Settings,
    database: Database,
    http: httpx.AsyncClient,
    spotify: SpotifyClient,
    cipher: TokenCipher | None,
) -> SnapshotService:
    feature_sources = _feature_sources_factory(settings, http, spotify)
    candidate_sources = _recommendation_sources_factory(settings, database, http, spotify)

    def make_handler() -> Handler:
        if cipher is None:
            raise RunCannotStart("TOKEN_ENCRYPTION_KEY is not set: stored tokens cannot be read")
        return SnapshotPipeline(
            database,
            spotify,
            cipher,
            feature_sources(),
            settings.recommender,
            candidate_sources(),
            settings.discovery,
        )

    return SnapshotService(
        database,
        make_handler,
        timezone=settings.snapshot_timezone,
        concurrency=settings.snapshot_workers,
        lease=dt.timedelta(seconds=settings.snapshot_lease),
        stop_on=(QuotaExceeded,),
    )


@contextlib.asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Open the database, the one HTTP client and the Spotify client; close in reverse."""
    cipher = token_cipher_or_none(settings)
    database = open_database(settings)
    try:
        await database.run(check_schema, database.peewee)
        async with create_http_client(settings.spotify_timeout) as http:
            spotify = create_spotify_client(settings, http, database)
            await spotify.load_capabilities()
            snapshots = create_snapshot_service(settings, database, http, spotify, cipher)
            try:
                yield Resources(database, http, spotify, cipher, snapshots)
            finally:
                await snapshots.close()
    finally:
        database.close()


def build_app(settings: Settings, *, scheduler: bool = False) -> Starlette:
    """The ASGI application; its lifespan owns the database and every other resource."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with open_resources(settings) as resources:
            nightly = None
            if scheduler:
                nightly = create_scheduler(
                    cron=settings.snapshot_cron,
                    timezone=settings.snapshot_timezone,
                    job=resources.snapshots.nightly,
                )
                nightly.start()
            try:
                yield {**resources.as_state(), "scheduler": nightly}
            finally:
                if nightly is not None:
                    nightly.shutdown(wait=False)

    app = Starlette(
        routes=build_routes(settings), exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan
    )
    app.state.settings = settings
    return app


class CommandError(Exception):
    """A command cannot go on; the message is the one line the user sees."""


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    database = open_database(settings)
    try:
        start, end = database.run_sync(migrate, database.peewee)
    finally:
        database.close()
    if start == end:
        print(f"schema is up to date (version {end}) in {database.describe()}")
    else:
        print(f"schema migrated from version {start} to {end} in {database.describe()}")
    return 0


def _checked_database(settings: Settings) -> Database:
    database = open_database(settings)
    try:
        database.run_sync(check_schema, database.peewee)
    except SchemaOutOfDate:
        database.close()
        raise
    return database


STDIN_MARK = "-"


def _cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    validate_username(args.username)
    cipher = token_cipher(settings)
    settings.require_spotify_app("check the token")
    # "-" reads the token from stdin, keeping it out of shell history and `ps`.
    from_stdin = args.refresh_token == STDIN_MARK
    token = sys.stdin.readline().strip() if from_stdin else args.refresh_token
    if not token:
        raise CommandError("the refresh token is empty")
    created, name = asyncio.run(_add_checked_user(settings, cipher, args.username, token))
    who = f" ({name})" if name else ""
    print(f"{'added' if created else 'updated'} user {args.username}{who}")
    return 0


async def _add_checked_user(
    settings: Settings, cipher: TokenCipher, username: str, refresh_token: str
) -> tuple[bool, str | None]:
    """Check the token against Spotify's /me, then store it (or the one Spotify rotated to)."""
    async with open_resources(settings) as resources:
        tokens = [refresh_token]

        async def keep(rotated: str) -> None:
            tokens.append(rotated)

        try:
            profile = await resources.spotify.for_user(refresh_token, keep).me()
        except InvalidGrant:
            raise CommandError(
                "Spotify refused this refresh token (invalid_grant); nothing was stored"
            ) from None
        except SpotifyError as exc:
            raise CommandError(f"could not check the token with Spotify: {exc}") from None
        try:
            created = await resources.database.run(
                save_user_token,
                username,
                cipher.encrypt(tokens[-1]),
                account_id=profile.account_id or profile.id,
                display_name=profile.display_name,
            )
        except AccountConflict as exc:
            raise CommandError(str(exc)) from None
    return created, profile.display_name


def _cmd_users_list(settings: Settings, args: argparse.Namespace) -> int:
    database = _checked_database(settings)
    try:
        users = database.run_sync(list_users)
    finally:
        database.close()
    print(f"{'USERNAME':<24} {'STATUS':<16} LAST SNAPSHOT")
    for user in users:
        last = user["last_snapshot"].isoformat() if user["last_snapshot"] else "never"
        print(f"{user['username']:<24} {user['status']:<16} {last}")
    return 0


def _cmd_users_remove(settings: Settings, args: argparse.Namespace) -> int:
    database = _checked_database(settings)
    try:
        database.run_sync(remove_user, args.username)
    finally:
        database.close()
    print(f"removed user {args.username} and all of their data")
    return 0


def _cmd_users_rotate_keys(settings: Settings, args: argparse.Namespace) -> int:
    cipher = token_cipher(settings)
    database = _checked_database(settings)
    try:
        count = database.run_sync(rotate_tokens, cipher.rotate)
    finally:
        database.close()
    print(
        f"re-encrypted {count} refresh token{'' if count == 1 else 's'} with the first "
        "TOKEN_ENCRYPTION_KEY; the other keys may now be removed"
    )
    return 0


def _cmd_generate_key(settings: Settings, args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    _checked_database(settings).close()
    if not args.no_scheduler:
        validate_schedule(settings.snapshot_cron, settings.snapshot_timezone)
    app = build_app(settings, scheduler=not args.no_scheduler)
    install_log_redaction()
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _print_progress(job: ClaimedJob, outcome: JobOutcome) -> None:
    detail = f": {outcome.error}" if outcome.error else ""
    print(f"  {job.username:<24} {outcome.status}{detail}", flush=True)


def _print_summary(summary: RunSummary) -> None:
    print(
        f"snapshot run {summary.run_id}: {len(summary.ok)} ok, {len(summary.failed)} failed, "
        f"{len(summary.reauth_required)} need re-authorisation, {len(summary.skipped)} skipped"
    )
    for username, error in sorted(summary.failed.items()):
        print(f"  failed: {username}: {error}")
    for username in summary.reauth_required:
        print(f"  needs login again: {username} (python application.py users add or /auth/login)")


async def _snapshot(settings: Settings, args: argparse.Namespace) -> RunSummary:
    async with open_resources(settings) as resources:
        progress = _print_progress if sys.stdout.isatty() else None
        return await resources.snapshots.run(
            args.date, args.users, force=args.force, trigger="cli", on_progress=progress
        )


def _cmd_snapshot(settings: Settings, args: argparse.Namespace) -> int:
    settings.require_spotify_app("talk to Spotify")
    token_cipher(settings)
    _checked_database(settings).close()
    try:
        summary = asyncio.run(_snapshot(settings, args))
    except UnknownUsers as exc:
        raise CommandError(str(exc)) from None
    _print_summary(summary)
    return 0 if summary.succeeded else 1


def _evaluation_corpus(settings: Settings, users: Sequence[str]) -> Corpus:
    database = _checked_database(settings)
    try:
        events = database.run_sync(user_events, users)
        stored = database.run_sync(stored_tracks, CLUSTER_FEATURES)
    finally:
        database.close()
    unknown = sorted(set(users) - set(events))
    if unknown:
        raise CommandError(f"no such user: {', '.join(unknown)}")
    path = settings.audio_features_csv
    try:
        csv = read_csv_catalogue(path) if path else None
    except FeatureSourceError as exc:
        raise CommandError(str(exc)) from None
    return database_corpus(stored, events, csv)


def _cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    corpus = _evaluation_corpus(settings, args.users or ())
    methods = {OURS: ours(corpus, args.k, settings.discovery), **baselines(corpus, args.k)}
    cut = dt.datetime.combine(args.cut, dt.time.min) if args.cut else None
    count = len(args.users or corpus.histories)
    interactive = sys.stderr.isatty()

    def progress(cases: Iterable[UserCase]) -> Iterable[UserCase]:
        return tqdm(cases, total=count, unit="user", disable=not interactive)

    rows = evaluate(corpus, methods, cut=cut, k=args.k, users=args.users, progress=progress)
    if not rows or rows[0].users == 0:
        when = f"after {args.cut.isoformat()}" if args.cut else "to hide"
        raise CommandError(f"no user has plays or saves {when} among tracks with features")
    print(format_table(rows, args.k))
    return 0


DEMO_ONBOARDING_USERS = 1  # the emulator's last user is left to sign up through /auth/login


def _demo_settings(
    settings: Settings, server: EmulatorServer, data_dir: Path, port: int
) -> Settings:
    """The user's settings, pointed at the emulator and an embedded database of the demo's own."""
    world = server.world
    return dataclasses.replace(
        settings,
        database_url=f"sqlite:///{data_dir / 'demo.db'}",
        spotify_client_id=world.client_id,
        spotify_client_secret=Secret(world.client_secret),
        spotify_api_url=server.api_url,
        spotify_accounts_url=server.accounts_url,
        spotify_redirect_uri=f"http://127.0.0.1:{port}/auth/callback",
        reccobeats_url=server.reccobeats_url,
        token_encryption_keys=(Secret(generate_key()),),
        audio_features_sources=("spotify", "reccobeats", "csv"),
        audio_features_csv=data_dir / "tracks.csv",
        api_keys=(),
    )


def _register_demo_users(settings: Settings, world: World) -> list[str]:
    database = open_database(settings)
    cipher = token_cipher(settings)
    registered = []
    try:
        database.run_sync(migrate, database.peewee)
        for user in world.users[:-DEMO_ONBOARDING_USERS]:
            username = user.display_name.lower()
            database.run_sync(
                save_user_token,
                username,
                cipher.encrypt(user.refresh_token),
                account_id=user.account_id,
                display_name=user.display_name,
            )
            registered.append(username)
    finally:
        database.close()
    return registered


def _demo_banner(base: str, usernames: Sequence[str], mode: str) -> str:
    first = usernames[0]
    return "\n".join(
        [
            "",
            f"Spotify Insight demo: offline, against a local Spotify in {mode} mode",
            f"  API          {base}/",
            f"  OpenAPI      {base}/openapi.json",
            f"  users        {', '.join(usernames)}",
            "  try:",
            f"    curl -s {base}/user-recommendations/{first} | python3 -m json.tool",
            f'    curl -s "{base}/users/{first}/top-items?type=artists&time_range=short_term"',
            f"    curl -s {base}/users/{first}/clusters",
            f"    curl -s {base}/users/{first}/snapshots",
            f"  sign up one more user in a browser: {base}/auth/login",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def _ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise CommandError(f"{host}:{port} is in use; choose another with --port") from None


async def _demo_snapshots(settings: Settings) -> RunSummary:
    async with open_resources(settings) as resources:
        return await resources.snapshots.run(trigger="demo", on_progress=_print_progress)


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    _ensure_port_free(args.host, args.port)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="spotify-insight-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "demo.db").unlink(missing_ok=True)
    world = World.generate(seed=7)
    write_features_csv(world, data_dir / "tracks.csv")
    with EmulatorServer(world, mode=args.mode) as server:
        server.consent_user = world.users[-1].id  # /auth/login signs up the one left out
        demo = _demo_settings(settings, server, data_dir, args.port)
        usernames = _register_demo_users(demo, world)
        print(f"taking snapshots of {len(usernames)} users (data in {data_dir})")
        _print_summary(asyncio.run(_demo_snapshots(demo)))
        print(_demo_banner(f"http://{args.host}:{args.port}", usernames, args.mode), flush=True)
        install_log_redaction()
        uvicorn.run(build_app(demo), host=args.host, port=args.port, log_level="warning")
    return 0


def _iso_date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw) if len(raw) == 10 else dt.date.fromisoformat("bad")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a real date written YYYY-MM-DD") from None


def _port(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a TCP port (1-65535)")
    return int(raw)


Command = Callable[[Settings, argparse.Namespace], int]


def _add_command(
    subparsers: Any, name: str, handler: Command, help_text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_text, description=help_text
    )
    parser.set_defaults(handler=handler)
    return parser


def _users_parser(subparsers: Any) -> None:
    users = subparsers.add_parser(
        "users", help="manage registered users", description="Manage registered users."
    )
    commands = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    add = _add_command(
        commands,
        "add",
        _cmd_users_add,
        "register a user, or replace their refresh token (checked with Spotify first)",
    )
    add.add_argument("username", metavar="USERNAME")
    add.add_argument(
        "--refresh-token",
        required=True,
        metavar="TOKEN",
        help="the user's Spotify refresh token, or - to read it from stdin",
    )
    _add_command(commands, "list", _cmd_users_list, "list users with status and last snapshot")
    remove = _add_command(
        commands, "remove", _cmd_users_remove, "remove a user and all of their data"
    )
    remove.add_argument("username", metavar="USERNAME")
    _add_command(
        commands,
        "rotate-keys",
        _cmd_users_rotate_keys,
        "re-encrypt every stored token with the first TOKEN_ENCRYPTION_KEY",
    )


def _snapshot_parser(commands: Any) -> None:
    snapshot = _add_command(
        commands, "snapshot", _cmd_snapshot, "take snapshots now (or backfill a date)"
    )
    snapshot.add_argument(
        "--date", type=_iso_date, help="snapshot date, YYYY-MM-DD (default: today)"
    )
    snapshot.add_argument(
        "--user",
        action="append",
        dest="users",
        metavar="USERNAME",
        help="only this user (repeatable)",
    )
    snapshot.add_argument(
        "--force", action="store_true", help="redo snapshots that are already complete"
    )


def _positive_int(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a positive whole number")
    return int(raw)


def _evaluate_parser(commands: Any) -> None:
    evaluate = _add_command(
        commands,
        "evaluate",
        _cmd_evaluate,
        "measure the recommender offline: hide plays and saves after a cut, score the picks",
    )
    evaluate.add_argument(
        "--user",
        action="append",
        dest="users",
        metavar="USERNAME",
        help="only this user (repeatable)",
    )
    evaluate.add_argument(
        "--cut",
        type=_iso_date,
        help="hide plays and saves from this date, YYYY-MM-DD (default: each user's latest fifth)",
    )
    evaluate.add_argument("--k", type=_positive_int, default=50, help="picks per user (default 50)")


def _add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")


def _serve_parser(commands: Any) -> None:
    serve = _add_command(
        commands, "serve", _cmd_serve, "serve the API (and run the nightly scheduler)"
    )
    _add_listen_arguments(serve)
    serve.add_argument(
        "--no-scheduler", action="store_true", help="serve only; no nightly snapshots"
    )


def _demo_parser(commands: Any) -> None:
    demo = _add_command(
        commands, "demo", _cmd_demo, "run the whole service offline against a local Spotify"
    )
    _add_listen_arguments(demo)
    demo.add_argument(
        "--mode",
        choices=("development", "extended"),
        default="development",
        help="which kind of Spotify app to emulate (default: a 2026 development-mode app)",
    )
    demo.add_argument(
        "--data-dir", help="keep the demo's database and CSV here (default: a temp dir)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="application.py",
        description="Spotify Insight: dated snapshots of Spotify listening, served as JSON.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_command(commands, "migrate", _cmd_migrate, "create or upgrade the database schema")
    _users_parser(commands)
    _snapshot_parser(commands)
    _serve_parser(commands)
    _demo_parser(commands)
    _evaluate_parser(commands)
    _add_command(commands, "generate-key", _cmd_generate_key, "print a new TOKEN_ENCRYPTION_KEY")
    return parser


USER_ERRORS = (
    SettingsError,
    ScheduleError,
    QuotaExceeded,
    CommandError,
    DatabaseURLError,
    SchemaOutOfDate,
    TokenCipherError,
    InvalidUsername,
    UnknownUser,
)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per Spotify request drowns the useful lines; DEBUG brings them back.
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command line: one readable line on any user error."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
        _configure_logging(settings)
        return int(args.handler(settings, args))
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
