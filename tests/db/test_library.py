"""db.library: saved tracks a warm night takes from the catalogue instead of from Spotify."""

from __future__ import annotations

from db import library
from db.database import Database
from spotify_models import ArtistRef
from tests.factories import make_track


def test_catalogue_tracks_keep_the_asked_order_and_each_tracks_artists_in_credit_order(
    database: Database,
) -> None:
    def write_and_read() -> list[tuple[str, tuple[ArtistRef, ...]]]:
        make_track("t1", artist_ids=("b", "a"))
        make_track("t2", artist_ids=("a",))
        tracks = library.catalogue_tracks(["t2", "missing", "t1", "t2"])
        return [(track.id, track.artists) for track in tracks]

    assert database.run_sync(write_and_read) == [
        ("t2", (ArtistRef("a", "Artist a"),)),
        ("t1", (ArtistRef("b", "Artist b"), ArtistRef("a", "Artist a"))),
    ]
