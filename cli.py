"""The command line: one function per command, the argument parser, and `main`.

The `users` and `keys` groups live in `cli_users.py` and `cli_keys.py`, with what every
command module shares in `cli_shared.py`; this module wires them into one parser.

Every user error ends as one readable line on stderr (`error: ...`) and exit status 2.
Commands build what they need through the composition root (`application.py`); the demo's
wiring is in `demo.py`, imported only when `demo` runs, since it loads the Spotify emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tqdm import tqdm

from application import open_database, open_resources, token_cipher
from cli_keys import keys_parser
from cli_shared import CommandError, add_command, checked_database
from cli_users import users_parser
from db.api_keys import InvalidKeyName, UnknownKey
from db.database import DATABASE_UNAVAILABLE, DatabaseMissing, DatabaseURLError
from db.evaluation_data import stored_tracks, user_events
from db.local_time import InvalidTimezone
from db.migrations import SchemaOutOfDate, migrate
from db.token_cipher import TokenCipherError, generate_key
from db.users import (
    InvalidUsername,
    UnknownUser,
)
from jobs.clustering import CLUSTER_FEATURES
from jobs.features import FeatureSourceError
from jobs.history_import import import_history
from jobs.recommend.corpus import database_corpus
from jobs.recommend.csv_pool import read_csv_catalogue
from jobs.recommend.offline import Corpus
from jobs.scheduler import ScheduleError, validate_schedule
from jobs.service import (
    ClaimedJob,
    JobOutcome,
    RunSummary,
    RunWait,
    SnapshotBusy,
    SnapshotDateRefused,
    SnapshotNotFound,
    UnknownUsers,
    delete_snapshot,
)
from logs import configure_logging, install_log_redaction
from settings import Settings, SettingsError
from spotify_client import QuotaExceeded
from streaming_history import MalformedExport
from web.params import parse_date

# Ten times the picks a snapshot keeps: past that an offline score says nothing a client sees.
MAX_K = 500
# Each worker holds its own read cache and DB_POOL_SIZE connections; far more workers than
# cores only divide the same CPU among more copies of both.
MAX_WORKERS = 64


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake in the arguments is one line, like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    database = open_database(settings, for_migration=True)
    try:
        start, end = database.run_sync(migrate, database.peewee)
    finally:
        database.close()
    if start == end:
        print(f"schema is up to date (version {end}) in {database.describe()}")
    else:
        print(f"schema migrated from version {start} to {end} in {database.describe()}")
    return 0


def _cmd_history_import(settings: Settings, args: argparse.Namespace) -> int:
    with checked_database(settings) as database:
        report = import_history(database, args.username, [Path(p) for p in args.paths])
    for line in report.lines():
        print(line)
    return 0


def _cmd_generate_key(settings: Settings, args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from serving import serve

    with checked_database(settings):
        pass  # only the schema check
    if not args.no_scheduler:
        validate_schedule(settings.snapshot_cron, settings.snapshot_timezone)
    install_log_redaction()
    scheduler = not args.no_scheduler
    serve(settings, host=args.host, port=args.port, workers=args.workers, scheduler=scheduler)
    return 0


def _print_progress(job: ClaimedJob, outcome: JobOutcome) -> None:
    detail = f": {outcome.error}" if outcome.error else ""
    print(f"  {job.username:<24} {outcome.status}{detail}", flush=True)


def _print_summary(summary: RunSummary) -> None:
    print(
        f"snapshot run {summary.run_id}: {len(summary.ok)} ok, {len(summary.failed)} failed, "
        f"{len(summary.reauth_required)} need re-authorisation, "
        f"{len(summary.needs_attention)} need attention, {len(summary.skipped)} skipped"
        + (f", {len(summary.rate_limited)} rate limited" if summary.rate_limited else "")
    )
    for username, error in sorted(summary.failed.items()):
        print(f"  failed: {username}: {error}")
    for username, reason in sorted(summary.rate_limited.items()):
        print(f"  rate limited (retry with the same date): {username}: {reason}")
    for username in summary.reauth_required:
        print(f"  needs login again: {username} (python application.py users add or /auth/login)")
    for username, reason in sorted(summary.needs_attention.items()):
        print(f"  needs attention: {username}: {reason}")


def _print_wait(wait: RunWait) -> None:
    # Always, not only on a terminal: a run held up by a crashed worker's lease must not look hung.
    print(wait.line(), file=sys.stderr, flush=True)


def _stop_on_sigterm() -> None:
    """SIGTERM stops the run as Ctrl-C does: cancelled workers give their jobs back."""
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


async def _snapshot(settings: Settings, args: argparse.Namespace) -> RunSummary:
    _stop_on_sigterm()
    async with open_resources(settings) as resources:
        progress = _print_progress if sys.stdout.isatty() else None
        return await resources.snapshots.run(
            args.date,
            args.users,
            force=args.force,
            trigger="cli",
            on_progress=progress,
            on_wait=_print_wait,
        )


def _cmd_snapshot(settings: Settings, args: argparse.Namespace) -> int:
    settings.require_spotify_app("talk to Spotify")
    token_cipher(settings)
    with checked_database(settings):
        pass  # only the schema check
    try:
        summary = asyncio.run(_snapshot(settings, args))
    except (UnknownUsers, SnapshotDateRefused) as exc:
        raise CommandError(str(exc)) from None
    except asyncio.CancelledError:
        print(
            "snapshot run stopped (SIGTERM); the jobs it held were given back to the queue",
            file=sys.stderr,
        )
        return 128 + signal.SIGTERM
    _print_summary(summary)
    return 0 if summary.succeeded else 1


def _cmd_snapshot_delete(settings: Settings, args: argparse.Namespace) -> int:
    with checked_database(settings) as database:
        try:
            asyncio.run(delete_snapshot(database, args.username, args.date))
        except (SnapshotNotFound, SnapshotBusy) as exc:
            raise CommandError(str(exc)) from None
    print(f"deleted {args.username}'s snapshot of {args.date.isoformat()}")
    return 0


def _evaluation_corpus(settings: Settings, users: Sequence[str]) -> Corpus:
    with checked_database(settings) as database:
        events = database.run_sync(user_events, users)
        stored = database.run_sync(stored_tracks, CLUSTER_FEATURES)
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
    # The evaluation loads numpy: only this command pays for it, not `serve` (issue #10).
    from jobs.recommend.evaluation import (
        OURS,
        Matched,
        UserCase,
        baselines,
        default_cut,
        evaluate,
        format_table,
        ours,
        ours_at,
    )

    corpus = _evaluation_corpus(settings, args.users or ())
    others = baselines(corpus, args.k)
    methods = {OURS: ours(corpus, args.k, settings.discovery), **others}
    # Ours again at each baseline's novelty, user by user: "beats it at equal or better novelty".
    matched = Matched(OURS, ours_at(corpus, args.k), tuple(others))
    cut = dt.datetime.combine(args.cut, dt.time.min) if args.cut else default_cut(corpus.histories)
    count = len(args.users or corpus.histories)
    interactive = sys.stderr.isatty()

    def progress(cases: Iterable[UserCase]) -> Iterable[UserCase]:
        return tqdm(cases, total=count, unit="user", disable=not interactive)

    rows = evaluate(
        corpus, methods, cut=cut, k=args.k, users=args.users, matched=matched, progress=progress
    )
    if not rows or rows[0].users == 0 or cut is None:
        when = f"after {args.cut.isoformat()}" if args.cut else "to hide"
        raise CommandError(f"no user has plays or saves {when} among tracks with features")
    chosen = "" if args.cut else " (the latest fifth of all users' plays and saves)"
    print(f"cut {cut.isoformat(' ', 'minutes')} UTC{chosen}: hidden from then on\n")
    print(format_table(rows, args.k))
    return 0


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    import demo  # loads the Spotify emulator, which no other command needs

    data_dir = Path(args.data_dir) if args.data_dir else None
    options = demo.DemoOptions(args.host, args.port, args.mode, data_dir)
    try:
        demo.run(settings, options, _print_progress, _print_summary)
    except demo.PortInUse as exc:
        raise CommandError(str(exc)) from None
    return 0


def _iso_date(raw: str) -> dt.date:
    try:
        return parse_date(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole_number(what: str, low: int, high: int) -> Callable[[str], int]:
    """An argument's type: a whole number from `low` to `high`, in ASCII digits.

    str.isdigit alone lets through digits int() refuses ('²', which argparse then reports by
    this function's name) or reads ('٣'); and no bound above let `serve --workers 100000` start
    forking.
    """

    def parse(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            raise argparse.ArgumentTypeError(f"{raw!r} is not {what} ({low}-{high})")
        return int(raw)

    return parse


_port = _whole_number("a TCP port", 1, 65535)


def _history_parser(subparsers: Any) -> None:
    history = subparsers.add_parser(
        "history", help="listening history", description="Listening history."
    )
    commands = history.add_subparsers(dest="history_command", required=True, metavar="COMMAND")
    do_import = add_command(
        commands,
        "import",
        _cmd_history_import,
        "import Spotify's extended streaming history (JSON files or the ZIP); "
        "idempotent, so a rerun resumes an interrupted import",
    )
    do_import.add_argument("username", metavar="USERNAME")
    do_import.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="Streaming_History_Audio_*.json / Streaming_History_Video_*.json files or the ZIP",
    )


def _snapshot_parser(commands: Any) -> None:
    snapshot = add_command(
        commands, "snapshot", _cmd_snapshot, "take snapshots now (or backfill a date)"
    )
    snapshot.add_argument(
        "--date", type=_iso_date, help="snapshot date, YYYY-MM-DD (default: today)"
    )
    _add_user_filter(snapshot)
    snapshot.add_argument(
        "--force", action="store_true", help="redo snapshots that are already complete"
    )
    actions = snapshot.add_subparsers(dest="snapshot_command", metavar="[delete]")
    delete = add_command(
        actions, "delete", _cmd_snapshot_delete, "delete one snapshot of a user, and its rows"
    )
    delete.add_argument("username", metavar="USERNAME")
    delete.add_argument("date", type=_iso_date, metavar="DATE", help="YYYY-MM-DD")


def _evaluate_parser(commands: Any) -> None:
    evaluate = add_command(
        commands,
        "evaluate",
        _cmd_evaluate,
        "measure the recommender offline: hide plays and saves after a cut, score the picks",
    )
    evaluate.epilog = (
        "After the table, one line per baseline: ours run at that baseline's novelty, user by "
        "user, beats it, ties or does NOT beat it on hit rate; beside it the user-by-user "
        "difference in hit rate and in recall, ± its standard error. Hit rate only asks "
        "whether a user has one hidden track among the picks: on a few users it moves in "
        "whole users, and once both lists hit every user it ties while recall still differs."
    )
    _add_user_filter(evaluate)
    evaluate.add_argument(
        "--cut",
        type=_iso_date,
        help="hide plays and saves from this date, YYYY-MM-DD (default: the moment from which "
        "the latest fifth of all users' plays and saves falls: one cut for every user, so no "
        "user's picks draw on another user's later plays)",
    )
    evaluate.add_argument(
        "--k",
        type=_whole_number("a number of picks per user", 1, MAX_K),
        default=50,
        help=f"picks per user (default 50, at most {MAX_K})",
    )


def _add_user_filter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        action="append",
        dest="users",
        metavar="USERNAME",
        help="only this user (repeatable)",
    )


def _add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")


def _serve_parser(commands: Any) -> None:
    serve = add_command(
        commands, "serve", _cmd_serve, "serve the API (and run the nightly scheduler)"
    )
    _add_listen_arguments(serve)
    serve.add_argument(
        "--no-scheduler", action="store_true", help="serve only; no nightly snapshots"
    )
    serve.add_argument(
        "--workers",
        type=_whole_number("a number of worker processes", 1, MAX_WORKERS),
        default=1,
        help=f"worker processes sharing the port (default 1, at most {MAX_WORKERS}); "
        "the scheduler runs in one of them",
    )


def _demo_parser(commands: Any) -> None:
    demo = add_command(
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
    parser = _Parser(
        prog="application.py",
        description="Spotify Insight: dated snapshots of Spotify listening, served as JSON.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_command(commands, "migrate", _cmd_migrate, "create or upgrade the database schema")
    users_parser(commands)
    keys_parser(commands)
    _history_parser(commands)
    _snapshot_parser(commands)
    _serve_parser(commands)
    _demo_parser(commands)
    _evaluate_parser(commands)
    add_command(commands, "generate-key", _cmd_generate_key, "print a new TOKEN_ENCRYPTION_KEY")
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
    InvalidTimezone,
    MalformedExport,
    UnknownUsers,
    UnknownKey,
    InvalidKeyName,
)


def _unavailable(exc: Exception) -> str:
    """One line for a database that cannot be used, with what to check."""
    if isinstance(exc, DatabaseMissing):
        return str(exc)
    lines = str(exc).strip().splitlines()
    reason = lines[0][:200] if lines else type(exc).__name__
    return (
        f"cannot reach the database ({reason}); check DATABASE_URL and that the server is running"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command line: one readable line on any user error."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
        configure_logging(settings.log_level, settings.log_format)
        return int(args.handler(settings, args))
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DATABASE_UNAVAILABLE as exc:
        print(f"error: {_unavailable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
