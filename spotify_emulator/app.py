"""The emulator's ASGI application."""

from __future__ import annotations

import asyncio
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount

from spotify_emulator import accounts, api_catalogue, api_extended, api_me, control, reccobeats
from spotify_emulator.errors import ApiError, api_error_handler, error_body
from spotify_emulator.faults import Faults
from spotify_emulator.middleware import FaultMiddleware
from spotify_emulator.objects import MODES
from spotify_emulator.state import Clock, EmulatorState, Sleep
from spotify_emulator.world import World


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = "Service not found" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(error_body(exc.status_code, message), status_code=exc.status_code)


def create_app(
    world: World,
    mode: str = "development",
    faults: Faults | None = None,
    *,
    clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
    drift: bool = False,
) -> Starlette:
    """A local Spotify (accounts, Web API, ReccoBeats) over `world`, in the given mode.

    `clock` and `sleep` are injectable so tests of latency and rate limits never wait.
    `drift` makes users' top lists and plays move with the clock's date (`drift.py`).
    The running state (faults, request log, tokens) is `app.state.emulator`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    state = EmulatorState(world, mode, faults or Faults(), clock, sleep, drift=drift)
    app = Starlette(
        routes=[
            Mount("/accounts", routes=accounts.routes),
            Mount("/v1", routes=api_me.routes + api_catalogue.routes + api_extended.routes),
            Mount("/reccobeats/v1", routes=reccobeats.routes),
            Mount("/_emulator", routes=control.routes),
        ],
        middleware=[Middleware(FaultMiddleware, state=state)],
        exception_handlers={ApiError: api_error_handler, HTTPException: _http_error},
    )
    app.state.emulator = state
    return app
