"""Factories for catalogue rows and complete snapshots, written straight through the models."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from db.documents import render_snapshot
from db.models import (
    Album,
    Artist,
    AudioFeatures,
    Cluster,
    ClusterMember,
    Recommendation,
    Snapshot,
    TopItem,
    Track,
    TrackArtist,
    User,
    utcnow,
)
from spotify_models import AUDIO_FEATURE_NAMES


def make_user(
    username: str = "ann", status: str = User.ACTIVE, token: str = "gAAAA-cipher"
) -> User:
    return User.create(username=username, status=status, refresh_token_encrypted=token)


def make_track(track_id: str, artist_ids: Sequence[str] = ("a1",), album_id: str = "al1") -> Track:
    """A track with its album and artists, creating whichever of them is missing."""
    for artist_id in artist_ids:
        Artist.get_or_create(id=artist_id, defaults={"name": f"Artist {artist_id}"})
    album, _ = Album.get_or_create(id=album_id, defaults={"name": f"Album {album_id}"})
    track = Track.create(
        id=track_id,
        name=f"Track {track_id}",
        uri=f"spotify:track:{track_id}",
        duration_ms=180_000,
        album=album,
    )
    for position, artist_id in enumerate(artist_ids):
        TrackArtist.create(track=track, artist=artist_id, position=position)
    return track


def make_snapshot(
    user: User,
    date: dt.date,
    *,
    recommendations: Sequence[str] = (),
    top_tracks: Mapping[str, Sequence[str]] | None = None,
    top_artists: Mapping[str, Sequence[str]] | None = None,
    clusters: Sequence[tuple[str, Sequence[str], Mapping[str, float]]] = (),
    source: str = "local",
    features_source: str | None = "csv",
) -> Snapshot:
    """A complete snapshot; the tracks and artists it names must exist."""
    snapshot = Snapshot.create(
        user=user,
        date=date,
        status=Snapshot.COMPLETE,
        recommendation_source=source,
        features_source=features_source,
        generated_at=utcnow(),
    )
    for rank, track_id in enumerate(recommendations, start=1):
        Recommendation.create(
            snapshot=snapshot, rank=rank, track=track_id, reason=f"because {rank}"
        )
    for time_range, ids in (top_tracks or {}).items():
        for rank, track_id in enumerate(ids, start=1):
            TopItem.create(
                snapshot=snapshot,
                item_type="tracks",
                time_range=time_range,
                rank=rank,
                track=track_id,
            )
    for time_range, ids in (top_artists or {}).items():
        for rank, artist_id in enumerate(ids, start=1):
            TopItem.create(
                snapshot=snapshot,
                item_type="artists",
                time_range=time_range,
                rank=rank,
                artist=artist_id,
            )
    for position, (label, track_ids, centroid) in enumerate(clusters):
        cluster = Cluster.create(
            snapshot=snapshot,
            position=position,
            label=label,
            size=len(track_ids),
            centroid=dict(centroid),
        )
        for track_id in track_ids:
            ClusterMember.create(cluster=cluster, track=track_id)
    # As the write path does: the snapshot's responses are rendered with it.
    render_snapshot(snapshot.id)
    return snapshot


def track_entry(
    track_id: str,
    ts: str,
    ms_played: int = 200_000,
    *,
    name: str | None = None,
    artist: str = "Nina Simone",
    album: str = "Pastel Blues",
) -> dict[str, object]:
    """One music row of an extended streaming history export, as Spotify writes it."""
    return {
        "ts": ts,
        "platform": "android",
        "ms_played": ms_played,
        "conn_country": "DE",
        "ip_addr": "192.0.2.1",
        "master_metadata_track_name": name or f"Song {track_id}",
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": f"spotify:track:{track_id}",
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": False,
    }


def episode_entry(
    episode_id: str, ts: str, ms_played: int = 1_200_000, *, show: str = "The Daily"
) -> dict[str, object]:
    """One podcast row of an extended streaming history export."""
    entry = track_entry("x", ts, ms_played)
    entry.update(
        {
            "master_metadata_track_name": None,
            "master_metadata_album_artist_name": None,
            "master_metadata_album_album_name": None,
            "spotify_track_uri": None,
            "episode_name": f"Episode {episode_id}",
            "episode_show_name": show,
            "spotify_episode_uri": f"spotify:episode:{episode_id}",
        }
    )
    return entry


def write_export(path: Path, entries: Sequence[Mapping[str, object]]) -> Path:
    """A Streaming_History_Audio_*.json file holding `entries`."""
    path.write_text(json.dumps(list(entries)), encoding="utf-8")
    return path


# Spotify sends these as integers; every other feature stands at 0.5, inside its range.
_WHOLE_FEATURES = {"key": 1, "mode": 1, "time_signature": 4}


def store_features(track_id: str, source: str = "csv") -> None:
    """Audio features within the contract for a track, as a feature source stores them."""
    values = {name: _WHOLE_FEATURES.get(name, 0.5) for name in AUDIO_FEATURE_NAMES}
    AudioFeatures.create(track=track_id, **values, source=source)
