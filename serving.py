"""Serving the API: one process, or several uvicorn workers with the scheduler in exactly one.

Each worker is a process of its own, with its own database pool and read cache; they share
the listening socket. The nightly scheduler must run once per machine, not once per worker:
the workers race for an exclusive lock on a file the supervisor names, and only the winner
starts it. The lock dies with its holder, and uvicorn replaces a dead worker, so the
replacement takes it over.

Metrics are the service's, not one worker's: the supervisor points PROMETHEUS_MULTIPROC_DIR
at an empty directory of its own before the workers start, each worker's prometheus-client
writes its figures there, /metrics adds them all up (a dead worker's counts stay counted),
and the directory is removed when the service stops.

uvicorn's own loggers are left unconfigured, so its lines go through the service's handler:
JSON with LOG_FORMAT=json, and an access line carries its request's id.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import IO

from starlette.applications import Starlette

from application import build_app
from logs import configure_logging, install_log_redaction
from metrics import MULTIPROC_ENV
from settings import Settings

logger = logging.getLogger(__name__)

# Set by the supervisor for its workers: the lock file, or empty when no scheduler is wanted.
SCHEDULER_LOCK_ENV = "SPOTIFY_INSIGHT_SCHEDULER_LOCK"

_held: list[IO[bytes]] = []


def elect_scheduler(lock_path: str) -> bool:
    """Whether this process won the scheduler: it holds `lock_path` until it exits."""
    handle = Path(lock_path).open("ab")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    _held.append(handle)
    return True


def worker_app() -> Starlette:
    """The app of one worker process (uvicorn calls this factory in each of them)."""
    settings = Settings.from_environment()
    configure_logging(settings.log_level, settings.log_format)
    install_log_redaction()
    lock_path = os.environ.get(SCHEDULER_LOCK_ENV, "")
    scheduler = bool(lock_path) and elect_scheduler(lock_path)
    if scheduler:
        logger.info("worker %d runs the nightly scheduler", os.getpid())
    app = build_app(settings, scheduler=scheduler)
    set_start_up_aside()
    return app


def serve(settings: Settings, *, host: str, port: int, workers: int, scheduler: bool) -> None:
    """Serve until interrupted: in this process, or in `workers` worker processes."""
    import uvicorn

    # uvicorn's loggers are left to the root handler: make sure there is one (the CLI has
    # set it up already; a caller that has not, like bench/, gets the same lines).
    configure_logging(settings.log_level, settings.log_format)
    install_log_redaction()
    if workers == 1:
        app = build_app(settings, scheduler=scheduler)
        set_start_up_aside()
        uvicorn.run(app, host=host, port=port, log_level="info", log_config=None)
        return
    with tempfile.TemporaryDirectory(prefix="spotify-insight-") as directory:
        lock = str(Path(directory) / "scheduler.lock") if scheduler else ""
        os.environ[SCHEDULER_LOCK_ENV] = lock
        os.environ[MULTIPROC_ENV] = prepare_metrics_directory(directory)
        try:
            run_workers("serving:worker_app", workers=workers, host=host, port=port)
        finally:
            del os.environ[MULTIPROC_ENV]


def run_workers(factory: str, *, workers: int, host: str, port: int) -> None:
    """Serve the app `factory` ("module:function") makes in `workers` uvicorn processes.

    What `uvicorn.run(factory, workers=...)` does, but for the socket the workers share:
    uvicorn binds it with proto 0, and asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    on connections of a socket that says IPPROTO_TCP (Kludex/uvicorn#3149). With Nagle on,
    every keep-alive answer after the first waited ~40 ms for the client's delayed ACK:
    bench/api's two workers, and its ceiling's, were capped at 64 connections / 44 ms.
    """
    from uvicorn import Config
    from uvicorn.supervisors import Multiprocess

    config = Config(
        factory,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        log_config=None,
    )
    bound = config.bind_socket()
    # The same open socket, relabelled: the workers inherit its proto with it.
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, bound.detach())
    Multiprocess(config, sockets=[listener]).run()


def set_start_up_aside() -> None:
    """Leave what the process built so far (modules, the app) out of every later collection.

    Those objects live as long as the process, yet each full collection walked all of them
    (~63,000): under bench/api's archive load one ran every few seconds and stalled the
    worker's loop for 70-200 ms, with every request in flight (BENCHMARKS.md, api).
    """
    gc.collect()
    gc.freeze()


def prepare_metrics_directory(parent: str) -> str:
    """An empty directory under `parent` for the workers' metric files (figures of an
    earlier service must not be added to this one's)."""
    directory = Path(parent) / "metrics"
    directory.mkdir()
    return str(directory)
