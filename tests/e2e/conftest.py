"""End-to-end harness: the emulator and the API on real loopback sockets, worker processes.

Everything here talks over real HTTP: the emulator runs in a thread (EmulatorServer), the
API in another (uvicorn with its lifespan), and workers are `python application.py`
subprocesses pointed at both through environment variables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import application
from application import build_app, open_resources
from db.database import Database
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from jobs.service import RunSummary
from settings import Settings
from spotify_emulator import EmulatorServer, Faults, World, write_features_csv
from spotify_emulator.server import BackgroundServer
from spotify_emulator.state import EmulatorState
from tests.conftest import SETTING_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]
# Seconds a connection, a write or a pooled connection may take in `only_reads_time_out`.
PATIENT = 30.0
DAY = dt.date(2026, 11, 20)
WORKER_TIMEOUT = 120.0
TOP = 50  # Spotify shows the first 50 top items of each range


@pytest.fixture(scope="session")
def world() -> World:
    """The emulated Spotify every end-to-end test runs against (six users)."""
    return World.generate(seed=7)


@pytest.fixture(scope="session")
def features_csv(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every track's features in the Kaggle layout, for development mode."""
    path = tmp_path_factory.mktemp("features") / "tracks.csv"
    write_features_csv(world, path)
    return path


@pytest.fixture
def encryption_key() -> str:
    """A fresh TOKEN_ENCRYPTION_KEY."""
    return generate_key()


@pytest.fixture
def register_users(database: Database, world: World, encryption_key: str) -> list[str]:
    """Register every user of the world under their Spotify id; answers the usernames."""
    cipher = TokenCipher([encryption_key])
    for user in world.users:
        database.run_sync(save_user_token, user.id, cipher.encrypt(user.refresh_token))
    return [user.id for user in world.users]


@pytest.fixture
def only_reads_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the test, SPOTIFY_TIMEOUT bounds waiting for an answer only.

    Tests with a short timeout mean Spotify's slow answers. On a loaded machine the client's
    event loop can stall for seconds, and a connect or write timing out then is an attempt
    the emulator never sees: such a test could not count attempts at the emulator.
    """
    create = application.create_http_client

    def reads_only(timeout: float) -> httpx.AsyncClient:
        http = create(timeout)
        http.timeout = httpx.Timeout(PATIENT, read=timeout)
        return http

    monkeypatch.setattr(application, "create_http_client", reads_only)


async def take_snapshots(
    settings: Settings, usernames: list[str] | None = None, day: dt.date = DAY
) -> RunSummary:
    """What the nightly job does: open every resource, run the day's snapshots, close."""
    async with open_resources(settings) as resources:
        return await resources.snapshots.run(day, usernames, trigger="cli")


