"""The service's Prometheus metrics, declared once at the bottom layer so every layer records.

Labels are templates, never raw values: a route's path template (`/users/{username}`), a
Spotify endpoint with its ids replaced (`/artists/{id}/albums`), an outcome from a closed
list. No username, id or token ever becomes a label, and the number of series stays bounded.

With `serve --workers N`, serving.py points PROMETHEUS_MULTIPROC_DIR at a directory it owns
before the workers start; prometheus-client then keeps each process's figures in files there,
and `exposition` adds them up, so /metrics shows the service and not the process that answered.
"""

from __future__ import annotations

import os
import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# A run takes seconds for one user and hours for a rate-limited night of many.
RUN_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, float("inf"))

HTTP_REQUESTS = Counter(
    "insight_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "insight_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
)
SNAPSHOT_RUNS = Counter(
    "insight_snapshot_runs",
    "Snapshot runs this service worked, by trigger and how the work ended",
    ["trigger", "result"],
)
SNAPSHOT_RUN_DURATION = Histogram(
    "insight_snapshot_run_duration_seconds",
    "Seconds a process spent working a snapshot run, by trigger",
    ["trigger"],
    buckets=RUN_BUCKETS,
)
SNAPSHOT_USERS = Counter(
    "insight_snapshot_users",
    "Users' snapshot jobs by the outcome a run recorded for them "
    "(ok, failed, reauth_required, needs_attention, retried_later, rate_limited)",
    ["outcome"],
)
HISTORY_POLLS = Counter(
    "insight_history_polls",
    "Polls of a user's recently played, by result (ok, failed, reauth_required, skipped)",
    ["result"],
)
HISTORY_GAPS = Counter(
    "insight_history_gaps",
    "Gaps recorded: windows of a user's history a read of recently played could not reach",
)
SPOTIFY_REQUESTS = Counter(
    "insight_spotify_requests",
    "Requests sent to Spotify, by endpoint template and HTTP status (or the network error)",
    ["endpoint", "status"],
)
SPOTIFY_RATE_LIMIT_WAIT = Counter(
    "insight_spotify_rate_limit_wait_seconds",
    "Seconds Spotify's 429s closed the shared gate (each second counted once, however many "
    "tasks waited behind it)",
)

# The first segment of every Web API and accounts path the client calls; anything else is
# counted as "other" so that a surprise path cannot add series.
_KNOWN_ROOTS = frozenset(
    {
        "me",
        "artists",
        "albums",
        "tracks",
        "playlists",
        "users",
        "shows",
        "episodes",
        "audio-features",
        "audio-analysis",
        "recommendations",
        "search",
        "browse",
        "api",
    }
)
# Roots whose second segment is an id (`/artists/{id}/albums`, `/users/{id}/playlists`).
_ID_AFTER = frozenset(
    {"artists", "albums", "tracks", "playlists", "users", "shows", "episodes", "audio-features"}
)
_WORD = re.compile(r"[a-z][a-z-]*")


def spotify_endpoint(path: str) -> str:
    """A Spotify URL path as a template: ids become `{id}`, an unknown path `other`.

    The API base may carry a prefix (`/v1`, an emulator's), so the template starts at the
    first segment that is a known root.
    """
    segments = [segment for segment in path.split("/") if segment]
    for start, segment in enumerate(segments):
        if segment in _KNOWN_ROOTS:
            return _template(segments[start:])
    return "other"


def _template(segments: list[str]) -> str:
    out = [segments[0]]
    for index, segment in enumerate(segments[1:], start=1):
        is_id = (index == 1 and segments[0] in _ID_AFTER) or not _WORD.fullmatch(segment)
        out.append("{id}" if is_id else segment)
    return "/" + "/".join(out)


def exposition(extra: CollectorRegistry | None = None) -> bytes:
    """Every metric in the text format: the whole service's when several processes serve."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return body + (generate_latest(extra) if extra is not None else b"")
