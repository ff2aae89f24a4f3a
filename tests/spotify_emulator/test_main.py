"""The standalone command `python -m spotify_emulator`."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import uvicorn

from spotify_emulator.__main__ import main


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param('{"explode": 1}', id="unknown-setting"),
    ],
)
def test_bad_faults_exit_with_status_2(faults: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--faults", faults]) == 2
    assert capsys.readouterr().err.startswith("error: --faults:")


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--mode", "premium"])


def test_no_users_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--users", "0"]) == 2
    assert capsys.readouterr().err == "error: --users must be at least 1\n"


@pytest.mark.parametrize("drift", [True, False])
def test_drift_is_asked_for_on_the_command_line(
    drift: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[Any] = []

    def run(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        # Instead of serving until Ctrl-C: keep the app the command built, free the port.
        served.append(server)
        for bound in sockets:
            bound.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)

    assert main(["--port", "0", *(["--drift"] if drift else [])]) == 0

    [server] = served
    assert server.config.app.state.emulator.drift is drift
