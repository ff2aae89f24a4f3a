"""What the lifespan hands every request (`application.build_app`): read from the scope.

The server gives each request a copy of the lifespan's state as `scope["state"]`, and
`request.state` wraps that same dict. Read through the wrapper, each name costs an attribute
look-up that fails first (and the first read builds the wrapper): ~1 us on a snapshot read,
the hottest path there is, which needs two of them (BENCHMARKS.md, api).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from db.database import Database
from web.read_cache import ReadCache


def database_of(request: HTTPConnection) -> Database:
    database: Database = request.scope["state"]["database"]
    return database


def read_cache_of(request: HTTPConnection) -> ReadCache:
    cache: ReadCache = request.scope["state"]["read_cache"]
    return cache
