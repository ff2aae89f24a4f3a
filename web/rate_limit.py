"""A sliding-window rate limit per client, held in memory by one process."""

from __future__ import annotations

from collections import deque


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
