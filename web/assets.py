"""Static files for pages: `web/static/` with content-hashed URLs, and plotly.js from its wheel.

plotly.js is served from `plotly.offline.get_plotlyjs()` (the bundle the installed plotly
wheel ships), so the service needs no CDN and the repository keeps no minified copy. Its URL
carries the wheel's version, so it may be cached for a year: an upgrade changes the URL.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

import plotly
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from web.caching import accepts_gzip, etag_matches
from web.params import Param, operation
from web.problems import not_found

STATIC = Path(__file__).parent / "static"
PLOTLY_VERSION = plotly.__version__
IMMUTABLE = "public, max-age=31536000, immutable"
JAVASCRIPT = "text/javascript; charset=utf-8"
MEDIA_TYPES = {".js": JAVASCRIPT, ".css": "text/css; charset=utf-8"}
# The files there are, read once: a name from the URL never reaches the file system.
FILES = {path.name: path for path in STATIC.iterdir() if path.suffix in MEDIA_TYPES}
ASSET_RESPONSES = {
    200: "The file.",
    304: "Not modified: the client's copy (If-None-Match) is current.",
    404: "No such file, or not this version.",
}


@functools.cache
def _file(name: str) -> tuple[bytes, str]:
    """The file's bytes and its content hash, which its URL carries."""
    body = FILES[name].read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:12]


def static_url(name: str) -> str:
    """URL of a file of `web/static/`, with its content hash so a new version is fetched."""
    return f"/static/{name}?v={_file(name)[1]}"


def _known_file(raw: str) -> str:
    if raw not in FILES:
        raise ValueError(f"one of {', '.join(sorted(FILES))}")
    return raw


NAME = Param(
    "name",
    "path",
    "A file of the pages (stylesheet or script).",
    _known_file,
    {"type": "string", "enum": sorted(FILES)},
    required=True,
)
VERSION = Param(
    "v",
    "query",
    "The file's content hash, as pages link it: with it the file is cached for a year.",
    str,
    {"type": "string"},
)


@operation(
    "A stylesheet or script of the pages",
    NAME,
    VERSION,
    responses=ASSET_RESPONSES,
    protected=False,
    tag="assets",
)
async def static_file(request: Request, name: str, v: str | None) -> Response:
    body, digest = _file(name)
    etag = f'"{digest}"'
    # The hash in the URL names these bytes: cached for good. Without it, revalidated.
    headers = {
        "Cache-Control": IMMUTABLE if v == digest else "no-cache",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=MEDIA_TYPES[FILES[name].suffix])


def plotly_url() -> str:
    return f"/assets/plotly-{PLOTLY_VERSION}.min.js"


@functools.cache
def _plotly_bundle() -> tuple[bytes, bytes, str]:
    """plotly.js, its gzip copy and its ETag: read and compressed once per process."""
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return body, gzip.compress(body, 6, mtime=0), etag


PLOTLY = Param(
    "version",
    "path",
    "The plotly package's version, as pages link it.",
    str,
    {"type": "string", "examples": [PLOTLY_VERSION]},
    required=True,
)


@operation(
    "plotly.js, from the installed plotly wheel (pages draw their charts with it)",
    PLOTLY,
    responses=ASSET_RESPONSES,
    protected=False,
    tag="assets",
)
async def plotly_js(request: Request, version: str) -> Response:
    """plotly.js, cached for a year: the URL names the version it is."""
    if version != PLOTLY_VERSION:
        raise not_found(f"this service serves plotly {PLOTLY_VERSION}")
    # The first request reads ~5 MB and compresses it: off the event loop.
    body, compressed, etag = await run_in_threadpool(_plotly_bundle)
    headers = {
        "Cache-Control": IMMUTABLE,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(compressed, headers=headers, media_type=JAVASCRIPT)
    return Response(body, headers=headers, media_type=JAVASCRIPT)
