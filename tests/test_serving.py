"""Several worker processes: the nightly scheduler is elected into exactly one of them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

import serving
from db.database import Database
from settings import Settings
from tests.factories import make_snapshot, make_user

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "admin-token-of-the-workers"


def _elect_in_another_process(lock: Path) -> bool:
    code = f"import serving; print(serving.elect_scheduler({str(lock)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip() == "True"


def test_only_one_process_wins_the_scheduler_and_it_passes_on_with_its_holder(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "scheduler.lock"
    # Each child exits holding it: the lock dies with its holder.
    assert _elect_in_another_process(lock)
    assert _elect_in_another_process(lock)
    assert serving.elect_scheduler(str(lock))
    try:
        assert not _elect_in_another_process(lock)
        assert not serving.elect_scheduler(str(lock))
    finally:
        for handle in serving._held:
            handle.close()
        serving._held.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"serve --workers 2 did not start:\n{log.read_text(errors='replace')}")


def test_serve_with_two_workers_answers_and_runs_one_scheduler(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    database.run_sync(lambda: make_snapshot(make_user("ann"), dt.date(2026, 11, 20)))
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "ADMIN_TOKEN": ADMIN,
    }
    command = [sys.executable, "application.py", "serve", "--workers", "2", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, process, log)
        answers = {
            httpx.get(f"{base}/users/ann/clusters", timeout=5).status_code for _ in range(20)
        }
        # Both workers have started once each has logged its start-up.
        deadline = time.monotonic() + 30
        while log.read_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        counted = _requests_counted(base, "/users/{username}/clusters")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert answers == {200}
    # Whichever worker answered each request, /metrics counts them all.
    assert counted == 20
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert sum("runs the nightly scheduler" in message for message in messages) == 1, messages
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) >= 20
    assert all(line.get("request_id") for line in access)


def _requests_counted(base: str, route: str) -> float:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    response = httpx.get(f"{base}/metrics", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "insight_http_requests_total" and sample.labels["route"] == route
    )


@pytest.fixture
def frozen_when_served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many objects the collector had set aside each time uvicorn would start serving."""
    seen: list[int] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: seen.append(gc.get_freeze_count()))
    monkeypatch.setattr(serving, "configure_logging", lambda *args: None)
    monkeypatch.setattr(serving, "install_log_redaction", lambda: None)
    gc.unfreeze()
    try:
        yield seen
    finally:
        gc.unfreeze()


def test_a_serving_process_sets_its_start_up_objects_aside_from_the_collector(
    settings: Settings, frozen_when_served: list[int]
) -> None:
    # The modules and app built at start-up live as long as the process: a full collection
    # walking them on every pass stalled a loaded worker for ~100 ms (BENCHMARKS.md, api).
    serving.serve(settings, host="127.0.0.1", port=_free_port(), workers=1, scheduler=False)
    assert len(frozen_when_served) == 1
    assert frozen_when_served[0] > 10_000


def test_each_worker_sets_its_start_up_objects_aside_from_the_collector(
    settings: Settings, frozen_when_served: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(serving.SCHEDULER_LOCK_ENV, "")
    app = serving.worker_app()
    assert isinstance(app, Starlette)
    assert gc.get_freeze_count() > 10_000


class _Supervisor:
    """Stands in for uvicorn's worker supervisor: keeps the sockets it would hand its workers."""

    handed: list[socket.socket] = []

    def __init__(self, config: object, sockets: list[socket.socket], **_: object) -> None:
        _Supervisor.handed = sockets

    def run(self) -> None:
        pass


async def _nodelay_of_a_connection(listener: socket.socket) -> int:
    """TCP_NODELAY of a connection an asyncio server accepts on `listener`, as a worker's does."""
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Accept, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        writer.close()
        return await asyncio.wait_for(seen, timeout=10)
    finally:
        server.close()


def test_the_workers_listener_turns_nagle_off_on_every_connection(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn binds the workers' socket with proto 0, and asyncio sets TCP_NODELAY only on a
    # socket that says IPPROTO_TCP (Kludex/uvicorn#3149): every keep-alive answer after the
    # first then waited ~40 ms for the client's delayed ACK.
    for module in ("uvicorn.main", "uvicorn.supervisors"):
        # The module: `uvicorn.main` as an attribute is uvicorn's command of that name.
        monkeypatch.setattr(importlib.import_module(module), "Multiprocess", _Supervisor)
    monkeypatch.setattr(serving, "configure_logging", lambda *args: None)
    monkeypatch.setattr(serving, "install_log_redaction", lambda: None)
    serving.serve(settings, host="127.0.0.1", port=_free_port(), workers=2, scheduler=False)
    [listener] = _Supervisor.handed
    with listener:
        assert asyncio.run(_nodelay_of_a_connection(listener)) == 1
