"""Call an ASGI app in-process with the least overhead, so the app's own cost is what we time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.types import Message


class AsgiCaller:
    """GET requests straight into an app whose lifespan is running."""

    def __init__(self, app: Starlette, state: Mapping[str, Any]) -> None:
        self._app = app
        self._state = state

    async def get(
        self, target: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body of GET `target`."""
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"bench")]
            + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": dict(self._state),
        }
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await self._app(scope, receive, send)
        start = sent[0]
        names = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        body = b"".join(m.get("body", b"") for m in sent[1:])
        return int(start["status"]), names, body


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[AsgiCaller]:
    """The app with its lifespan entered, as a server would run it."""
    async with app.router.lifespan_context(app) as state:
        yield AsgiCaller(app, state or {})
