"""An operation endpoint, handed to its route as an ASGI app, answers what Starlette's
`request_response` around the same endpoint answers: the path every operation took before.

The two differ only in which of two identical exception handlers answers an error, so any
request (a good read, a 304, gzip, a bad date, an unknown parameter or user, a missing or
wrong key) must get the same status, headers and body from both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from application import build_app
from db.database import Database
from settings import Settings
from tests.conftest import with_lifespan_state
from tests.factories import make_snapshot, make_user
from web.params import OperationEndpoint

KEY = "instance-key-1"
DATES = ("2026-11-20", "2026-11-21")
CURRENT_ETAG = "the ETag of ann's latest recommendations"
PATHS = (
    "/user-recommendations/{}",
    "/users/{}/top-items",
    "/users/{}/clusters",
    "/users/{}/snapshots",
    "/users/{}",
)

usernames = st.one_of(
    st.sampled_from(["ann", "zed", "a" * 65, ""]),
    st.text(alphabet="abzAZ09_-.é %/", max_size=10),
)
query_values = st.one_of(
    st.sampled_from([*DATES, "2026-11-19", "2026-02-30", "20261120", "tracks", "long_term"]),
    st.text(max_size=8),
)
queries = st.lists(
    st.tuples(st.sampled_from(["date", "type", "time_range", "Date", "limit"]), query_values),
    max_size=3,
)
accept_encodings = st.sampled_from([None, "gzip", "identity", "gzip;q=0", "*", "br, x-gzip;q=0.5"])
if_none_matches = st.sampled_from([None, CURRENT_ETAG, "*", '"stale"', 'W/"stale", "other"'])
authorizations = st.sampled_from([None, f"Bearer {KEY}", "Bearer wrong-key", "Basic YTpi"])


@dataclasses.dataclass
class Pair:
    """The same app twice: operations as ASGI apps (as built), and as plain functions."""

    direct: httpx.AsyncClient
    wrapped: httpx.AsyncClient
    current_etag: str


def _as_plain_function(endpoint: OperationEndpoint) -> object:
    async def plain(request: Request) -> Response:
        return await endpoint.answer(request)

    return plain


def _through_request_response(app: Starlette) -> Starlette:
    """`app` with each operation endpoint handed to Starlette as a function, as before."""
    routes = []
    for route in app.router.routes:
        if isinstance(route, Route) and isinstance(route.endpoint, OperationEndpoint):
            plain = _as_plain_function(route.endpoint)
            methods = sorted(route.methods or ())
            route = Route(route.path, plain, methods=methods, name=route.name)  # type: ignore[arg-type]
        routes.append(route)
    app.router.routes = routes
    return app


@pytest.fixture(params=[False, True], ids=["open", "keyed"])
async def pair(
    request: pytest.FixtureRequest, database: Database, settings: Settings
) -> AsyncIterator[Pair]:
    def snapshots() -> None:
        ann = make_user("ann")
        for day in DATES:
            make_snapshot(ann, dt.date.fromisoformat(day))

    database.run_sync(snapshots)
    keys = (Secret(KEY),) if request.param else ()
    configured = dataclasses.replace(settings, api_keys=keys)
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in (build_app(configured), _through_request_response(build_app(configured))):
            state = await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=with_lifespan_state(app, state))
            client = httpx.AsyncClient(transport=transport, base_url="http://insight.test")
            clients.append(await stack.enter_async_context(client))
        latest = await clients[0].get(
            "/user-recommendations/ann", headers={"Authorization": f"Bearer {KEY}"}
        )
        assert latest.status_code == 200
        yield Pair(clients[0], clients[1], latest.headers["etag"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(PATHS),
    username=usernames,
    query=queries,
    accept_encoding=accept_encodings,
    if_none_match=if_none_matches,
    authorization=authorizations,
)
async def test_the_direct_endpoint_answers_what_request_response_answers(
    pair: Pair,
    path: str,
    username: str,
    query: list[tuple[str, str]],
    accept_encoding: str | None,
    if_none_match: str | None,
    authorization: str | None,
) -> None:
    headers = {"X-Request-ID": "same-for-both"}
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match.replace(CURRENT_ETAG, pair.current_etag)
    if authorization is not None:
        headers["Authorization"] = authorization
    target = path.format(quote(username, safe="")) + ("?" + urlencode(query) if query else "")

    direct = await pair.direct.get(target, headers=headers)
    wrapped = await pair.wrapped.get(target, headers=headers)

    assert direct.status_code == wrapped.status_code
    assert direct.headers.multi_items() == wrapped.headers.multi_items()
    assert direct.content == wrapped.content
