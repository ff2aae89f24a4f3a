"""The features CSV in the Kaggle "Spotify Tracks Dataset" layout."""

from __future__ import annotations

import csv
from pathlib import Path

from spotify_emulator import World, write_features_csv

KAGGLE_HEADER = (
    ",track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,"
    "energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,"
    "tempo,time_signature,track_genre"
)


def test_header_matches_the_kaggle_dataset(world: World, tmp_path: Path) -> None:
    path = tmp_path / "features.csv"
    write_features_csv(world, path, list(world.tracks)[:3])
    assert path.read_text(encoding="utf-8").splitlines()[0] == KAGGLE_HEADER


def test_rows_carry_the_world_features(world: World, tmp_path: Path) -> None:
    featured = next(t for t in world.tracks.values() if len(t.artist_ids) > 1)
    chosen = [featured.id, *list(world.tracks)[:4]]
    path = tmp_path / "features.csv"
    assert write_features_csv(world, path, chosen) == 5
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["track_id"] for row in rows] == chosen
    assert [row[""] for row in rows] == ["0", "1", "2", "3", "4"]
    first = rows[0]
    assert first["artists"] == ";".join(world.artists[a].name for a in featured.artist_ids)
    assert float(first["energy"]) == world.features[featured.id]["energy"]
    assert int(first["key"]) == world.features[featured.id]["key"]
    assert first["explicit"] in ("True", "False")
    assert first["track_genre"] in world.artists[featured.artist_ids[0]].genres


def test_all_tracks_by_default(world: World, tmp_path: Path) -> None:
    assert write_features_csv(world, tmp_path / "all.csv") == len(world.tracks)
