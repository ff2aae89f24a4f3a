"""Schema 5: artists remember when their profile was fetched; an older database upgrades."""

from __future__ import annotations

import datetime as dt

from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

from db import artists
from db.catalogue import upsert_artists
from db.database import Database
from db.migrations import LATEST_VERSION, MIGRATIONS, _add_artist_profiles, check_schema, migrate
from db.models import Artist, ArtistName, SchemaVersion
from spotify_models import Album, ArtistRef, Track
from spotify_models import Artist as SpotifyArtist

BEFORE = MIGRATIONS.index(_add_artist_profiles)


def test_an_older_database_gains_the_column_and_keeps_its_artists(database: Database) -> None:
    def downgrade() -> None:
        migrator = SchemaMigrator.from_database(database.peewee)
        run_migrations(migrator.drop_column("artist", "profile_fetched_at"))
        SchemaVersion.delete().where(SchemaVersion.version > BEFORE).execute()
        Artist.insert(id="a1", name="Nina").execute()

    database.run_sync(downgrade)
    assert database.run_sync(migrate, database.peewee) == (BEFORE, LATEST_VERSION)
    database.run_sync(check_schema, database.peewee)
    assert database.run_sync(artists.profile_fetched_at, "a1") is None


def test_a_stored_profile_is_stamped_and_holds_albums_without_tracks(database: Database) -> None:
    ref = ArtistRef("a1", "Nina")
    artist = SpotifyArtist("a1", "Nina", None, None, None)
    full = Album("al1", "Pastel Blues", (ref,), "1965-10-01", None)
    empty = Album("al2", "Sings", (ref, ArtistRef("a2", "Guest")), "1959", None)
    track = Track("t1", "Sinnerman", "spotify:track:t1", 600_000, (ref,), full, None, None, None)
    database.run_sync(artists.store_profile, artist, [full, empty], [track])
    fetched = database.run_sync(artists.profile_fetched_at, "a1")
    assert fetched is not None
    assert dt.datetime.now(dt.UTC).replace(tzinfo=None) - fetched < dt.timedelta(minutes=5)
    profile = database.run_sync(artists.stored_profile, "a1")
    assert [(a["id"], a["tracks"]) for a in profile["albums"]] == [("al1", 1), ("al2", 0)]
    assert [t["id"] for t in profile["tracks"]] == ["t1"]


def test_a_search_links_names_it_meets_once_only(database: Database) -> None:
    def names() -> None:
        for name in ("Nina Simone", "nina simone live", "Prince", "Björk"):
            ArtistName.create(name=name)

    database.run_sync(names)
    found = [
        SpotifyArtist("a1", "NINA SIMONE", None, None, None),
        SpotifyArtist("p1", "Prince", None, None, None),
        SpotifyArtist("p2", "Prince", None, None, None),
        SpotifyArtist("b1", "Björk", None, None, None),
    ]
    database.run_sync(upsert_artists, found)
    assert database.run_sync(artists.link_searched_names, found) == 2
    linked = database.run_sync(
        lambda: {row.name: row.artist_id for row in ArtistName.select().order_by(ArtistName.name)}
    )
    # Two results named Prince: which one the export meant is unknown, so neither is linked.
    assert linked == {
        "Björk": "b1",
        "Nina Simone": "a1",
        "Prince": None,
        "nina simone live": None,
    }
