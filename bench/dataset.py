"""Scratch databases (SQLite file, PostgreSQL database of its own) filled with snapshots."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2

from db.database import Database
from db.documents import render_outdated
from db.migrations import migrate
from db.models import (
    Album,
    Artist,
    Cluster,
    ClusterMember,
    Recommendation,
    Snapshot,
    Track,
    TrackArtist,
    User,
    utcnow,
)

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SNAPSHOT_DATE = dt.date(2026, 1, 15)
KINDS = ("sqlite", "postgresql")


@dataclasses.dataclass(frozen=True)
class Shape:
    """How much data to create: users, each with one snapshot of this size."""

    users: int = 100
    recommendations: int = 50
    clusters: int = 5
    cluster_members: int = 8
    tracks: int = 600


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL half cannot run, or None when a server answers."""
    try:
        psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        return f"no PostgreSQL at {POSTGRES_ADMIN_URL} ({str(exc).strip().splitlines()[0]})"
    return None


@contextlib.contextmanager
def scratch_url(kind: str, directory: Path) -> Iterator[str]:
    """A URL of an empty database of this kind, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"insight_bench_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(statement: str) -> None:
    conn = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def populate(url: str, shape: Shape, seed: int = 7) -> list[str]:
    """Migrate the database at `url` and fill it; answer the usernames."""
    database = Database(url, pool_size=2, create=True)
    try:
        database.run_sync(migrate, database.peewee)
        with database.peewee.connection_context(), database.peewee.atomic():
            track_ids = _catalogue(shape.tracks)
            rng = random.Random(seed)
            usernames = [_user_snapshot(i, shape, track_ids, rng) for i in range(shape.users)]
            render_outdated()  # as the write path does for each snapshot
            return usernames
    finally:
        database.close()


def _catalogue(count: int) -> list[str]:
    artists = [{"id": f"ar{i:05d}", "name": f"Artist {i}"} for i in range(max(1, count // 3))]
    albums = [
        {"id": f"al{i:05d}", "name": f"Album {i}", "artist": artists[i % len(artists)]["id"]}
        for i in range(max(1, count // 6))
    ]
    tracks = [
        {
            "id": f"tr{i:05d}",
            "name": f"Track {i}",
            "uri": f"spotify:track:tr{i:05d}",
            "duration_ms": 180_000 + i,
            "album": albums[i % len(albums)]["id"],
        }
        for i in range(count)
    ]
    links = [
        {"track": track["id"], "artist": artists[(i + k * 7) % len(artists)]["id"], "position": k}
        for i, track in enumerate(tracks)
        for k in range(1 + i % 2)
    ]
    for model, rows in ((Artist, artists), (Album, albums), (Track, tracks), (TrackArtist, links)):
        for start in range(0, len(rows), 200):
            model.insert_many(rows[start : start + 200]).execute()
    return [str(track["id"]) for track in tracks]


def _user_snapshot(index: int, shape: Shape, track_ids: list[str], rng: random.Random) -> str:
    user = User.create(username=f"user{index:04d}", refresh_token_encrypted=None)
    snapshot = Snapshot.create(
        user=user,
        date=SNAPSHOT_DATE,
        status=Snapshot.COMPLETE,
        recommendation_source="local",
        features_source="csv",
        generated_at=utcnow(),
    )
    picks = rng.sample(track_ids, shape.recommendations)
    Recommendation.insert_many(
        [
            {
                "snapshot": snapshot.get_id(),
                "rank": rank,
                "track": track,
                "reason": f"because {rank}",
            }
            for rank, track in enumerate(picks, start=1)
        ]
    ).execute()
    for position in range(shape.clusters):
        _cluster(snapshot, position, rng.sample(track_ids, shape.cluster_members))
    return str(user.username)


def _cluster(snapshot: Snapshot, position: int, members: list[str]) -> None:
    cluster = Cluster.create(
        snapshot=snapshot,
        position=position,
        label=f"cluster {position}",
        size=len(members),
        centroid={"energy": 0.1 * position, "valence": 0.5},
    )
    ClusterMember.insert_many(
        [{"cluster": cluster.get_id(), "track": t} for t in members]
    ).execute()


def recommendations_path(username: str) -> str:
    """The read endpoint every DB benchmark serves."""
    return f"/user-recommendations/{username}?date={SNAPSHOT_DATE.isoformat()}"
