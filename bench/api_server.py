"""bench/api's servers: the service as `serve` runs it, and the ceiling, in processes of their own.

The ceiling is a bare Starlette app that answers the same URLs with the same bytes (each
user's recommendations document, its gzip copy, its ETag, and a 304 for a current copy)
from a dict, under the same uvicorn settings as the service: the most this stack can do.
Both children are started as `python -m bench.api_server KIND URL WORKERS PORT`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("service", "ceiling")
START_TIMEOUT = 90.0
CEILING_URL_ENV = "BENCH_API_CEILING_DATABASE_URL"


class ServerFailed(RuntimeError):
    """A benchmark server did not start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(kind: str, url: str, workers: int) -> Iterator[tuple[str, int]]:
    """(base URL, supervisor pid) of a server of `kind`; stopped with SIGTERM afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "bench.api_server", kind, url, str(workers), str(port)]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process, log)
            yield base, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: IO[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    log.seek(0)
    tail = log.read().strip().splitlines()[-5:]
    raise ServerFailed(f"bench server did not start: {' | '.join(tail) or 'no output'}")


def _serve_service(url: str, workers: int, port: int) -> None:
    from serving import serve
    from settings import Settings

    serve(
        Settings.from_environment(env_file=None),
        host="127.0.0.1",
        port=port,
        workers=workers,
        scheduler=False,
    )


def _serve_ceiling(url: str, workers: int, port: int) -> None:
    import uvicorn

    # The same uvicorn settings as serving.serve: an app object for one worker, a factory
    # for several, info-level access logs through the service's own log handler (the app
    # sets it up; uvicorn's default config would format every line its own, cheaper way),
    # and for several the same listener as the service's workers (serving.run_workers).
    os.environ[CEILING_URL_ENV] = url
    if workers == 1:
        from bench.api_ceiling import ceiling_app

        uvicorn.run(ceiling_app(), host="127.0.0.1", port=port, log_level="info", log_config=None)
        return
    from serving import run_workers

    run_workers("bench.api_ceiling:ceiling_app", workers=workers, host="127.0.0.1", port=port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_server")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("url")
    parser.add_argument("workers", type=int)
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    serve = _serve_service if args.kind == "service" else _serve_ceiling
    serve(args.url, args.workers, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
