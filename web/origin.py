"""Every request is seen as arriving at the public origin, whatever its Host header says.

Starlette builds absolute URLs (`url_for`, trailing-slash redirects) from the request's
scheme and Host header, so a client could make the service hand out links to a host of the
client's choosing. This middleware replaces both with PUBLIC_URL's before routing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send


class PublicOrigin:
    """Pure ASGI middleware: the request's scheme and Host become the public origin's."""

    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        parts = urlsplit(origin)
        self.scheme = parts.scheme
        self.host = parts.netloc.encode("latin-1")
        default_port = 443 if parts.scheme == "https" else 80
        self.server = (parts.hostname or "", parts.port or default_port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
            scope = {
                **scope,
                "scheme": self.scheme,
                "server": self.server,
                "headers": [*headers, (b"host", self.host)],
            }
        await self.app(scope, receive, send)
