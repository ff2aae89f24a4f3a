"""Every request gets an id: the client's X-Request-ID when it is sane, else a new one.

The id is set in `logs.request_id` for everything the request does (log lines, uvicorn's
access line) and echoed in the response's X-Request-ID, so a client's report and the
service's logs can be matched. An incoming id is taken only if it is short and plain, since
it is written into logs and headers as it came. `web.request_edge` does this for every request.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

import logs

HEADER = "x-request-id"
_HEADER = HEADER.encode()
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

Header = tuple[bytes, bytes]


def request_id_from(raw: str | None) -> str:
    """The client's id if it is 1-64 letters, digits or `._:-`; a fresh random one otherwise."""
    if raw is not None and SANE_ID.fullmatch(raw):
        return raw
    # 32 hex digits, as uuid4().hex gave, at a quarter of the cost (no UUID object built).
    return secrets.token_hex(16)


def name_request(headers: Iterable[Header]) -> Header:
    """Sets the id of the request with these (ASGI) headers for its logs; its answer's header."""
    raw = dict(headers).get(_HEADER)
    request_id = request_id_from(raw.decode("latin-1") if raw is not None else None)
    # Not reset afterwards: the server runs each request in a context of its own, and
    # an error page sent after the app returns still belongs to the request.
    logs.request_id.set(request_id)
    return (_HEADER, request_id.encode("latin-1"))


def with_request_id(headers: Iterable[Header], header: Header) -> list[Header]:
    """The response's headers with `header` as its only X-Request-ID (this one names the
    request, whatever the app set). ASGI header names are lower-case, so they are compared
    as they are."""
    return [*(pair for pair in headers if pair[0] != _HEADER), header]
