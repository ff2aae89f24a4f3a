"""The snapshot pipeline end to end in one process: real client and database, emulated Spotify."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret

from application import create_snapshot_service, create_spotify_client
from db import queries
from db.database import Database
from db.job_status import JobStatus
from db.models import AudioFeatures, Snapshot, SnapshotJob, SnapshotTrack, User
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from jobs.clustering import CLUSTER_FEATURES
from jobs.listening import SAVED_LIMIT
from jobs.pipeline import FULL_LIBRARY_EVERY
from jobs.service import SnapshotService
from settings import Settings
from spotify_client import QuotaExceeded
from spotify_emulator import EmulatedUser, Faults, World, create_app, write_features_csv
from spotify_emulator.state import EmulatorState
from spotify_models import AUDIO_FEATURE_NAMES

DAY = dt.date(2026, 11, 20)
SPOTIFY = "http://spotify.test"
WORLD = World.generate(seed=7)


def _visible_tracks(user: EmulatedUser) -> set[str]:
    """What Spotify shows of the user: the first 50 top tracks of each range, history, library."""
    visible = {t for tracks in user.top_tracks.values() for t in tracks[:50]}
    return visible | {t for t, _ in user.recent} | set(user.saved)


@dataclasses.dataclass
class Harness:
    database: Database
    service: SnapshotService
    world: World
    emulator: EmulatorState

    def snapshot(self, username: str) -> queries.SnapshotRef:
        return self.database.run_sync(queries.find_snapshot, username, DAY)


@pytest.fixture
def features_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tracks.csv"
    write_features_csv(WORLD, path)
    return path


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher([generate_key()])


@pytest.fixture
def register_users(database: Database, cipher: TokenCipher) -> None:
    for user in WORLD.users:
        database.run_sync(save_user_token, user.id, cipher.encrypt(user.refresh_token))


@pytest.fixture
async def harness(
    database: Database, settings: Settings, cipher: TokenCipher, register_users: None
) -> AsyncIterator[Callable[..., Any]]:
    """Factory: a snapshot service wired to an emulated Spotify in the given mode."""
    clients: list[httpx.AsyncClient] = []

    async def make(mode: str, faults: Faults | None = None, **overrides: Any) -> Harness:
        app = create_app(WORLD, mode=mode, faults=faults)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=5)
        clients.append(http)
        configured = dataclasses.replace(
            settings,
            spotify_client_id=WORLD.client_id,
            spotify_client_secret=Secret(WORLD.client_secret),
            spotify_api_url=f"{SPOTIFY}/v1",
            spotify_accounts_url=f"{SPOTIFY}/accounts",
            reccobeats_url=f"{SPOTIFY}/reccobeats/v1",
            **overrides,
        )
        spotify = create_spotify_client(configured, http, database)
        service = create_snapshot_service(configured, database, http, spotify, cipher)
        return Harness(database, service, WORLD, app.state.emulator)

    yield make
    for client in clients:
        await client.aclose()


async def test_extended_quota_stores_spotifys_recommendations_in_order(
    harness: Callable[..., Any],
) -> None:
    h = await harness("extended", audio_features_sources=("spotify",))
    summary = await h.service.run(DAY)
    assert summary.succeeded
    assert sorted(summary.ok) == sorted(u.id for u in WORLD.users)
    for user in WORLD.users:
        ref = h.snapshot(user.id)
        assert (ref.recommendation_source, ref.features_source) == ("spotify", "spotify")
        stored = [r["track"]["id"] for r in h.database.run_sync(queries.recommendations, ref.id)]
        expected = WORLD.recommendations_for(
            user.top_tracks["short_term"][:3], user.top_artists["short_term"][:2], limit=50
        )
        assert stored == expected


async def test_development_mode_with_a_csv_gets_clusters_and_fresh_local_picks(
    harness: Callable[..., Any], features_csv: Path
) -> None:
    h = await harness(
        "development", audio_features_sources=("spotify", "csv"), audio_features_csv=features_csv
    )
    summary = await h.service.run(DAY)
    assert summary.succeeded, summary.failed
    for user in WORLD.users:
        ref = h.snapshot(user.id)
        assert (ref.recommendation_source, ref.features_source) == ("local", "csv")
        picks = h.database.run_sync(queries.recommendations, ref.id)
        assert len(picks) >= 20
        ids = [p["track"]["id"] for p in picks]
        assert len(set(ids)) == len(ids)
        assert not set(ids) & _visible_tracks(user)
        assert all(p["reason"] for p in picks)
        assert len(h.database.run_sync(queries.clusters, ref.id)) >= 2


async def test_development_mode_lists_new_artists_that_fit_and_say_so(
    harness: Callable[..., Any], features_csv: Path
) -> None:
    h = await harness(
        "development", audio_features_sources=("csv",), audio_features_csv=features_csv
    )
    assert (await h.service.run(DAY)).succeeded
    for user in WORLD.users:
        ref = h.snapshot(user.id)
        picks = h.database.run_sync(queries.recommendations, ref.id)
        known = {a for t in _visible_tracks(user) for a in WORLD.tracks[t].artist_ids}
        known |= {a for artists in user.top_artists.values() for a in artists}
        new = [p for p in picks if not known & {a["id"] for a in p["track"]["artists"]}]
        # DISCOVERY defaults to 0.4: 20 of 50 picks.
        assert len(new) >= 15, user.id
        assert all(p["new_artist"] and p["reason"].startswith("new to you") for p in new)
        styles = {WORLD.artists[a].archetype for a in known}
        in_style = [
            p for p in new if WORLD.artists[p["track"]["artists"][0]["id"]].archetype in styles
        ]
        assert len(in_style) >= 0.8 * len(new), user.id
        assert {p["source"] for p in picks} >= {"csv", "artists"}


async def test_cluster_centroids_are_their_members_mean_raw_features(
    harness: Callable[..., Any], features_csv: Path
) -> None:
    h = await harness(
        "development", audio_features_sources=("csv",), audio_features_csv=features_csv
    )
    await h.service.run(DAY, [WORLD.users[0].id])
    clusters = h.database.run_sync(queries.clusters, h.snapshot(WORLD.users[0].id).id)
    assert clusters
    for cluster in clusters:
        assert cluster["size"] == len(cluster["track_ids"])
        assert set(cluster["centroid"]) == set(CLUSTER_FEATURES)
        for feature, value in cluster["centroid"].items():
            members = [WORLD.features[t][feature] for t in cluster["track_ids"]]
            assert value == pytest.approx(sum(members) / len(members), abs=1e-3)


async def test_features_are_stored_once_with_their_source(
    harness: Callable[..., Any], features_csv: Path
) -> None:
    h = await harness(
        "development", audio_features_sources=("csv",), audio_features_csv=features_csv
    )
    await h.service.run(DAY, [WORLD.users[0].id])
    rows = h.database.run_sync(lambda: list(AudioFeatures.select()))
    assert rows
    assert {row.source for row in rows} == {"csv"}
    for row in rows[:20]:
        for name in AUDIO_FEATURE_NAMES:
            assert getattr(row, name) == pytest.approx(WORLD.features[row.track_id][name], abs=1e-6)


async def test_without_any_features_there_are_no_clusters_but_still_picks(
    harness: Callable[..., Any],
) -> None:
    h = await harness("development", audio_features_sources=("spotify",))
    await h.service.run(DAY, [WORLD.users[1].id])
    ref = h.snapshot(WORLD.users[1].id)
    assert ref.features_source is None
    assert "clustering needs" in (ref.clusters_note or "")
    assert h.database.run_sync(queries.clusters, ref.id) == []
    assert len(h.database.run_sync(queries.recommendations, ref.id)) >= 20


async def test_reruns_are_idempotent_and_force_redoes(harness: Callable[..., Any]) -> None:
    h = await harness("development", audio_features_sources=("spotify",))
    user = WORLD.users[2].id
    await h.service.run(DAY, [user])
    first = h.snapshot(user)
    again = await h.service.run(DAY, [user])
    assert h.snapshot(user) == first
    assert user not in again.failed
    forced = await h.service.run(DAY, [user], force=True)
    assert forced.ok == [user]
    redone = h.snapshot(user)
    assert redone.generated_at > first.generated_at
    count = h.database.run_sync(
        lambda: Snapshot.select().join(User).where(User.username == user).count()
    )
    assert count == 1


async def test_a_revoked_user_is_flagged_and_the_others_are_complete(
    harness: Callable[..., Any],
) -> None:
    revoked = WORLD.users[3]
    h = await harness(
        "development",
        faults=Faults(revoked_users=frozenset({revoked.id})),
        audio_features_sources=("spotify",),
    )
    summary = await h.service.run(DAY)
    assert summary.reauth_required == [revoked.id]
    assert sorted(summary.ok) == sorted(u.id for u in WORLD.users if u is not revoked)
    status = h.database.run_sync(lambda: User.get(User.username == revoked.id).status)
    assert status == User.REAUTH_REQUIRED
    later = await h.service.run(DAY + dt.timedelta(days=1))
    assert revoked.id not in later.ok + list(later.failed) + later.reauth_required


async def test_top_items_of_every_range_are_stored_in_spotifys_order(
    harness: Callable[..., Any],
) -> None:
    h = await harness("development", audio_features_sources=("spotify",))
    user = WORLD.users[4]
    await h.service.run(DAY, [user.id])
    ref = h.snapshot(user.id)
    for time_range in ("short_term", "medium_term", "long_term"):
        tracks = h.database.run_sync(queries.top_items, ref.id, "tracks", time_range)
        artists = h.database.run_sync(queries.top_items, ref.id, "artists", time_range)
        assert [t["id"] for t in tracks] == user.top_tracks[time_range][:50]
        assert [a["id"] for a in artists] == user.top_artists[time_range][:50]


async def test_a_spent_quota_stops_the_run_and_loses_nobody(harness: Callable[..., Any]) -> None:
    # Two emulators in a row: neither may rotate a token the other would not know.
    spent = await harness(
        "development",
        faults=Faults(quota=20, rotate_refresh_every=0),
        audio_features_sources=("spotify",),
    )
    with pytest.raises(QuotaExceeded):
        await spent.service.run(DAY)
    statuses = spent.database.run_sync(lambda: [job.status for job in SnapshotJob.select()])
    assert JobStatus.FAILED not in statuses
    assert JobStatus.QUEUED in statuses
    fresh = await harness(
        "development",
        faults=Faults(rotate_refresh_every=0),
        audio_features_sources=("spotify",),
    )
    summary = await fresh.service.run(DAY)
    assert summary.succeeded, summary
    assert sorted(summary.ok) == sorted(u.id for u in WORLD.users), summary


async def test_a_user_the_rate_limit_holds_up_is_retried_later_in_the_same_run(
    harness: Callable[..., Any],
) -> None:
    user = WORLD.users[0].id
    # Every request is refused until the first few 429s are spent, each asking for 2 s: more
    # than the user's deadline of 1 s, so the first attempt runs out of time at once.
    h = await harness(
        "development",
        faults=Faults(throttle_first=3, retry_after=2, rotate_refresh_every=0),
        snapshot_user_deadline=1.0,
        # The user's own calls only: the 429s of the first window measure a pace, and the
        # recommender's ~220 catalogue calls at that pace cost a minute and test nothing here.
        audio_features_sources=("spotify",),
        recommendation_sources=("co-listeners",),
    )
    h.service.retry_delay = dt.timedelta(0)

    summary = await h.service.run(DAY, [user])

    assert summary.ok == [user], summary
    job = h.database.run_sync(lambda: SnapshotJob.get())
    assert job.deferrals >= 1
    assert h.snapshot(user).date == DAY


async def test_a_user_out_of_time_at_the_runs_deadline_is_not_failed_and_keeps_the_date(
    harness: Callable[..., Any],
) -> None:
    user = WORLD.users[0].id
    limited = await harness(
        "development",
        faults=Faults(throttle_first=10**6, retry_after=30, rotate_refresh_every=0),
        snapshot_user_deadline=5.0,
        snapshot_run_deadline=60.0,
    )

    summary = await limited.service.run(DAY, [user])

    assert summary.failed == {}
    assert list(summary.rate_limited) == [user]
    assert "rate limited" in summary.rate_limited[user]
    assert limited.database.run_sync(lambda: Snapshot.select().count()) == 0
    fresh = await harness("development", faults=Faults(rotate_refresh_every=0))
    summary = await fresh.service.run(DAY, [user])
    assert summary.ok == [user], summary
    assert fresh.snapshot(user).date == DAY


def _night_without_full_listing(user_id: int, after: dt.date) -> dt.date:
    day = after + dt.timedelta(days=1)
    while (day.toordinal() + user_id) % FULL_LIBRARY_EVERY == 0:
        day += dt.timedelta(days=1)
    return day


async def test_a_warm_night_lists_only_the_saved_tracks_added_since(
    harness: Callable[..., Any], features_csv: Path
) -> None:
    user = WORLD.users[1]
    h = await harness(
        "development",
        faults=Faults(rotate_refresh_every=0),
        audio_features_sources=("csv",),
        audio_features_csv=features_csv,
    )
    user_id = h.database.run_sync(lambda: User.get(User.username == user.id).id)
    first = _night_without_full_listing(user_id, DAY)
    second = _night_without_full_listing(user_id, first)
    saved, saved_at = list(user.saved), dict(user.saved_at)
    # A library of three pages, so that a full listing and an incremental one differ.
    others = [t for t in WORLD.tracks if t not in user.saved]
    older, liked = others[:110], others[110]
    oldest = min(saved_at.values())
    user.saved.extend(older)
    user.saved_at.update((t, oldest - dt.timedelta(days=n + 1)) for n, t in enumerate(older))
    try:
        assert (await h.service.run(first, [user.id])).ok == [user.id]
        cold = [r for r in h.emulator.requests() if r.path == "/v1/me/tracks"]
        assert len(cold) == 3
        user.saved.insert(0, liked)
        user.saved_at[liked] = WORLD.now
        h.emulator.clear_requests()
        assert (await h.service.run(second, [user.id])).ok == [user.id]
        library_now = set(user.saved)
    finally:
        user.saved[:], user.saved_at = saved, saved_at

    library = [r for r in h.emulator.requests() if r.path == "/v1/me/tracks"]
    assert len(library) == 1  # one page: it reached tracks the first night had listed
    own = [r for r in h.emulator.requests() if r.path.startswith("/v1/me/")]
    assert len(own) <= 10, [r.path for r in own]
    ref = h.database.run_sync(queries.find_snapshot, user.id, second)
    stored = h.database.run_sync(
        lambda: {
            row.track_id
            for row in SnapshotTrack.select().where(
                (SnapshotTrack.snapshot == ref.id) & (SnapshotTrack.kind == SnapshotTrack.SAVED)
            )
        }
    )
    assert len(library_now) < SAVED_LIMIT
    assert stored == library_now
