"""Declared endpoint parameters: one declaration drives parsing, validation and OpenAPI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from db.users import USERNAME_PATTERN, USERNAME_RULE
from spotify_models import ITEM_TYPES, TIME_RANGES
from web.access import require_client, require_reader
from web.problems import bad_parameter, unknown_parameters

DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ECHO_LIMIT = 40
UNKNOWN_NAMED = 10  # unknown query parameters named in one answer
# Days a range (since/until, from/to) is clamped to: wide enough for any stored play, narrow
# enough that the day after the last one, and every timestamp between, exist everywhere.
FIRST_RANGE_DAY = dt.date(1900, 1, 1)
LAST_RANGE_DAY = dt.date(2999, 12, 31)


def _echo(raw: str) -> str:
    """The client's value, cut short so a 5,000-character input is not mirrored back."""
    return repr(raw if len(raw) <= ECHO_LIMIT else raw[:ECHO_LIMIT] + "…")


def parse_date(raw: str) -> dt.date:
    if not DATE_PATTERN.fullmatch(raw):
        raise ValueError(f"must be a date written YYYY-MM-DD, not {_echo(raw)}")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw} is not a real calendar date") from None


def parse_range_day(raw: str) -> dt.date:
    """A day bounding a range: any real date, clamped to FIRST_RANGE_DAY..LAST_RANGE_DAY."""
    return min(max(parse_date(raw), FIRST_RANGE_DAY), LAST_RANGE_DAY)


def parse_username(raw: str) -> str:
    if not USERNAME_PATTERN.fullmatch(raw):
        raise ValueError(f"a username is {USERNAME_RULE}; got {_echo(raw)}")
    return raw


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {_echo(raw)}")
        return raw

    return parse


@dataclasses.dataclass(frozen=True)
class Param:
    """A path or query parameter: its name, how to parse it, and its documentation."""

    name: str
    location: str
    description: str
    parse: Callable[[str], Any]
    schema: dict[str, Any]
    required: bool = False
    default: Any = None
    # The endpoint's keyword for it, where the name is not a Python identifier (`from`).
    argument: str | None = None

    @property
    def in_query(self) -> bool:
        return self.location == "query"

    def read(self, request: Request) -> Any:
        if self.location == "path":
            raw = request.path_params[self.name]
        else:
            # No query string, no parsing of one (the latest document's read has none).
            query = request.scope["query_string"]
            values = request.query_params.getlist(self.name) if query else []
            if len(values) > 1:
                raise bad_parameter(self.name, "may be given only once")
            if not values:
                if self.required:
                    raise bad_parameter(self.name, "is required")
                return self.default
            raw = values[0]
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise bad_parameter(self.name, str(exc)) from None


USERNAME = Param(
    "username",
    "path",
    f"Registered username ({USERNAME_RULE}).",
    parse_username,
    {"type": "string", "pattern": f"^{USERNAME_PATTERN.pattern}$", "examples": ["alice"]},
    required=True,
)
DATE = Param(
    "date",
    "query",
    "Snapshot date, YYYY-MM-DD; the latest snapshot when omitted.",
    parse_date,
    {"type": "string", "format": "date"},
)
ITEM_TYPE = Param(
    "type",
    "query",
    "Which top items: tracks or artists.",
    one_of(*ITEM_TYPES),
    {"type": "string", "enum": list(ITEM_TYPES), "default": "tracks"},
    default="tracks",
)
TIME_RANGE = Param(
    "time_range",
    "query",
    "Spotify's time range: short_term (~4 weeks), medium_term (~6 months), long_term (~1 year).",
    one_of(*TIME_RANGES),
    {"type": "string", "enum": list(TIME_RANGES), "default": "medium_term"},
    default="medium_term",
)


