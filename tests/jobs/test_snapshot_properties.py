"""A whole snapshot through respx, whatever Spotify sends (issue 11): the snapshot completes,
keeps exactly the items inside the contract, records what it left out, and nothing out of
contract reaches the database."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spotify_models as sm
from db import queries
from db.catalogue import REAL_TINY
from db.claims import ClaimedJob
from db.database import Database
from db.job_status import JobStatus
from db.models import Album, Artist, AudioFeatures, Cluster, Episode, Play, Track
from db.queries import user_id_of
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from jobs.features import SpotifyFeatureSource
from jobs.pipeline import SnapshotPipeline
from spotify_client import RetryPolicy, SpotifyClient
from tests.spotify_strategies import (
    artists,
    as_sent,
    audio_features,
    cursors,
    episodes,
    feature_slack,
    features_in_contract,
    in_range,
    local_files,
    mutated,
    pages_of,
    plays,
    saved,
    storable_id,
    storable_name,
    tracks,
)

API = "https://api.test/v1"
ACCOUNTS = "https://accounts.test"
DAY = dt.date(2026, 11, 20)
USERNAME = "ann"
PLAYABLE = st.one_of(tracks(), local_files(), episodes())
TOKEN = {"access_token": "token", "token_type": "Bearer", "expires_in": 3600}
# Bounded for CI: a few dozen whole snapshots per database, each a handful of pages.
PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclasses.dataclass
class Answers:
    """What Spotify answers in one example."""

    top_tracks: dict[str, list[Any]]
    top_artists: dict[str, list[Any]]
    recent: list[Any]
    cursor: Any
    saved: list[Any]
    features: list[Any]
    recommendations: list[Any]


@st.composite
def answers(draw: st.DrawFn) -> Answers:
    page = pages_of(mutated(PLAYABLE), max_size=8)
    return Answers(
        top_tracks={r: draw(page) for r in sm.TIME_RANGES},
        top_artists={r: draw(pages_of(mutated(artists()), max_size=6)) for r in sm.TIME_RANGES},
        recent=draw(pages_of(mutated(plays(PLAYABLE)), max_size=8)),
        cursor=draw(cursors),
        saved=draw(pages_of(mutated(saved(PLAYABLE)), max_size=8)),
        features=draw(st.lists(mutated(audio_features()), max_size=10)),
        recommendations=draw(pages_of(mutated(PLAYABLE), max_size=8)),
    )


def _features_for(answers: Answers) -> dict[str, Any]:
    """Features by the id asked for: generated ones are handed to the tracks in order."""
    good = [
        t.id
        for page in answers.top_tracks.values()
        for t in sm.parse_each(page, sm.parse_track, "", sm.Skipped())
    ]
    return {
        track_id: {**features, "id": track_id}
        for track_id, features in zip(good, answers.features, strict=False)
        if isinstance(features, dict)
    }


def _routes(mock: respx.MockRouter, answers: Answers) -> None:
    features = _features_for(answers)

    def top(pages: dict[str, list[Any]]) -> Any:
        def answer(request: httpx.Request) -> httpx.Response:
            items = pages[request.url.params["time_range"]]
            return as_sent(200, {"items": items, "next": None})

        return answer

    def recent(request: httpx.Request) -> httpx.Response:
        if "before" in request.url.params:
            return as_sent(200, {"items": [], "next": None})
        body = {
            "items": answers.recent,
            "next": f"{API}/more",
            "cursors": {"before": answers.cursor},
        }
        return as_sent(200, body)

    def audio(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["ids"].split(",")
        return as_sent(200, {"audio_features": [features.get(i) for i in ids]})

    mock.post(f"{ACCOUNTS}/api/token").respond(json=TOKEN)
    mock.get(f"{API}/me/top/tracks").mock(side_effect=top(answers.top_tracks))
    mock.get(f"{API}/me/top/artists").mock(side_effect=top(answers.top_artists))
    mock.get(f"{API}/me/player/recently-played").mock(side_effect=recent)
    mock.get(f"{API}/me/tracks").mock(
        return_value=as_sent(200, {"items": answers.saved, "next": None})
    )
    mock.get(f"{API}/audio-features").mock(side_effect=audio)
    mock.get(f"{API}/recommendations").mock(
        return_value=as_sent(200, {"tracks": answers.recommendations})
    )


async def _snapshot(database: Database, cipher: TokenCipher, answers: Answers) -> Any:
    user_id = await database.run(user_id_of, USERNAME)
    job = ClaimedJob(0, user_id, USERNAME, DAY, force=True, attempts=1, run_id=None)
    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=False) as mock:
            _routes(mock, answers)
            client = SpotifyClient(
                http,
                client_id="id",
                client_secret="secret",
                api_url=API,
                accounts_url=ACCOUNTS,
                retry=RetryPolicy(max_attempts=1),
            )
            pipeline = SnapshotPipeline(database, client, cipher, [SpotifyFeatureSource(client)])
            return await pipeline(job)


@pytest.fixture
def cipher(database: Database) -> TokenCipher:
    cipher = TokenCipher([generate_key()])
    database.run_sync(save_user_token, USERNAME, cipher.encrypt("refresh-token"))
    return cipher


def _catalogue_in_contract() -> None:
    for track in Track.select():
        assert storable_id(track.id)
        assert storable_name(track.name)
        assert track.uri
        assert len(track.uri) <= sm.MAX_URI
        assert not track.uri.startswith("spotify:local:")
        assert track.duration_ms is None or in_range(track.duration_ms, sm.DURATION_MS_RANGE)
        assert track.popularity is None or in_range(track.popularity, sm.POPULARITY_RANGE)
    for artist in Artist.select():
        assert storable_id(artist.id)
        assert storable_name(artist.name)
        assert artist.genres is None or isinstance(artist.genres, list)
        assert artist.popularity is None or in_range(artist.popularity, sm.POPULARITY_RANGE)
    for album in Album.select():
        assert album.release_date is None or sm.release_date(album.release_date)
    for episode in Episode.select():
        assert storable_id(episode.id)
        assert storable_name(episode.name)
    assert not Track.select().where(Track.uri.startswith("spotify:episode:")).exists()
    for row in AudioFeatures.select():
        values = {name: getattr(row, name) for name in sm.AUDIO_FEATURE_NAMES}
        assert features_in_contract(values), values
    for play in Play.select():
        assert sm.PLAUSIBLE_SINCE.replace(tzinfo=None) <= play.played_at
        assert play.played_at <= dt.datetime(2026, 12, 31)


def _stored_features() -> dict[str, dict[str, float]]:
    return {
        row.track_id: {name: float(getattr(row, name)) for name in sm.AUDIO_FEATURE_NAMES}
        for row in AudioFeatures.select()
    }


def _kept_features(example: Answers) -> dict[str, dict[str, float]]:
    """What Spotify sent that keeps the contract, as PostgreSQL's REAL keeps it (about seven
    significant digits; anything nearer zero than REAL_TINY is zero)."""
    kept = {}
    for track_id, raw in _features_for(example).items():
        try:
            values = sm.parse_audio_features(raw).as_dict()
        except sm.ParseError:
            continue
        kept[track_id] = {n: 0.0 if abs(v) < REAL_TINY else v for n, v in values.items()}
    return kept


def _centroids_in_contract() -> None:
    for cluster in Cluster.select():
        for name, value in cluster.centroid.items():
            bounds = sm.FEATURE_RANGES[name]
            assert in_range(value, bounds, feature_slack(bounds)), (name, value)


def _stored_top_tracks(time_range: str) -> list[str]:
    ref = queries.find_snapshot(USERNAME, DAY)
    return [item["id"] for item in queries.top_items(ref.id, "tracks", time_range)]


@PROPERTY
@given(answers())
def test_a_snapshot_completes_and_stores_only_what_keeps_the_contract(
    database: Database, cipher: TokenCipher, example: Answers
) -> None:
    # Features are stored once per track: forget earlier examples' so this one's are compared.
    database.run_sync(lambda: AudioFeatures.delete().execute())
    outcome = asyncio.run(_snapshot(database, cipher, example))

    assert outcome.status == JobStatus.DONE, outcome.error
    for time_range, page in example.top_tracks.items():
        kept = sm.parse_each(page, sm.parse_track, "", sm.Skipped())
        assert database.run_sync(_stored_top_tracks, time_range) == [t.id for t in kept]
    database.run_sync(_catalogue_in_contract)
    stored, sent = database.run_sync(_stored_features), _kept_features(example)
    assert set(stored) == set(sent)
    for track_id, values in sent.items():
        assert stored[track_id] == pytest.approx(values, rel=1e-6, abs=1e-12), track_id
    database.run_sync(_centroids_in_contract)
    listed = database.run_sync(queries.list_snapshots, USERNAME)
    assert [s["date"] for s in listed] == [DAY.isoformat()]
    skipped = listed[0]["skipped"]
    assert all(count > 0 for reasons in skipped.values() for count in reasons.values())
    bad_top = sum(
        len(p) - len(sm.parse_each(p, sm.parse_track, "", sm.Skipped()))
        for p in example.top_tracks.values()
    )
    assert sum(skipped.get("/me/top/tracks", {}).values()) == bad_top
