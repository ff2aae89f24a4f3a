"""Names an export gave are linked to catalogue ids once a snapshot stores their tracks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db.catalogue import upsert_tracks
from db.database import Database
from db.models import AlbumName, ArtistName
from jobs.history_import import import_history
from spotify_models import Album, ArtistRef, Track
from tests.factories import make_user, track_entry, write_export

TRACK = "4uLU6hMCjMI75M1A2tKUQC"
OTHER = "7ouMYWpwJ422jRcDASZB7P"


def _spotify_track(track_id: str, artists: tuple[ArtistRef, ...], album: Album) -> Track:
    return Track(
        track_id,
        "Sinnerman",
        f"spotify:track:{track_id}",
        600_000,
        artists,
        album,
        None,
        None,
        None,
    )


def _links(database: Database) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        names = {row.name: row.artist_id for row in ArtistName.select()}
        albums = {row.name: row.album_id for row in AlbumName.select()}
        return names | albums

    return database.run_sync(read)


def test_a_snapshot_links_the_names_its_tracks_carry(database: Database, tmp_path: Path) -> None:
    database.run_sync(make_user, "ann")
    export = write_export(
        tmp_path / "Streaming_History_Audio_2019.json",
        [
            track_entry(TRACK, "2019-03-01T10:00:00Z", artist="Nina Simone", album="Pastel Blues"),
            track_entry(OTHER, "2019-03-01T10:10:00Z", artist="Björk", album="Post"),
        ],
    )
    import_history(database, "ann", [export], show_progress=False)
    assert set(_links(database).values()) == {None}

    album = Album("alb1", "PASTEL BLUES", (ArtistRef("nina", "Nina Simone"),), None, None)
    credits = (ArtistRef("featured", "Someone"), ArtistRef("nina", "nina simone"))
    stranger = Album("alb2", "Homogenic", (ArtistRef("bjork", "Björk"),), None, None)
    database.run_sync(
        upsert_tracks,
        [
            _spotify_track(TRACK, credits, album),
            # Another album and artist of that name: the album is not this one.
            _spotify_track(OTHER, (ArtistRef("bjork", "Björk"),), stranger),
        ],
    )
    assert _links(database) == {
        "Nina Simone": "nina",
        "Pastel Blues": "alb1",
        "Björk": "bjork",
        "Post": None,
    }
