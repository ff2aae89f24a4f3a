"""`python application.py demo`: the whole service offline, against the local Spotify emulator.

This is the only product module that imports `spotify_emulator`; the CLI imports it only when
the `demo` command runs, so `serve` never loads the fake Spotify.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

from starlette.datastructures import Secret

from application import build_app, open_database, open_resources, token_cipher
from db.migrations import migrate
from db.token_cipher import generate_key
from db.users import save_user_token, set_user_public
from jobs.history_import import ImportReport, import_history
from jobs.service import ClaimedJob, JobOutcome, RunSummary
from logs import install_log_redaction
from settings import Settings
from spotify_emulator import EmulatorServer, World, generate_history, write_features_csv

DEMO_ONBOARDING_USERS = 1  # the emulator's last user is left to sign up through /auth/login
WORLD_SEED = 7
# Every listener arrives with this much of Spotify's extended streaming history, imported:
# statistics and a recap from the first run, and for `application.py evaluate` plays and
# saves on both sides of a cut (a week of snapshots alone hides a handful of tracks a user).
HISTORY_YEARS = 2
# The demo's first snapshots are of the emulated Spotify as it stood this many days ago, so
# /changes, the snapshot dates and the history have two real points to show.
EARLIER_DAYS = 7

Progress = Callable[[ClaimedJob, JobOutcome], None]


class DemoClock:
    """The emulator's clock: real time, held `behind` seconds back until the demo catches up.

    A snapshot dated a week ago must hold what Spotify said a week ago, not today's answers
    under an old date, so the emulator (whose tastes drift with its clock) is asked then.
    """

    def __init__(self, behind: float) -> None:
        self.behind = behind

    def __call__(self) -> float:
        return time.time() - self.behind

    def catch_up(self) -> None:
        """From now on, the emulator's time is the real time."""
        self.behind = 0.0


def demo_world(clock: DemoClock) -> World:
    """The emulated world as it stands at the demo's first snapshot.

    The imported export ends at the world's now; anchored at the first snapshot, the
    history runs up to the snapshots instead of stopping months before them.
    """
    return World.generate(seed=WORLD_SEED, now=dt.datetime.fromtimestamp(clock(), dt.UTC))


