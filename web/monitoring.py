"""GET /metrics: the service's figures in Prometheus' text format, for the admin token only.

Counters and histograms come from `metrics` (every worker's, added up); the capability flags
are read from the database at each scrape, where every process records what Spotify closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

import metrics
from db.capabilities import DatabaseCapabilityStore
from spotify_client import CAPABILITIES
from web.admin import admin_operation


class _CapabilityFlags(Collector):
    def __init__(self, marks: Mapping[str, bool]) -> None:
        self._marks = marks

    def collect(self) -> Iterator[GaugeMetricFamily]:
        flags = GaugeMetricFamily(
            "insight_spotify_capability",
            "1 while this app may call an optional Spotify endpoint, 0 while Spotify has it "
            "closed to the app (remembered for a day)",
            labels=["capability"],
        )
        for name in CAPABILITIES:
            flags.add_metric([name], 1.0 if self._marks.get(name, True) else 0.0)
        yield flags


@admin_operation(
    "Prometheus metrics of the whole service (text exposition format)",
    responses={200: "The metrics.", 401: "Missing or wrong admin token."},
    media_type=metrics.CONTENT_TYPE,
)
async def prometheus_metrics(request: Request) -> Response:
    marks = await DatabaseCapabilityStore(request.state.database).load()
    flags = CollectorRegistry()
    flags.register(_CapabilityFlags(marks))
    return Response(metrics.exposition(flags), media_type=metrics.CONTENT_TYPE)
