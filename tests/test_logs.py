"""Log lines never carry OAuth codes or states, whoever logs the URL."""

from __future__ import annotations

import logging

import httpx
import pytest

import logs


def test_the_access_log_redacts_codes_and_states(caplog: pytest.LogCaptureFixture) -> None:
    logs.install_log_redaction()
    logs.install_log_redaction()
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, logs.RedactOAuthQuery) for f in access.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/auth/callback?code=SECRETCODE&state=SECRETSTATE&x=1",
            "1.1",
            200,
        )
    assert "SECRETCODE" not in caplog.text
    assert "SECRETSTATE" not in caplog.text
    assert "/auth/callback?code=[redacted]&state=[redacted]&x=1" in caplog.text


def test_redaction_survives_uvicorn_configuring_its_loggers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn.config

    # uvicorn reconfigures these loggers process-wide; put them back for later tests.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        target = logging.getLogger(name)
        monkeypatch.setattr(target, "handlers", list(target.handlers))
        monkeypatch.setattr(target, "filters", list(target.filters))
        monkeypatch.setattr(target, "propagate", target.propagate)
        monkeypatch.setattr(target, "level", target.level)
    logs.install_log_redaction()
    uvicorn.config.Config(app="application:build_app", log_level="info").configure_logging()
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, logs.RedactOAuthQuery) for f in access.filters)


def test_urls_logged_as_objects_are_redacted_and_other_arguments_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logs.install_log_redaction(["test.redaction"])
    target = logging.getLogger("test.redaction")
    url = httpx.URL("https://accounts.example/callback?state=S3CRET&code=C0DE")
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        target.info("GET %s %d %s", url, 200, httpx.URL("https://api.example/v1/me"))
    assert "S3CRET" not in caplog.text
    assert "C0DE" not in caplog.text
    assert (
        "GET https://accounts.example/callback?state=[redacted]&code=[redacted] 200" in caplog.text
    )
    assert caplog.text.rstrip().endswith("https://api.example/v1/me")


@pytest.mark.parametrize(
    ("level", "httpx_level"),
    [
        pytest.param("INFO", logging.WARNING, id="info"),
        pytest.param("DEBUG", logging.NOTSET, id="debug"),
    ],
)
def test_httpx_request_lines_show_only_at_debug(
    monkeypatch: pytest.MonkeyPatch, level: str, httpx_level: int
) -> None:
    client_logger = logging.getLogger("httpx")
    monkeypatch.setattr(client_logger, "level", logging.NOTSET)
    monkeypatch.setattr(logging.getLogger(), "level", logging.getLogger().level)
    logs.configure_logging(level)
    assert client_logger.level == httpx_level
