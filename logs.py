"""Logging for the whole process: the format, the levels, the context, and redaction.

Secrets must never reach a log line. OAuth callbacks carry a one-time `code` and a `state`
in their query string, and uvicorn's access log and httpx print request URLs whole, so a
filter rewrites those values before any handler formats the record; both formatters redact
the finished line once more (tokens in a query or form, bearer credentials), whoever logged it.

Every line says which request or snapshot run it belongs to: the web layer sets `request_id`
and jobs.service sets `run_id`, context variables that follow the work through its awaits
and tasks. `LOG_FORMAT=json` writes one JSON object per line; text is the default.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"
LOG_FORMATS = ("text", "json")
URL_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)

_SECRET_QUERY = re.compile(r"([?&](?:code|state)=)[^&#\s\"]*")
# Anywhere in a finished line: OAuth parameters as a query or form writes them, and HTTP
# credentials as a header does ("Bearer <token>", "Basic <base64>").
_FIELD_NAMES = ("refresh_token", "access_token", "client_secret", "code_verifier", "password")
_SECRET_FIELD = re.compile(
    rf"((?:{'|'.join(_FIELD_NAMES)})[\"']?\s*[=:]\s*[\"']?)" r"[^&#\s\"',}]+",
    re.IGNORECASE,
)
_CREDENTIALS = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}", re.IGNORECASE)


def configure_logging(level: str, log_format: str = "text") -> None:
    """The root logger at `level` in `log_format`; httpx's one line per request only at DEBUG."""
    install_log_context()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler])
    # One line per Spotify request drowns the useful lines; DEBUG brings them back.
    if level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)


def redact_oauth_query(value: str) -> str:
    """`value` with the values of `code` and `state` query parameters replaced."""
    # Most lines name neither, and a substring test is far cheaper than the search.
    if "code=" not in value and "state=" not in value:
        return value
    return _SECRET_QUERY.sub(r"\1[redacted]", value)


def redact_secrets(value: str) -> str:
    """`value` with OAuth codes, states, tokens, client secrets and credentials replaced."""
    value = redact_oauth_query(value)
    # Every access line passes here: the case-insensitive searches run only on a line that
    # names what they look for. Only for ASCII text is lower() the regex's case folding
    # (re.IGNORECASE also matches "pa\u017fsword", with a long s), so other text is searched.
    lowered = value.lower() if value.isascii() else None
    if lowered is None or any(name in lowered for name in _FIELD_NAMES):
        value = _SECRET_FIELD.sub(r"\1[redacted]", value)
    if lowered is None or "bearer" in lowered or "basic" in lowered:
        value = _CREDENTIALS.sub(r"\1 [redacted]", value)
    return value


_CONTEXT = ("request_id", "run_id")
_base_factory = logging.getLogRecordFactory()


def _stamped_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id.get()
    record.run_id = run_id.get()
    return record


def install_log_context() -> None:
    """Stamp every record with the request and run in force where it was made (idempotent):
    a handler may format it later, elsewhere (pytest's capture, a queue)."""
    logging.setLogRecordFactory(_stamped_record)


def _context(record: logging.LogRecord) -> dict[str, str]:
    found = {name: getattr(record, name, None) for name in _CONTEXT}
    if not any(found.values()):
        found = {"request_id": request_id.get(), "run_id": run_id.get()}
    return {name: value for name, value in found.items() if value}


class TextFormatter(logging.Formatter):
    """Readable lines: time, level, logger, the request or run, then the redacted message."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        context = _context(record)
        record.context = "".join(f" {name}={value}" for name, value in context.items())
        return redact_secrets(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_secrets(record.getMessage()),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = redact_secrets(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact_secrets(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact_secrets(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str)


class RedactOAuthQuery(logging.Filter):
    """Hides OAuth codes and states in log lines, e.g. uvicorn's access log of the callback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_oauth_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        return True


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    # URLs arrive as objects too (httpx logs an httpx.URL): compare their text form.
    text_form = arg if isinstance(arg, str) else str(arg)
    redacted = redact_oauth_query(text_form)
    return redacted if redacted != text_form else arg


def install_log_redaction(logger_names: Iterable[str] = URL_LOGGERS) -> None:
    """Attach RedactOAuthQuery to the loggers that print request URLs (idempotent)."""
    install_log_context()
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactOAuthQuery) for f in target.filters):
            target.addFilter(RedactOAuthQuery())
