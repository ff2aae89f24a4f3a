"""The catalogue shared by all users: upserts of artists, albums, tracks and audio features."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import peewee as pw

from db.models import Album, Artist, AudioFeatures, Track, TrackArtist, utcnow
from db.names import link_names
from db.transactions import locked
from spotify_client import chunks
from spotify_models import AUDIO_FEATURE_NAMES, ArtistRef
from spotify_models import Album as SpotifyAlbum
from spotify_models import Artist as SpotifyArtist
from spotify_models import Track as SpotifyTrack

BATCH = 200


def _upsert(model: type[pw.Model], rows: Iterable[dict[str, Any]], update: Sequence[str]) -> None:
    """Insert or update by primary key, in id order so concurrent writers lock alike."""
    unique = {row["id"]: row for row in rows}
    ordered = [unique[key] for key in sorted(unique)]
    fields = [getattr(model, name) for name in update]
    for batch in chunks(ordered, BATCH):
        query = model.insert_many(batch).on_conflict(
            conflict_target=[model._meta.primary_key],
            update={field: pw.EXCLUDED[field.column_name] for field in fields},
        )
        query.execute()


def _artist_refs(tracks: Iterable[SpotifyTrack]) -> dict[str, ArtistRef]:
    refs: dict[str, ArtistRef] = {}
    for track in tracks:
        for ref in (*track.artists, *(track.album.artists if track.album else ())):
            refs.setdefault(ref.id, ref)
    return refs


def upsert_artists(artists: Iterable[SpotifyArtist]) -> None:
    """Full artist objects: every field Spotify still sends is refreshed."""
    now = utcnow()
    rows = [
        {
            "id": a.id,
            "name": a.name,
            # insert_many encodes through the JSONField itself: pass the list, never its JSON.
            "genres": list(a.genres) if a.genres is not None else None,
            "popularity": a.popularity,
            "image_url": a.image_url,
            "updated_at": now,
        }
        for a in artists
    ]
    _upsert(Artist, rows, ["name", "genres", "popularity", "image_url", "updated_at"])


def _upsert_artist_refs(refs: Iterable[ArtistRef]) -> None:
    # A simplified artist carries only its name: never overwrite richer fields with nothing.
    rows = [{"id": ref.id, "name": ref.name, "updated_at": utcnow()} for ref in refs]
    _upsert(Artist, rows, ["name"])


def _upsert_albums(albums: Iterable[SpotifyAlbum]) -> None:
    rows = [
        {
            "id": album.id,
            "name": album.name,
            "artist": album.artists[0].id if album.artists else None,
            "release_date": album.release_date,
            "image_url": album.image_url,
        }
        for album in albums
    ]
    _upsert(Album, rows, ["name", "artist", "release_date", "image_url"])


def upsert_albums(albums: Iterable[SpotifyAlbum]) -> None:
    """Albums with their credited artists (an album may come without its tracks)."""
    unique = list({album.id: album for album in albums}.values())
    refs = {ref.id: ref for album in unique for ref in album.artists}
    _upsert_artist_refs(refs.values())
    _upsert_albums(unique)


def _track_row(track: SpotifyTrack, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": track.id,
        "name": track.name,
        "uri": track.uri,
        "duration_ms": track.duration_ms,
        "album": track.album.id if track.album else None,
        "popularity": track.popularity,
        "isrc": track.isrc,
        "explicit": track.explicit,
        "updated_at": now,
    }


def _replace_track_artists(tracks: Sequence[SpotifyTrack]) -> None:
    ids = sorted({track.id for track in tracks})
    for start in range(0, len(ids), BATCH):
        # In key order, like every other multi-row write of the catalogue (see above).
        in_order = locked(
            TrackArtist.select(TrackArtist.track)
            .where(TrackArtist.track.in_(ids[start : start + BATCH]))
            .order_by(TrackArtist.track, TrackArtist.artist)
        )
        TrackArtist.delete().where(TrackArtist.track.in_(in_order)).execute()
    links = {
        (track.id, ref.id): {"track": track.id, "artist": ref.id, "position": position}
        for track in tracks
        for position, ref in enumerate(track.artists)
    }
    rows = [links[key] for key in sorted(links)]
    for batch in chunks(rows, BATCH):
        TrackArtist.insert_many(batch).on_conflict_ignore().execute()


def upsert_tracks(tracks: Iterable[SpotifyTrack]) -> None:
    """Tracks with their albums and artists, shared by every user of the instance."""
    unique = list({track.id: track for track in tracks}.values())
    if not unique:
        return
    now = utcnow()
    _upsert_artist_refs(_artist_refs(unique).values())
    _upsert_albums({t.album.id: t.album for t in unique if t.album}.values())
    _upsert(
        Track,
        [_track_row(track, now) for track in unique],
        ["name", "uri", "duration_ms", "album", "popularity", "isrc", "explicit", "updated_at"],
    )
    _replace_track_artists(unique)
    link_names(track.id for track in unique)


def stored_features(track_ids: Iterable[str]) -> dict[str, tuple[dict[str, float], str]]:
    """Features already in the catalogue: track id -> (features, source)."""
    ids = sorted(set(track_ids))
    found: dict[str, tuple[dict[str, float], str]] = {}
    for start in range(0, len(ids), BATCH):
        query = AudioFeatures.select().where(AudioFeatures.track.in_(ids[start : start + BATCH]))
        for row in query:
            values = {name: float(getattr(row, name)) for name in AUDIO_FEATURE_NAMES}
            found[row.track_id] = (values, row.source)
    return found


def store_features(features: Mapping[str, tuple[Mapping[str, float], str]]) -> None:
    """Keep each track's features once, with the source that supplied them."""
    now = utcnow()
    rows = [
        {"track": track_id, **_feature_columns(values), "source": source, "fetched_at": now}
        for track_id, (values, source) in sorted(features.items())
    ]
    for batch in chunks(rows, BATCH):
        AudioFeatures.insert_many(batch).on_conflict_ignore().execute()


