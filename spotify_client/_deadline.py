"""The deadline of the work in progress: how long waiting on Spotify's limits may go on.

A caller (the snapshot of one user) sets it once; every request made within, including those
of tasks it starts, waits for rate limits only until then. Outside any deadline a request
waits at most the retry policy's own bound.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "spotify_deadline", default=None
)


def current_deadline() -> float | None:
    """The instant (on the client's clock) waiting must end by, None when none is set."""
    return _DEADLINE.get()


@contextlib.contextmanager
def deadline_at(instant: float) -> Iterator[None]:
    """Within the block, waits end by `instant` (or an earlier deadline already set)."""
    outer = _DEADLINE.get()
    token = _DEADLINE.set(instant if outer is None else min(outer, instant))
    try:
        yield
    finally:
        _DEADLINE.reset(token)
