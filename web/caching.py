"""Conditional responses for snapshots: a past snapshot never changes, so clients may keep it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from db.queries import SnapshotRef

ONE_DAY = 86_400


def snapshot_etag(ref: SnapshotRef, *variant: str) -> str:
    """Strong ETag from the snapshot's identity: a forced re-run changes generated_at.

    For responses computed at read time (e.g. /changes); stored documents carry their own.
    """
    identity = "|".join((str(ref.id), ref.generated_at.isoformat(), *variant))
    return '"' + hashlib.sha256(identity.encode()).hexdigest()[:32] + '"'


def cache_control(request: Request, dated: bool) -> str:
    # "Latest" moves every night; a dated snapshot stays. Keyed reads stay out of shared caches.
    if not dated:
        return "no-cache"
    scope = "private" if request.app.state.settings.api_keys else "public"
    return f"{scope}, max-age={ONE_DAY}"


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks)."""
    if if_none_match.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return etag in candidates


_ACCEPT_ENCODING = b"accept-encoding"
_IF_NONE_MATCH = b"if-none-match"


def conditional_headers(scope: Scope) -> tuple[str | None, str | None]:
    """The request's Accept-Encoding and If-None-Match, the first of each as `Headers.get`
    gives it, in one pass over its raw headers.

    For the snapshot reads, the hottest path there is: two `Headers.get` calls build the
    headers object and, for a header that is absent (both, for most clients), raise and
    catch a KeyError each.
    """
    accept_encoding = if_none_match = None
    for name, value in scope["headers"]:
        if name == _ACCEPT_ENCODING and accept_encoding is None:
            accept_encoding = value.decode("latin-1")
        elif name == _IF_NONE_MATCH and if_none_match is None:
            if_none_match = value.decode("latin-1")
    return accept_encoding, if_none_match


def caching_headers(request: Request, etag: str, dated: bool) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": cache_control(request, dated)}


NOT_MODIFIED = "Not modified: the client's copy (If-None-Match) is current."


def shared_scope(request: Request) -> str:
    """ "public", or "private" when API keys guard the data (shared caches must not keep it)."""
    return "private" if request.app.state.settings.api_keys else "public"


def json_with_etag(request: Request, body: Any, cache_control: str) -> Response:
    """`body` as JSON with a strong ETag of its bytes; 304 when If-None-Match names it.

    For bodies built per request from stored or live data: the server still builds them,
    and a client holding the same bytes is spared the transfer.
    """
    encoded = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    data = encoded.encode()
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(data, headers=headers, media_type="application/json")


# RFC 9110 12.4.2: 0 to 1 with at most three decimals. float() reads far more ("2", "1e0",
# "0_5", "inf"); a weight outside the grammar counts as a refusal, so the answer goes out
# plain, which every client accepts.
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "q":
            return float(value) if _QVALUE.fullmatch(value) else 0.0
    return 1.0


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether Accept-Encoding allows gzip: named, or `*`, with a q-value above zero."""
    if not accept_encoding:
        return False
    qualities: dict[str, float] = {}
    for entry in accept_encoding.split(","):
        coding, _, params = entry.partition(";")
        qualities[coding.strip().lower()] = _quality(params)
    named = qualities.get("gzip", qualities.get("x-gzip"))
    return (named if named is not None else qualities.get("*", 0.0)) > 0
