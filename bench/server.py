"""Run one db-access variant under uvicorn in a process of its own, on a loopback port.

A separate process keeps the load generator off the server's GIL and event loop, as in
production. The child prints its port on stdout once it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0


class ServerFailed(RuntimeError):
    """The benchmark server did not start."""


@contextlib.contextmanager
def serving(variant: str, url: str, pool_size: int) -> Iterator[str]:
    """Base URL of a running server of `variant`; stopped (SIGTERM, then kill) afterwards."""
    command = [sys.executable, "-m", "bench.server", variant, url, str(pool_size)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), *_extra_path()]))}
    # stderr goes to a file: a pipe nobody reads would stall a child that logs a lot.
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            yield f"http://127.0.0.1:{_read_port(process, errors)}"
        finally:
            _stop(process)


def _extra_path() -> list[str]:
    existing = os.environ.get("PYTHONPATH", "")
    return [part for part in existing.split(os.pathsep) if part]


def _read_port(process: subprocess.Popen[str], errors: IO[str]) -> int:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.isdigit():
        process.kill()
        process.communicate(timeout=START_TIMEOUT)
        errors.seek(0)
        tail = errors.read().strip().splitlines()[-3:]
        raise ServerFailed(f"bench server did not start: {' | '.join(tail) or 'no output'}")
    return int(line)


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def main(argv: list[str] | None = None) -> int:
    """Child side: build the variant's app and serve it until SIGTERM."""
    import uvicorn

    from bench.app import VARIANTS, build_bench_app

    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("url")
    parser.add_argument("pool_size", type=int)
    args = parser.parse_args(argv)
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets, as it does when
    # uvicorn binds by host and port; without it Nagle adds ~40 ms to keep-alive requests.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listening before the port is announced: early connections wait in the backlog.
    sock.listen(2048)
    app = build_bench_app(args.variant, args.url, args.pool_size)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    print(sock.getsockname()[1], flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
