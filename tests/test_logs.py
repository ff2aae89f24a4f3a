"""Log lines never carry OAuth codes or states, whoever logs the URL."""

from __future__ import annotations

import datetime as dt
import json
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


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("jobs.pipeline", logging.WARNING, __file__, 1, message, args, exc_info)


def _raised(exc: Exception) -> Exception:
    """`exc` with a traceback, as a logger's `exc_info` has it."""

    def fail() -> None:
        raise exc

    try:
        fail()
    except Exception as raised:  # noqa: BLE001 - handed back to the caller
        return raised
    raise AssertionError("fail() returned")


SECRETS = {
    "code": "/auth/callback?code=C0DE-SECRET&state=STATE-SECRET",
    "form": "grant_type=refresh_token&refresh_token=RT-SECRET&client_secret=CS-SECRET",
    "json": '{"access_token": "AT-SECRET", "token_type": "Bearer"}',
    "bearer": "Authorization: Bearer BEARER-SECRET",
    "basic": "Authorization: Basic QkFTSUMtU0VDUkVU",
    # Not ASCII: matched by the search's case folding, not by a lower-case substring test.
    "folded": "pa\u017fsword=PW-SECRET sent with BEARER BEARER-SECRET, café",
}


@pytest.mark.parametrize(
    "formatter", [logs.JsonFormatter(), logs.TextFormatter()], ids=["json", "text"]
)
@pytest.mark.parametrize(
    ("what", "text"), [pytest.param(*item, id=item[0]) for item in SECRETS.items()]
)
def test_no_formatter_prints_a_secret_whoever_logged_it(
    formatter: logging.Formatter, what: str, text: str
) -> None:
    line = formatter.format(_record("sent %s", text, exc=_raised(ValueError(f"failed: {text}"))))
    secrets = ("C0DE", "STATE-SECRET", "RT-SECRET", "CS-SECRET", "AT-SECRET", "BEARER-SEC", "PW-S")
    for secret in secrets:
        assert secret not in line
    assert "QkFTSUMtU0VDUkVU" not in line
    assert "[redacted]" in line


def test_json_lines_are_one_object_each_with_the_request_and_run() -> None:
    formatter = logs.JsonFormatter()
    request = logs.request_id.set("req-1")
    run = logs.run_id.set("run-9")
    try:
        line = formatter.format(_record("snapshot of %s\nfailed", "ann"))
    finally:
        logs.run_id.reset(run)
        logs.request_id.reset(request)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "snapshot of ann\nfailed"
    assert (entry["level"], entry["logger"]) == ("WARNING", "jobs.pipeline")
    assert (entry["request_id"], entry["run_id"]) == ("req-1", "run-9")
    assert dt.datetime.fromisoformat(entry["time"]).tzinfo == dt.UTC
    bare = json.loads(formatter.format(_record("idle")))
    assert "request_id" not in bare
    assert "run_id" not in bare


def test_json_lines_carry_the_exception_and_stay_ascii() -> None:
    exc = _raised(RuntimeError("broken \udcff pipe"))
    line = logs.JsonFormatter().format(_record("lost %s", "\u00e9t\u00e9", exc=exc))
    assert line.isascii()
    entry = json.loads(line)
    assert entry["message"] == "lost \u00e9t\u00e9"
    assert "RuntimeError: broken" in entry["exception"]


def test_text_lines_name_their_run() -> None:
    run = logs.run_id.set("run-9")
    try:
        line = logs.TextFormatter().format(_record("snapshot of %s failed", "ann"))
    finally:
        logs.run_id.reset(run)
    assert line.endswith("WARNING jobs.pipeline run_id=run-9: snapshot of ann failed")


@pytest.mark.parametrize(
    ("log_format", "formatter"),
    [
        pytest.param("json", logs.JsonFormatter, id="json"),
        pytest.param("text", logs.TextFormatter, id="text"),
    ],
)
def test_configure_logging_installs_the_chosen_format(
    monkeypatch: pytest.MonkeyPatch, log_format: str, formatter: type[logging.Formatter]
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(logging.getLogger("httpx"), "level", logging.NOTSET)
    logs.configure_logging("INFO", log_format)
    assert [type(h.formatter) for h in root.handlers] == [formatter]
