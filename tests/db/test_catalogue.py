"""The shared catalogue: what upserts store is what reads give back."""

from __future__ import annotations

from db import catalogue
from db.database import Database
from db.models import Artist
from spotify_models import Artist as SpotifyArtist


def _artist(genres: tuple[str, ...] | None) -> SpotifyArtist:
    return SpotifyArtist(id="a1", name="Ann", genres=genres, popularity=40, image_url=None)


def test_genres_are_stored_once_encoded(database: Database) -> None:
    def write_and_read() -> object:
        catalogue.upsert_artists([_artist(("indie folk", "chamber pop"))])
        return Artist.get_by_id("a1").genres

    assert database.run_sync(write_and_read) == ["indie folk", "chamber pop"]


def test_an_update_keeps_genres_a_list_and_none_stays_none(database: Database) -> None:
    def write_twice_and_read() -> tuple[object, object]:
        catalogue.upsert_artists([_artist(None)])
        first = Artist.get_by_id("a1").genres
        catalogue.upsert_artists([_artist(("folk",))])
        return first, Artist.get_by_id("a1").genres

    assert database.run_sync(write_twice_and_read) == (None, ["folk"])
