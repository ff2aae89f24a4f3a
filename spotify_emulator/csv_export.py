"""Audio features as a CSV in the layout of Kaggle's "Spotify Tracks Dataset"."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from spotify_emulator.model import FEATURE_NAMES
from spotify_emulator.world import World

HEADER = [
    "",
    "track_id",
    "artists",
    "album_name",
    "track_name",
    "popularity",
    "duration_ms",
    "explicit",
    *FEATURE_NAMES,
    "track_genre",
]


def write_features_csv(
    world: World, path: str | Path, track_ids: Iterable[str] | None = None
) -> int:
    """Write one row per track (all tracks unless `track_ids`); answer the number of rows."""
    ids = list(world.tracks) if track_ids is None else list(track_ids)
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, track_id in enumerate(ids):
            writer.writerow([index, *_row(world, track_id)])
    return len(ids)


def _row(world: World, track_id: str) -> list[object]:
    track = world.tracks[track_id]
    artists = [world.artists[a] for a in track.artist_ids]
    features = world.features[track_id]
    return [
        track_id,
        ";".join(a.name for a in artists),
        world.albums[track.album_id].name,
        track.name,
        track.popularity,
        track.duration_ms,
        track.explicit,
        *(features[name] for name in FEATURE_NAMES),
        artists[0].genres[0],
    ]
