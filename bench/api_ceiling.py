"""The ceiling of bench/api: a bare Starlette app serving the service's bytes from a dict.

It loads each user's latest recommendations document (body, gzip copy, ETag) and every
dated ETag once at start-up. A dated URL is answered with the user's latest bytes (the same
size and shape; holding all 30,000 documents would take gigabytes per worker), with that
date's ETag for conditional requests. It does the least any server must: route, read two
headers, answer, and log the access line as the service does (the service's handler, format
and redaction), so both do the same logging work per request.
"""

from __future__ import annotations

import gc
import os
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from db.database import Database
from db.documents import RECOMMENDATIONS
from db.models import SnapshotDocument, User
from logs import configure_logging, install_log_redaction
from settings import Settings
from web.caching import accepts_gzip, etag_matches

Bytes = tuple[bytes, bytes, str]


def _load(url: str) -> tuple[dict[str, Bytes], dict[tuple[str, str], str]]:
    latest: dict[str, Bytes] = {}
    etags: dict[tuple[str, str], str] = {}
    database = Database(url, pool_size=1)

    def read() -> None:
        query = (
            SnapshotDocument.select(
                User.username,
                SnapshotDocument.date,
                SnapshotDocument.etag,
                SnapshotDocument.body,
                SnapshotDocument.gzip,
            )
            .join(User)
            .where(SnapshotDocument.variant == RECOMMENDATIONS)
            .order_by(User.username, SnapshotDocument.date)
            .tuples()
        )
        for name, date, etag, body, zipped in cast(Any, query):
            etags[(name, date.isoformat())] = etag
            latest[name] = (bytes(body), bytes(zipped), etag)

    try:
        database.run_sync(read)
    finally:
        database.close()
    return latest, etags


def ceiling_app() -> Starlette:
    # As serving.worker_app does in each worker: uvicorn's lines go through the service's
    # handler (uvicorn itself is started with log_config=None, as serving.serve starts it).
    settings = Settings.from_environment(env_file=None)
    configure_logging(settings.log_level, settings.log_format)
    install_log_redaction()
    latest, etags = _load(os.environ["BENCH_API_CEILING_DATABASE_URL"])

    async def recommendations(request: Request) -> Response:
        username = request.path_params["username"]
        date = request.query_params.get("date")
        body, zipped, etag = latest[username]
        if date is not None:
            etag = etags[(username, date)]
        headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and etag_matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        if accepts_gzip(request.headers.get("accept-encoding")):
            headers["Content-Encoding"] = "gzip"
            return Response(zipped, headers=headers, media_type="application/json")
        return Response(body, headers=headers, media_type="application/json")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/user-recommendations/{username}", recommendations),
            Route("/health", health),
        ]
    )
    # As serving.set_start_up_aside does for the service: the same collector settings.
    gc.collect()
    gc.freeze()
    return app
