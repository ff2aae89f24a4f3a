"""The search index: Spotify's query syntax reduced to what clients of this service use.

Bare words must all appear in the item's name or its artists' names; field filters
(`artist:`, `track:`, `album:`, `isrc:`, `genre:`) narrow further. Results are ordered by
popularity, then id, so answers are stable.
"""

from __future__ import annotations

import shlex

from spotify_emulator.model import Album, Artist, Track
from spotify_emulator.world import World

SEARCH_TYPES = ("track", "artist", "album")


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
        if colon and field.lower() in ("artist", "track", "album", "isrc", "genre") and value:
            filters[field.lower()] = value.lower()
        else:
            words.append(part.lower())
    return words, filters


def _artist_names(world: World, artist_ids: list[str]) -> str:
    return " ".join(world.artists[a].name for a in artist_ids).lower()


def _matches(text: str, words: list[str]) -> bool:
    return all(word in text for word in words)


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
        and (not filters.get("genre") or filters["genre"] in artist.genres)
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
        ):
            found.append(album)
    return sorted(found, key=lambda a: (-a.popularity, a.id))