@dataclasses.dataclass(frozen=True)
class Operation:
    """What OpenAPI says about an endpoint, and what the wrapper enforces."""

    summary: str
    params: tuple[Param, ...] = ()
    responses: dict[int, str] = dataclasses.field(default_factory=dict)
    protected: bool = True
    tag: str = "snapshots"
    strict: bool = True
    # What a 200 answers with, one type or several (errors are always problem documents).
    media_type: str | tuple[str, ...] = "application/json"

    @property
    def reads_user(self) -> bool:
        """Whether the endpoint reads a user's data: it takes a `username`."""
        return any(param.name == "username" for param in self.params)

    # Worked out once per endpoint rather than on each of its requests.
    @functools.cached_property
    def query_names(self) -> frozenset[str]:
        """The query parameters the endpoint takes."""
        return frozenset(param.name for param in self.params if param.in_query)

    @functools.cached_property
    def username_in_query(self) -> bool:
        return "username" in self.query_names

    async def authorize(self, request: Request) -> None:
        """Refuse a request its credentials do not allow (web.access decides)."""
        readers = self.users_read(request)
        if not readers:
            await require_client(request)
        for username in readers:
            await require_reader(request, username)

    def users_read(self, request: Request) -> list[str]:
        """Whose data the request reads: every value given for a `username` parameter.

        Taken raw, before parsing, so credentials are checked first; a malformed name is
        covered by no credential and is refused like any other user's.
        """
        found = [request.path_params["username"]] if "username" in request.path_params else []
        if self.username_in_query:
            found.extend(request.query_params.getlist("username"))
        return found

    def refuse_unknown_query(self, request: Request) -> None:
        """A 400 naming every query parameter this endpoint does not take."""
        if not self.strict or not request.scope["query_string"]:
            return
        unknown = sorted(set(request.query_params) - self.query_names)
        if unknown:
            named = [name[:ECHO_LIMIT] for name in unknown[:UNKNOWN_NAMED]]
            raise unknown_parameters(named, sorted(self.query_names))


Endpoint = Callable[..., Awaitable[Response]]


class OperationEndpoint:
    """An endpoint declared with `operation`, as the ASGI app of its route.

    Starlette wraps a plain endpoint function in `request_response`, which catches the
    endpoint's exceptions with the app's handlers; the ExceptionMiddleware around the router
    catches them too, with the same handlers, for the same scope. Handed this app instead,
    the route skips the inner catch: an error gets the same answer from the outer one, and
    a snapshot read (a dict look-up, the hottest path there is) saves ~1 us (BENCHMARKS.md,
    api). Starlette names the route, and OpenAPI documents it, from the function's name and
    `__operation__`.
    """

    def __init__(self, fn: Endpoint, spec: Operation) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.__operation__ = spec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await self.answer(request)
        await response(scope, receive, send)

    async def answer(self, request: Request) -> Response:
        """Check the credentials, refuse unknown query parameters, parse, and call `fn`."""
        spec = self.__operation__
        if spec.protected:
            await spec.authorize(request)
        spec.refuse_unknown_query(request)
        values = {param.argument or param.name: param.read(request) for param in spec.params}
        return await self.fn(request, **values)


def operation(
    summary: str,
    *params: Param,
    responses: dict[int, str] | None = None,
    protected: bool = True,
    tag: str = "snapshots",
    strict: bool = True,
    media_type: str | tuple[str, ...] = "application/json",
) -> Callable[[Endpoint], OperationEndpoint]:
    """Declare an endpoint: check its credentials, parse its parameters, document it.

    A query parameter the endpoint does not declare is a 400 (`?Date=` is not `?date=`),
    unless `strict` is off for a caller that may add parameters of its own (Spotify).
    """
    spec = Operation(summary, params, responses or {}, protected, tag, strict, media_type)

    def decorate(fn: Endpoint) -> OperationEndpoint:
        return OperationEndpoint(fn, spec)

    return decorate


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        # Length first: int() of thousands of digits fails with Python's own message.
        fits = len(raw) <= len(str(high)) and raw.isascii() and raw.isdigit()
        if not fits or not low <= int(raw) <= high:
            raise ValueError(f"must be a whole number from {low} to {high}, not {_echo(raw)}")
        return int(raw)

    return parse


SINCE = Param(
    "since",
    "query",
    "First day to include, YYYY-MM-DD (UTC); the beginning of the history when omitted. "
    f"Any real date; days before {FIRST_RANGE_DAY} count as {FIRST_RANGE_DAY}.",
    parse_range_day,
    {"type": "string", "format": "date"},
)
UNTIL = Param(
    "until",
    "query",
    "Last day to include, YYYY-MM-DD (UTC); today when omitted. "
    f"Any real date; days after {LAST_RANGE_DAY} count as {LAST_RANGE_DAY}.",
    parse_range_day,
    {"type": "string", "format": "date"},
)
HISTORY_LIMIT = Param(
    "limit",
    "query",
    "At most this many plays, newest first (1-1000).",
    bounded_int(1, 1000),
    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    default=100,
)
