"""A sliding-window rate limit per client, held in memory by one process."""

from __future__ import annotations

from collections import deque

from starlette.requests import Request


class SlidingWindow:
    """At most `limit` hits per client in any `window` seconds; idle clients are forgotten."""

    def __init__(self, window: float, max_clients: int = 10_000) -> None:
        self.window = window
        self.max_clients = max_clients
        self._hits: dict[str, deque[float]] = {}

    def allow(self, client: str, now: float, limit: int) -> bool:
        """Record a hit and answer True, or answer False (and record nothing) past the limit."""
        hits = self._hits.setdefault(client, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        if len(self._hits) > self.max_clients:
            self._forget_stalest(now)
        return True

    def retry_after(self, client: str, now: float) -> int:
        """Whole seconds until the client's oldest hit leaves the window."""
        hits = self._hits.get(client)
        if not hits:
            return 0
        return max(1, int(hits[0] + self.window - now) + 1)

    def _forget_stalest(self, now: float) -> None:
        # Keeps memory bounded whatever the number of clients; a forgotten client starts afresh.
        recent = sorted(self._hits.items(), key=lambda item: item[1][-1] if item[1] else 0.0)
        keep = [item for item in recent if item[1] and item[1][-1] > now - self.window]
        self._hits = dict(keep[-self.max_clients // 2 :])


def _app_window(request: Request, name: str, window: float) -> SlidingWindow:
    """The app's limiter called `name`, made on first use: each app (each test's) has its own."""
    limiter: SlidingWindow | None = getattr(request.app.state, name, None)
    if limiter is None:
        limiter = SlidingWindow(window)
        setattr(request.app.state, name, limiter)
    return limiter


def rate_limited(request: Request, name: str, *, window: float, limit: int, now: float) -> int:
    """Count a hit from the request's client on the app's limiter `name`: 0 when allowed,
    else the whole seconds (one at least) until it may try again (nothing counted)."""
    limiter = _app_window(request, name, window)
    client = request.client.host if request.client else "unknown"
    if limiter.allow(client, now, limit):
        return 0
    return max(1, limiter.retry_after(client, now))
