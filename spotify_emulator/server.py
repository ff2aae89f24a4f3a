"""EmulatorServer: the emulator over real HTTP on loopback, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Literal, Self

import uvicorn
from starlette.types import ASGIApp

from spotify_emulator.app import create_app
from spotify_emulator.faults import Faults, RequestRecord
from spotify_emulator.state import Clock, EmulatorState
from spotify_emulator.world import World

HOST = "127.0.0.1"
START_TIMEOUT = 10.0


class BackgroundServer:
    """Any ASGI app served by uvicorn on 127.0.0.1 in a daemon thread (port 0: a free one)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        port: int = 0,
        name: str = "asgi-server",
        lifespan: Literal["on", "off"] = "off",
    ) -> None:
        self.app = app
        self._port = port
        self._name = name
        self._lifespan = lifespan
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (known once started)."""
        return self._port

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://{HOST}:{self._port}"

    def start(self) -> None:
        """Bind, start serving in a daemon thread and wait until it accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan=self._lifespan, ws="none")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=_serve, args=(self._server, sock), name=self._name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()  # one still starting would serve on, and never be stopped
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit (running the app's lifespan shutdown) and wait for the thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=START_TIMEOUT)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    """Serve on `sock` until told to exit, then close it: uvicorn closes the sockets it is
    handed only after serving, and exits (SystemExit) when the app's startup fails."""
    try:
        with contextlib.suppress(SystemExit):
            server.run(sockets=[sock])
    finally:
        sock.close()


class EmulatorServer(BackgroundServer):
    """Serves `create_app(world, mode, faults)` with uvicorn on 127.0.0.1 (port 0: a free one)."""

    def __init__(
        self,
        world: World,
        mode: str = "development",
        faults: Faults | None = None,
        port: int = 0,
        *,
        clock: Clock = time.time,
        drift: bool = False,
    ) -> None:
        app = create_app(world, mode, faults, clock=clock, drift=drift)
        super().__init__(app, port=port, name="spotify-emulator")
        self.world = world
        self._state: EmulatorState = app.state.emulator

    @property
    def api_url(self) -> str:
        """The Web API root, as SPOTIFY_API_URL."""
        return f"{self.base_url}/v1"

    @property
    def accounts_url(self) -> str:
        """The accounts service root, as SPOTIFY_ACCOUNTS_URL."""
        return f"{self.base_url}/accounts"

    @property
    def reccobeats_url(self) -> str:
        """The ReccoBeats root, as RECCOBEATS_URL."""
        return f"{self.base_url}/reccobeats/v1"

    @property
    def consent_user(self) -> str:
        """The user the authorize page signs in."""
        return self._state.consent_user

    @consent_user.setter
    def consent_user(self, user_id: str) -> None:
        self._state.consent_user = self.world.user(user_id).id

    @property
    def deny_consent(self) -> bool:
        """Whether the authorize page answers access_denied."""
        return self._state.deny_consent

    @deny_consent.setter
    def deny_consent(self, deny: bool) -> None:
        self._state.deny_consent = deny

    @property
    def pick_user(self) -> bool:
        """Whether the authorize page lets the person pick which user they are (one click each)."""
        return self._state.pick_user

    @pick_user.setter
    def pick_user(self, pick: bool) -> None:
        self._state.pick_user = pick

    @property
    def allow_list(self) -> frozenset[str] | None:
        """The development-mode app's allow-listed user ids (None: every user)."""
        return self._state.allow_list

    @allow_list.setter
    def allow_list(self, user_ids: Iterable[str] | None) -> None:
        self._state.set_allow_list(user_ids)

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self._state.faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults (their counters restart)."""
        self._state.set_faults(faults)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far (control requests excepted), oldest first."""
        return self._state.requests()

    def clear_requests(self) -> None:
        """Forget the requests so far."""
        self._state.clear_requests()

    def revoke(self, user_id: str) -> None:
        """The user removes the app: their refresh tokens answer invalid_grant from now on."""
        self._state.revoke(user_id)

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (forces 401, then a refresh)."""
        self._state.tokens.expire_access_tokens()

    def plays(self, user_id: str) -> list[tuple[str, dt.datetime]]:
        """The user's track plays so far, newest first (the truth a history poller checks)."""
        return self._state.recent(user_id)

    def simulate_listening(
        self, plays_per_day: float, user_ids: Iterable[str] | None = None
    ) -> None:
        """Users (default: all) play a track every 86400/plays_per_day s from now; 0 stops."""
        self._state.simulate_listening(plays_per_day, user_ids)

    def play(self, user_id: str, track_id: str, played_at: dt.datetime | None = None) -> None:
        """Add a play to the user's history."""
        self._state.play(user_id, track_id, played_at)
