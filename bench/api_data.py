"""bench/api's data: users x dates of snapshots on PostgreSQL, written by the product's write path.

The catalogue goes through `db.catalogue.upsert_tracks` and every snapshot through
`db.snapshots.write_snapshot` (which renders its documents), as a nightly run writes them.
Generating 1,000 users x 30 dates takes a while on a shared machine, so the database is kept
under a name that says its shape and reused; a run that was interrupted resumes per user.
Several processes write at once: each spends much of a snapshot waiting for PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import random
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import peewee as pw
import psycopg2

from bench.dataset import POSTGRES_ADMIN_URL
from db.catalogue import upsert_tracks
from db.database import Database
from db.migrations import migrate
from db.models import Snapshot, User
from db.snapshots import ClusterRows, RecommendationRow, SnapshotContent, write_snapshot
from spotify_models import TIME_RANGES, Album, ArtistRef, Track

LAST_DATE = dt.date(2026, 11, 30)
FEATURES = ("energy", "valence", "danceability", "acousticness")
# Writers at once. A snapshot's write is ~40% waiting on PostgreSQL and ~60% Python (most of
# it Peewee compiling ~45 statements), so three processes keep two cores busy.
WRITERS = 3
# Users per task handed to a writer: small enough for progress and an even finish.
USERS_PER_TASK = 5


@dataclasses.dataclass(frozen=True)
class ApiShape:
    """How big the served data is; the defaults give a 21 KB recommendations document."""

    users: int = 1000
    dates: int = 30
    tracks: int = 5000
    recommendations: int = 50
    clusters: int = 5
    cluster_members: int = 20
    top_items: int = 20

    @property
    def database_name(self) -> str:
        # Without the number of users: a smaller run reuses the first users of a bigger one.
        return (
            f"insight_bench_api_d{self.dates}_t{self.tracks}"
            f"_r{self.recommendations}_c{self.clusters}x{self.cluster_members}_i{self.top_items}"
        )

    def dates_served(self) -> list[dt.date]:
        return [LAST_DATE - dt.timedelta(days=days) for days in range(self.dates)]


def username(index: int) -> str:
    return f"listener{index:05d}"


def database_url(shape: ApiShape) -> str:
    """The URL of the shape's database, created (empty) when it does not exist."""
    conn = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (shape.database_name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{shape.database_name}"')
    finally:
        conn.close()
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{shape.database_name}"


def _tracks(count: int) -> list[Track]:
    artists = [ArtistRef(f"bench-artist-{i:05d}", f"Artist {i}") for i in range(max(1, count // 4))]
    tracks = []
    for i in range(count):
        credited = (artists[i % len(artists)], artists[(i * 7 + 3) % len(artists)])[: 1 + i % 2]
        album = Album(f"bench-album-{i // 10:05d}", f"Album {i // 10}", credited[:1], None, None)
        tracks.append(
            Track(
                id=f"bench-track-{i:05d}",
                name=f"Track number {i} of the benchmark catalogue",
                uri=f"spotify:track:bench-track-{i:05d}",
                duration_ms=150_000 + i,
                artists=credited,
                album=album,
                popularity=None,
                isrc=None,
                explicit=None,
            )
        )
    return tracks


def _content(
    user_id: int, date: dt.date, shape: ApiShape, track_ids: list[str], rng: random.Random
) -> SnapshotContent:
    def pick(count: int) -> list[str]:
        return rng.sample(track_ids, count)

    artist_ids = [f"bench-artist-{i:05d}" for i in rng.sample(range(shape.tracks // 4), 20)]
    return SnapshotContent(
        user_id=user_id,
        date=date,
        top_tracks={time_range: pick(shape.top_items) for time_range in TIME_RANGES},
        top_artists={time_range: artist_ids for time_range in TIME_RANGES},
        recent=pick(shape.top_items),
        saved=pick(shape.top_items),
        recommendations=[
            RecommendationRow(track_id, f"sounds like your mix number {rank % 5}", "csv", True)
            for rank, track_id in enumerate(pick(shape.recommendations))
        ],
        recommendation_source="local",
        clusters=[
            ClusterRows(
                f"cluster {position}",
                {name: round(rng.random(), 4) for name in FEATURES},
                pick(shape.cluster_members),
            )
            for position in range(shape.clusters)
        ],
        clusters_note=None,
        features_source="csv",
        sources={},
    )


def _missing_users(shape: ApiShape) -> list[int]:
    complete = {
        row.username
        for row in User.select(User.username)
        .join(Snapshot)
        .group_by(User.username)
        .having(pw.fn.COUNT(Snapshot.id) >= shape.dates)
    }
    return [i for i in range(shape.users) if username(i) not in complete]


def generate(
    shape: ApiShape,
    progress: Callable[[int, int], None] | None = None,
    url: str | None = None,
    writers: int = WRITERS,
) -> str:
    """The shape's database (or `url`), filled or completed through the write path; its URL."""
    url = url or database_url(shape)
    database = Database(url, pool_size=2)
    try:
        database.run_sync(migrate, database.peewee)
        database.run_sync(upsert_tracks, _tracks(shape.tracks))
        missing = database.run_sync(_missing_users, shape)
    finally:
        database.close()
    tasks = [missing[i : i + USERS_PER_TASK] for i in range(0, len(missing), USERS_PER_TASK)]
    if writers <= 1 or len(tasks) <= 1:
        _open_writer(url)
        try:
            _report((_write_users(shape, task) for task in tasks), len(missing), progress)
        finally:
            _writer.pop().close()
        return url
    # Spawned, not forked: a child starts without the parent's pool and watchdog thread.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(writers, context, initializer=_open_writer, initargs=(url,)) as pool:
        futures = [pool.submit(_write_users, shape, task) for task in tasks]
        _report((future.result() for future in as_completed(futures)), len(missing), progress)
    return url


def _report(
    finished: Iterable[int], total: int, progress: Callable[[int, int], None] | None
) -> None:
    done = 0
    for count in finished:
        done += count
        if progress:
            progress(done, total)


_writer: list[Database] = []


def _open_writer(url: str) -> None:
    """A writer's own database connection, for the life of its process."""
    _writer.append(Database(url, pool_size=1))


def _write_users(shape: ApiShape, indices: Sequence[int]) -> int:
    track_ids = [track.id for track in _tracks(shape.tracks)]
    for index in indices:
        _writer[-1].run_sync(_write_user, index, shape, track_ids)
    return len(indices)


def _write_user(index: int, shape: ApiShape, track_ids: list[str]) -> None:
    user, _ = User.get_or_create(username=username(index))
    rng = random.Random(index)
    for date in shape.dates_served():
        write_snapshot(_content(int(user.id), date, shape, track_ids, rng))
