"""Every request is seen as arriving at the public origin, whatever its Host header says.

Starlette builds absolute URLs (`url_for`, trailing-slash redirects) from the request's
scheme and Host header, so a client could make the service hand out links to a host of the
client's choosing. `web.request_edge` replaces both with PUBLIC_URL's before routing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import Scope


class PublicOrigin:
    """The public origin's scheme, Host and server, worked out once from PUBLIC_URL."""

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        self.scheme = parts.scheme
        self.host = parts.netloc.encode("latin-1")
        default_port = 443 if parts.scheme == "https" else 80
        self.server = (parts.hostname or "", parts.port or default_port)

    def scope_of(self, scope: Scope) -> Scope:
        """A copy of an HTTP request's scope with the public scheme, Host and server."""
        headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
        return {
            **scope,
            "scheme": self.scheme,
            "server": self.server,
            "headers": [*headers, (b"host", self.host)],
        }
