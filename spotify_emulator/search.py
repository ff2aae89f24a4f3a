"""The search index: Spotify's query syntax reduced to what clients of this service use.

Bare words must all appear in the item's name or its artists' names; field filters
(`artist:`, `track:`, `album:`, `isrc:`, `genre:`, `year:` as 2010 or 2005-2010) narrow
further: `genre:` applies to artists and tracks (any of the track's artists), `year:` to
tracks and albums (the album's release year). Results are ordered by popularity, then id, so
answers are stable.
"""

from __future__ import annotations

import shlex

from spotify_emulator.model import Album, Artist, Track
from spotify_emulator.world import World

SEARCH_TYPES = ("track", "artist", "album")
FIELDS = ("artist", "track", "album", "isrc", "genre", "year")


def parse_query(query: str) -> tuple[list[str], dict[str, str]]:
    """Split a query into bare words and `field:value` filters, all lower-cased."""
    try:
        parts = shlex.split(query)
    except ValueError:
        parts = query.split()
    words: list[str] = []
    filters: dict[str, str] = {}
    for part in parts:
        field, colon, value = part.partition(":")
        if colon and field.lower() in FIELDS and value:
            filters[field.lower()] = value.lower()
        else:
            words.append(part.lower())
    return words, filters


def _artist_names(world: World, artist_ids: list[str]) -> str:
    return " ".join(world.artists[a].name for a in artist_ids).lower()


def _matches(text: str, words: list[str]) -> bool:
    return all(word in text for word in words)


def _in_years(release_date: str, filters: dict[str, str]) -> bool:
    wanted = filters.get("year")
    if wanted is None:
        return True
    first, _, last = wanted.partition("-")
    if not first.isdigit() or not (last or first).isdigit():
        return False  # Spotify matches nothing for a year it cannot read
    return int(first) <= int(release_date[:4]) <= int(last or first)


def _has_genre(world: World, artist_ids: list[str], filters: dict[str, str]) -> bool:
    wanted = filters.get("genre")
    return wanted is None or any(wanted in world.artists[a].genres for a in artist_ids)


def search_tracks(world: World, words: list[str], filters: dict[str, str]) -> list[Track]:
    """Tracks matching the query."""
    found = []
    for track in world.tracks.values():
        artists = _artist_names(world, track.artist_ids)
        album = world.albums[track.album_id].name.lower()
        checks = (
            _matches(f"{track.name.lower()} {artists} {album}", words),
            filters.get("track", "") in track.name.lower(),
            filters.get("artist", "") in artists,
            filters.get("album", "") in album,
            filters.get("isrc", track.isrc.lower()) == track.isrc.lower(),
            _in_years(world.albums[track.album_id].release_date, filters),
            _has_genre(world, track.artist_ids, filters),
        )
        if all(checks):
            found.append(track)
    return sorted(found, key=lambda t: (-t.popularity, t.id))


def search_artists(world: World, words: list[str], filters: dict[str, str]) -> list[Artist]:
    """Artists matching the query."""
    found = [
        artist
        for artist in world.artists.values()
        if _matches(artist.name.lower(), words)
        and filters.get("artist", "") in artist.name.lower()
        and _has_genre(world, [artist.id], filters)
    ]
    return sorted(found, key=lambda a: (-a.popularity, a.id))


def search_albums(world: World, words: list[str], filters: dict[str, str]) -> list[Album]:
    """Albums matching the query."""
    found = []
    for album in world.albums.values():
        artists = _artist_names(world, album.artist_ids)
        if (
            _matches(f"{album.name.lower()} {artists}", words)
            and filters.get("album", "") in album.name.lower()
            and filters.get("artist", "") in artists
            and _in_years(album.release_date, filters)
        ):
            found.append(album)
    return sorted(found, key=lambda a: (-a.popularity, a.id))
