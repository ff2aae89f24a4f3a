"""Logging for the whole process: the format, the levels, and the redaction of secrets.

Secrets must never reach a log line. OAuth callbacks carry a one-time `code` and a `state`
in their query string, and uvicorn's access log and httpx print request URLs whole, so a
filter rewrites those values before any handler formats the record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
URL_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")

_SECRET_QUERY = re.compile(r"([?&](?:code|state)=)[^&#\s\"]*")


def configure_logging(level: str) -> None:
    """The root logger at `level`; httpx's one line per request only at DEBUG."""
    logging.basicConfig(level=level, format=FORMAT)
    # One line per Spotify request drowns the useful lines; DEBUG brings them back.
    if level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)


def redact_oauth_query(value: str) -> str:
    """`value` with the values of `code` and `state` query parameters replaced."""
    return _SECRET_QUERY.sub(r"\1[redacted]", value)


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
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactOAuthQuery) for f in target.filters):
            target.addFilter(RedactOAuthQuery())