# -- the emulator, with a log of who sent what ------------------------------------------


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as it reached the emulator: when, what, whose token, and the answer."""

    time: float
    method: str
    path: str
    query: str
    user_id: str | None
    status: int
    retry_after: float | None


class WhoSentIt:
    """ASGI wrapper in front of the emulator app: records the user behind each bearer token.

    The emulator's own log does not say whose request it was, nor what Retry-After it
    announced; both are needed to check workers and the rate-limit discipline.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        self._lock = threading.Lock()
        self._seen: list[Seen] = []

    @property
    def seen(self) -> list[Seen]:
        """Every request so far, in order of arrival."""
        with self._lock:
            return list(self._seen)

    def clear(self) -> None:
        """Forget the requests so far."""
        with self._lock:
            self._seen.clear()

    def _user(self, scope: Scope) -> str | None:
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        grant = self.state.tokens.access(token.strip())
        return grant.user_id if grant else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrival = self.state.clock()
        user = self._user(scope)
        answer: dict[str, Any] = {"status": 500, "retry_after": None}

        async def send_seen(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                value = dict(message.get("headers", [])).get(b"retry-after")
                answer["retry_after"] = float(value) if value else None
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            seen = Seen(
                arrival,
                scope["method"],
                scope["path"],
                scope["query_string"].decode("latin-1"),
                user,
                answer["status"],
                answer["retry_after"],
            )
            with self._lock:
                self._seen.append(seen)


class Emulator(EmulatorServer):
    """EmulatorServer whose app is wrapped by `WhoSentIt` (available as `.log`)."""

    def __init__(self, world: World, mode: str = "development", faults: Faults | None = None):
        super().__init__(world, mode, faults)
        self.log = WhoSentIt(self.app, self._state)
        self.app = self.log


@pytest.fixture
def emulator(world: World) -> Iterator[Callable[..., Emulator]]:
    """Factory of started emulators on free loopback ports; all stopped at teardown."""
    started: list[Emulator] = []

    def start(mode: str, faults: Faults | None = None) -> Emulator:
        server = Emulator(world, mode, faults)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def configure(
    settings: Settings, server: EmulatorServer, world: World, key: str, **overrides: Any
) -> Settings:
    """Settings pointing at the emulator, with the world's app credentials."""
    return dataclasses.replace(
        settings,
        spotify_api_url=server.api_url,
        spotify_accounts_url=server.accounts_url,
        reccobeats_url=server.reccobeats_url,
        spotify_client_id=world.client_id,
        spotify_client_secret=Secret(world.client_secret),
        token_encryption_keys=(Secret(key),),
        **overrides,
    )


# -- the API on a real socket -----------------------------------------------------------


class ApiServer(BackgroundServer):
    """`build_app(settings)` served by uvicorn (lifespan on) on a loopback port (0: a free one)."""

    def __init__(self, settings: Settings, port: int = 0) -> None:
        super().__init__(build_app(settings), port=port, name="insight-api", lifespan="on")


# -- worker processes -------------------------------------------------------------------


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `python application.py` worker with these settings."""
    env = {name: value for name, value in os.environ.items() if name not in SETTING_NAMES}
    secret = settings.spotify_client_secret
    env.update(
        DATABASE_URL=settings.database_url,
        SPOTIFY_CLIENT_ID=settings.spotify_client_id or "",
        SPOTIFY_CLIENT_SECRET=str(secret) if secret else "",
        SPOTIFY_API_URL=settings.spotify_api_url,
        SPOTIFY_ACCOUNTS_URL=settings.spotify_accounts_url,
        SPOTIFY_TIMEOUT=str(settings.spotify_timeout),
        RECCOBEATS_URL=settings.reccobeats_url,
        TOKEN_ENCRYPTION_KEY=",".join(str(k) for k in settings.token_encryption_keys),
        AUDIO_FEATURES_SOURCES=",".join(settings.audio_features_sources),
        AUDIO_FEATURES_CSV=str(settings.audio_features_csv or ""),
        SNAPSHOT_LEASE_SECONDS=str(settings.snapshot_lease),
        SNAPSHOT_WORKERS=str(settings.snapshot_workers),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclasses.dataclass
class Worker:
    """A running `python application.py ...` whose output goes to a file."""

    process: subprocess.Popen[bytes]
    output: Path

    def wait(self, timeout: float = WORKER_TIMEOUT) -> int:
        """Its exit code; killed (and the test failed) if it runs past `timeout`."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"worker ran past {timeout:.0f} s:\n{self.text()}")

    def kill(self) -> None:
        """SIGKILL: no lease is released, no transaction committed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def _interruptible() -> None:
    """In the worker, before it starts: SIGINT stops it, however the tests were launched.

    A shell without job control starts a background job with SIGINT ignored, the ignoring is
    inherited, and Python installs no KeyboardInterrupt over an inherited SIG_IGN: a worker
    spawned from `pytest ... &` would run through a SIGINT meant to stop it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Factory of worker subprocesses (cwd: the repo root); any still running are killed."""
    workers: list[Worker] = []

    def spawn(env: dict[str, str], *args: str) -> Worker:
        output = tmp_path / f"worker-{len(workers)}.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "application.py", *args],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                preexec_fn=_interruptible,
            )
        worker = Worker(process, output)
        workers.append(worker)
        return worker

    yield spawn
    for worker in workers:
        worker.kill()
