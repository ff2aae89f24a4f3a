"""read-queries: the read side of db/queries.py against a naive N+1 serialiser.

The product builds a recommendations payload in a fixed number of queries whatever its size;
the baseline walks rows one by one, loading each foreign key lazily, as model_to_dict-style
code does. Counted with Peewee's query hooks and timed per payload.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import peewee as pw
from playhouse.shortcuts import model_to_dict

from bench.dataset import KINDS, SNAPSHOT_DATE, Shape, populate, postgres_unavailable
from bench.dataset import scratch_url as scratch_database
from bench.measure import Report, Target, ms, per_call_seconds
from db import queries
from db.database import Database
from db.models import Cluster, ClusterMember, Recommendation, TrackArtist

NAME = "read-queries"
SPEED_TARGET = 3.0  # naive time / product time at the largest size
Payload = Callable[[int], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Params:
    kinds: tuple[str, ...] = KINDS
    sizes: tuple[int, ...] = (10, 50)
    clusters: int = 5
    cluster_members: int = 8
    calls: int = 10
    rounds: int = 3


TINY = Params(kinds=("sqlite",), sizes=(2, 4), clusters=2, cluster_members=2, calls=2, rounds=1)


def product_payload(snapshot_id: int) -> dict[str, Any]:
    """What the recommendations endpoint reads, through db/queries.py."""
    return {
        "recommendations": queries.recommendations(snapshot_id),
        "clusters": queries.clusters(snapshot_id),
    }


def naive_payload(snapshot_id: int) -> dict[str, Any]:
    """The baseline: one query per row and per foreign key, serialised row by row."""
    recommendations = Recommendation.select().where(Recommendation.snapshot == snapshot_id)
    clusters = Cluster.select().where(Cluster.snapshot == snapshot_id)
    return {
        "recommendations": [
            _naive_recommendation(r) for r in recommendations.order_by(Recommendation.rank)
        ],
        "clusters": [_naive_cluster(c) for c in clusters.order_by(Cluster.position)],
    }


def _naive_recommendation(row: Recommendation) -> dict[str, Any]:
    track = row.track  # lazy foreign key: a query
    album = track.album  # and another
    links = TrackArtist.select().where(TrackArtist.track == track).order_by(TrackArtist.position)
    return {
        **model_to_dict(row, recurse=False),
        "track": {
            **model_to_dict(track, recurse=False),
            "album": model_to_dict(album, recurse=False) if album is not None else None,
            # link.artist is lazy too: a query per artist.
            "artists": [model_to_dict(link.artist, recurse=False) for link in links],
        },
    }


def _naive_cluster(row: Cluster) -> dict[str, Any]:
    members = ClusterMember.select().where(ClusterMember.cluster == row)
    track_ids = [model_to_dict(m, recurse=False)["track"] for m in members]
    return {**model_to_dict(row, recurse=False), "track_ids": track_ids}


@dataclasses.dataclass(frozen=True)
class Measured:
    queries: int
    seconds: float


@contextlib.contextmanager
def counting_queries(database: pw.Database) -> Iterator[list[object]]:
    """The queries `database` runs inside the block, one event each."""
    events: list[object] = []
    database.query_hooks.append(events.append)
    try:
        yield events
    finally:
        database.query_hooks.remove(events.append)


def same_data(product: dict[str, Any], naive: dict[str, Any]) -> bool:
    """Whether both payloads name the same tracks, in order, and the same cluster members."""

    def tracks(payload: dict[str, Any]) -> list[str]:
        return [r["track"]["id"] for r in payload["recommendations"]]

    def members(payload: dict[str, Any]) -> list[list[str]]:
        return [sorted(c["track_ids"]) for c in payload["clusters"]]

    return tracks(product) == tracks(naive) and members(product) == members(naive)


def _measure(snapshot_id: int, payload: Payload, params: Params, db: pw.Database) -> Measured:
    with counting_queries(db) as events:
        payload(snapshot_id)
    seconds = per_call_seconds(lambda: payload(snapshot_id), params.calls, params.rounds)
    return Measured(len(events), seconds)


def _shape(size: int, params: Params) -> Shape:
    return Shape(
        users=1,
        recommendations=size,
        clusters=params.clusters,
        cluster_members=params.cluster_members,
        tracks=max(60, size * 2),
    )


def _measure_size(kind: str, size: int, params: Params) -> dict[str, Measured]:
    with tempfile.TemporaryDirectory() as directory, scratch_database(kind, Path(directory)) as url:
        username = populate(url, _shape(size, params))[0]
        database = Database(url, pool_size=2)
        try:
            return database.run_sync(_measure_both, database.peewee, username, params)
        finally:
            database.close()


def _measure_both(db: pw.Database, username: str, params: Params) -> dict[str, Measured]:
    snapshot_id = queries.find_snapshot(username, SNAPSHOT_DATE).id
    if not same_data(product_payload(snapshot_id), naive_payload(snapshot_id)):
        raise AssertionError("the naive baseline reads different data from the product")
    return {
        "product": _measure(snapshot_id, product_payload, params, db),
        "naive": _measure(snapshot_id, naive_payload, params, db),
    }


def _targets(kind: str, by_size: dict[int, dict[str, Measured]], report: Report) -> None:
    small, large = min(by_size), max(by_size)
    report.targets.append(
        Target(
            f"{kind}: naive / product time at {large} recommendations",
            by_size[large]["naive"].seconds / by_size[large]["product"].seconds,
            SPEED_TARGET,
        )
    )
    report.targets.append(
        Target(
            f"{kind}: product queries at {small} / at {large} (fixed count)",
            by_size[small]["product"].queries / by_size[large]["product"].queries,
            1.0,
        )
    )


def run(params: Params = Params()) -> Report:
    """Count and time both payload builders at each size on each database."""
    report = Report(
        NAME,
        f"recommendations + clusters payload ({params.clusters} clusters of "
        f"{params.cluster_members}); median of {params.rounds} rounds of {params.calls} calls",
        ("database / size", "product queries", "product ms", "naive queries", "naive ms"),
    )
    for kind in params.kinds:
        reason = postgres_unavailable() if kind == "postgresql" else None
        if reason:
            report.notes.append(f"postgresql skipped: {reason}")
            continue
        by_size = {size: _measure_size(kind, size, params) for size in params.sizes}
        for size, measured in by_size.items():
            product, naive = measured["product"], measured["naive"]
            report.rows.append(
                (
                    f"{kind} / {size}",
                    str(product.queries),
                    ms(product.seconds),
                    str(naive.queries),
                    ms(naive.seconds),
                )
            )
        _targets(kind, by_size, report)
    return report