class PortInUse(Exception):
    """The demo cannot listen where it was asked to."""


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Where the demo listens, which kind of Spotify app it emulates, where it keeps data."""

    host: str = "127.0.0.1"
    port: int = 8000
    mode: str = "development"
    data_dir: Path | None = None


def demo_settings(
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
    database = open_database(settings, for_migration=True)
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
        # A newcomer opens the first listener's page without signing in; the others' need it.
        database.run_sync(set_user_public, registered[0], True)
    finally:
        database.close()
    return registered


def _import_demo_history(
    settings: Settings, world: World, usernames: Sequence[str], data_dir: Path
) -> Iterator[tuple[str, ImportReport]]:
    """What a newcomer does first: import the export Spotify sent them (the emulator's)."""
    database = open_database(settings)
    try:
        for user, username in zip(world.users, usernames, strict=False):
            export = generate_history(world, user.id, years=HISTORY_YEARS)
            path = export.write_zip(data_dir / f"my_spotify_data_{username}.zip")
            yield username, import_history(database, username, [path])
    finally:
        database.close()


def stats_paths(username: str, today: dt.date) -> list[str]:
    """The statistics a newcomer is shown: the last 30 days of the emulated world, a recap."""
    first = today - dt.timedelta(days=29)
    return [
        f"/users/{username}/stats?from={first}&to={today}",
        f"/users/{username}/recap?year={today.year - 1}",
    ]


def _demo_banner(base: str, usernames: Sequence[str], mode: str, world: World) -> str:
    first = usernames[0]
    listener = world.users[0]
    artist = world.artists[listener.top_artists["short_term"][0]]
    stats, recap = stats_paths(first, world.now.date())
    newcomer = world.users[-1].display_name
    return "\n".join(
        [
            "",
            f"Spotify Insight demo: offline, against a local Spotify in {mode} mode",
            f"  open         {base}/u/{first}   ({first}'s page: public, charts)",
            f"  API          {base}/",
            f"  OpenAPI      {base}/openapi.json",
            f"  users        {', '.join(usernames)}",
            "  try:",
            f"    curl -s {base}/user-recommendations/{first} | python3 -m json.tool",
            f'    curl -s "{base}/users/{first}/top-items?type=artists&time_range=short_term"',
            f"    curl -s {base}/users/{first}/clusters",
            f"    curl -s {base}/users/{first}/snapshots",
            f"    curl -s {base}/users/{first}/changes   # {EARLIER_DAYS} days ago -> today",
            f'    curl -s "{base}/artists/search?q={quote(artist.name)}"',
            f'    curl -s "{base}/artists/{artist.id}/profile?username={first}"',
            f"    curl -s {base}/users/{first}/playlists",
            f"    curl -s {base}/users/{first}/playlists/{listener.playlist_id}/profile",
            f"  each listener imported {HISTORY_YEARS} years of streaming history; {first}'s "
            "statistics:",
            f'    curl -s "{base}{stats}"',
            f'    curl -s "{base}{recap}"',
            f"  the other listeners' pages need sign-in: {base}/auth/login (pick who you are),",
            f"  or sign up {newcomer} there",
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
            raise PortInUse(f"{host}:{port} is in use; choose another with --port") from None


async def _snapshot(settings: Settings, days_ago: int, on_progress: Progress) -> RunSummary:
    async with open_resources(settings) as resources:
        date = resources.snapshots.today() - dt.timedelta(days=days_ago)
        return await resources.snapshots.run(date, trigger="demo", on_progress=on_progress)


async def _demo_snapshots(
    settings: Settings, clock: DemoClock, on_progress: Progress
) -> list[RunSummary]:
    """A snapshot of every user as of EARLIER_DAYS ago (the emulator's clock set back), then
    one of today: each holds what Spotify answered on its own date."""
    summaries = [await _snapshot(settings, EARLIER_DAYS, on_progress)]
    clock.catch_up()
    summaries.append(await _snapshot(settings, 0, on_progress))
    return summaries


def load(
    demo: Settings,
    world: World,
    data_dir: Path,
    clock: DemoClock,
    on_progress: Progress,
    on_summary: Callable[[RunSummary], None],
    say: Callable[[str], None] = print,
) -> list[str]:
    """The demo's data in `demo`'s database: its users (the first one public), each one's
    imported history, and everyone's two snapshots. Returns the usernames."""
    usernames = _register_demo_users(demo, world)
    say(f"importing {HISTORY_YEARS} years of each listener's extended streaming history")
    for username, report in _import_demo_history(demo, world, usernames, data_dir):
        first, *rest = report.lines()
        for line in [f"{username}: {first}", *rest]:
            say(f"  {line}")
    say(
        f"taking snapshots of {len(usernames)} users as Spotify stood {EARLIER_DAYS} days "
        f"ago, then today (data in {data_dir})"
    )
    for summary in asyncio.run(_demo_snapshots(demo, clock, on_progress)):
        on_summary(summary)
    return usernames


def _data_dir(options: DemoOptions) -> Path:
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="spotify-insight-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "demo.db").unlink(missing_ok=True)
    return data_dir


def run(
    settings: Settings,
    options: DemoOptions,
    on_progress: Progress,
    on_summary: Callable[[RunSummary], None],
) -> None:
    """Start the emulator, register its users, snapshot them, then serve until Ctrl-C."""
    import uvicorn

    _ensure_port_free(options.host, options.port)
    data_dir = _data_dir(options)
    clock = DemoClock(behind=EARLIER_DAYS * 86_400)
    world = demo_world(clock)
    write_features_csv(world, data_dir / "tracks.csv")
    with EmulatorServer(world, mode=options.mode, clock=clock, drift=True) as server:
        # The consent page asks who signs in: each listener is one click (the last signs up).
        server.pick_user = True
        demo = demo_settings(settings, server, data_dir, options.port)
        usernames = load(demo, world, data_dir, clock, on_progress, on_summary)
        base = f"http://{options.host}:{options.port}"
        print(_demo_banner(base, usernames, options.mode, world), flush=True)
        install_log_redaction()
        # uvicorn's loggers go through the service's handler, so LOG_FORMAT=json holds here too.
        uvicorn.run(
            build_app(demo),
            host=options.host,
            port=options.port,
            log_level="warning",
            log_config=None,
        )