def _feature_columns(values: Mapping[str, float]) -> dict[str, float | int]:
    integers = {"key", "mode", "time_signature"}
    return {
        name: round(values[name]) if name in integers else _real(values[name])
        for name in AUDIO_FEATURE_NAMES
    }


# The smallest normal single-precision float: PostgreSQL's REAL refuses anything nearer zero.
REAL_TINY = 1.1754944e-38


def _real(value: float) -> float:
    """`value` as a REAL column takes it: a magnitude below REAL_TINY is zero for any feature."""
    return 0.0 if abs(value) < REAL_TINY else float(value)


def artists_with_fresh_catalogue(artist_ids: Iterable[str], max_age: dt.timedelta) -> set[str]:
    """Artists whose albums and tracks were fetched recently enough to reuse."""
    since = utcnow() - max_age
    query = Artist.select(Artist.id).where(
        Artist.id.in_(list(artist_ids)) & (Artist.catalogue_fetched_at >= since)
    )
    return {row.id for row in query}


def mark_catalogue_fetched(artist_ids: Iterable[str]) -> None:
    """Record that these artists' albums and tracks were just fetched."""
    ids = sorted(set(artist_ids))
    now = utcnow()
    for start in range(0, len(ids), BATCH):
        # An UPDATE locks rows in the order it scans them; the upserts lock in id order. Two
        # orders over the same rows deadlock on PostgreSQL, so lock in id order here too
        # (no key lock: snapshots being written keep referencing these artists meanwhile).
        in_order = locked(
            Artist.select(Artist.id)
            .where(Artist.id.in_(ids[start : start + BATCH]))
            .order_by(Artist.id),
            keys_too=False,
        )
        Artist.update(catalogue_fetched_at=now).where(Artist.id.in_(in_order)).execute()


def catalogue_tracks(artist_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Stored tracks by these artists: id, name and artist ids/names, in a stable order."""
    query = (
        TrackArtist.select(TrackArtist.track, TrackArtist.artist)
        .where(TrackArtist.artist.in_(list(artist_ids)))
        .order_by(TrackArtist.track)
    )
    track_ids = sorted({link.track_id for link in query})
    return track_summaries(track_ids)


def track_summaries(track_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Id, name and ordered artists of each stored track."""
    summaries: dict[str, dict[str, Any]] = {}
    for start in range(0, len(track_ids), BATCH):
        chunk = list(track_ids[start : start + BATCH])
        query = (
            TrackArtist.select(TrackArtist.track, Track.name, Artist.id, Artist.name)
            .join_from(TrackArtist, Artist)
            .join_from(TrackArtist, Track)
            .where(TrackArtist.track.in_(chunk))
            .order_by(TrackArtist.track, TrackArtist.position)
            .tuples()
        )
        for track_id, track_name, artist_id, artist_name in cast(Iterable[tuple[str, ...]], query):
            entry = summaries.setdefault(
                track_id,
                {"id": track_id, "name": track_name, "artist_ids": [], "artist_names": []},
            )
            entry["artist_ids"].append(artist_id)
            entry["artist_names"].append(artist_name)
    return [summaries[track_id] for track_id in track_ids if track_id in summaries]


def collaborators(artist_ids: Sequence[str]) -> dict[str, str]:
    """Artists credited on stored tracks of these artists (not themselves) -> one they joined."""
    known = set(artist_ids)
    ids = sorted(known)
    found: dict[str, str] = {}
    for start in range(0, len(ids), BATCH):
        mine = TrackArtist.select(TrackArtist.track).where(
            TrackArtist.artist.in_(ids[start : start + BATCH])
        )
        query = (
            TrackArtist.select(TrackArtist.track, TrackArtist.artist)
            .where(TrackArtist.track.in_(mine))
            .order_by(TrackArtist.track, TrackArtist.position)
            .tuples()
        )
        by_track: dict[str, list[str]] = {}
        for track_id, artist_id in cast(Iterable[tuple[str, str]], query):
            by_track.setdefault(track_id, []).append(artist_id)
        for artists in by_track.values():
            host = next((a for a in artists if a in known), None)
            for artist_id in artists:
                if host is not None and artist_id not in known:
                    found.setdefault(artist_id, host)
    return dict(sorted(found.items()))


def stored_track_ids(track_ids: Iterable[str]) -> set[str]:
    """Which of these tracks the catalogue already holds."""
    ids = sorted(set(track_ids))
    found: set[str] = set()
    for start in range(0, len(ids), BATCH):
        query = Track.select(Track.id).where(Track.id.in_(ids[start : start + BATCH])).tuples()
        found.update(row[0] for row in cast(Iterable[tuple[str]], query))
    return found
