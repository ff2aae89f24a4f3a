"""Typed, frozen views of Spotify answers, and the parsers that build them from JSON.

Parsers tolerate every field Spotify removed for development-mode apps (popularity, genres,
followers, preview_url, available_markets...): absent means None. A missing *required* field
(an id, a name) raises `ParseError`, which the client turns into `MalformedResponse`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

# The Spotify vocabulary the rest of the service speaks in.
AUDIO_FEATURE_NAMES = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
)
# Spotify's time ranges for top items: ~4 weeks, ~6 months, ~1 year.
TIME_RANGES = ("short_term", "medium_term", "long_term")
ITEM_TYPES = ("artists", "tracks")

# Spotify sends these three as integers; every other audio feature is a float.
_INTEGER_FEATURES = frozenset({"key", "mode", "time_signature"})


class ParseError(ValueError):
    """A JSON document lacks a required field or has one of the wrong type."""


@dataclasses.dataclass(frozen=True)
class ArtistRef:
    id: str
    name: str


@dataclasses.dataclass(frozen=True)
class Artist:
    id: str
    name: str
    genres: tuple[str, ...] | None
    popularity: int | None
    image_url: str | None


@dataclasses.dataclass(frozen=True)
class Album:
    id: str
    name: str
    artists: tuple[ArtistRef, ...]
    release_date: str | None
    image_url: str | None


@dataclasses.dataclass(frozen=True)
class Track:
    id: str
    name: str
    uri: str
    duration_ms: int | None
    artists: tuple[ArtistRef, ...]
    album: Album | None
    popularity: int | None
    isrc: str | None
    explicit: bool | None


@dataclasses.dataclass(frozen=True)
class AudioFeatures:
    track_id: str
    danceability: float
    energy: float
    key: int
    loudness: float
    mode: int
    speechiness: float
    acousticness: float
    instrumentalness: float
    liveness: float
    valence: float
    tempo: float
    time_signature: int

    def as_dict(self) -> dict[str, float]:
        """The twelve features by name, as floats (the clustering input)."""
        return {name: float(getattr(self, name)) for name in AUDIO_FEATURE_NAMES}


@dataclasses.dataclass(frozen=True)
class Play:
    track: Track
    played_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class SavedTrack:
    track: Track
    added_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Playlist:
    id: str
    name: str
    owner_id: str
    collaborative: bool


@dataclasses.dataclass(frozen=True)
class Profile:
    id: str
    account_id: str | None
    display_name: str | None


@dataclasses.dataclass(frozen=True)
class TokenGrant:
    access_token: str = dataclasses.field(repr=False)
    expires_in: int
    scope: str
    refresh_token: str | None = dataclasses.field(default=None, repr=False)


def as_object(value: Any, what: str = "document") -> Mapping[str, Any]:
    """`value` if it is a JSON object, else ParseError."""
    if not isinstance(value, Mapping):
        raise ParseError(f"{what} is not a JSON object")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """`value` if it is a JSON array, else ParseError."""
    if not isinstance(value, list):
        raise ParseError(f"{what} is not a JSON array")
    return value


def required_str(data: Mapping[str, Any], key: str) -> str:
    """A string field that must be present and non-empty."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ParseError(f"field {key!r} is missing or not a string")
    return value


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    # bool is an int subclass; a stray true must not become popularity 1.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"field {key!r} is missing or not a number")
    return value


def _image_url(data: Mapping[str, Any]) -> str | None:
    images = data.get("images")
    if isinstance(images, list) and images and isinstance(images[0], Mapping):
        return _optional_str(images[0], "url")
    return None


def parse_timestamp(value: Any, what: str) -> dt.datetime:
    """An ISO 8601 instant as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ParseError(f"{what} is missing or not a string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"{what} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_artist_ref(value: Any) -> ArtistRef:
    """A simplified artist (inside tracks and albums)."""
    data = as_object(value, "artist")
    return ArtistRef(id=required_str(data, "id"), name=required_str(data, "name"))


def _artist_refs(data: Mapping[str, Any]) -> tuple[ArtistRef, ...]:
    artists = data.get("artists")
    if artists is None:
        return ()
    return tuple(parse_artist_ref(item) for item in as_list(artists, "artists"))


def parse_artist(value: Any) -> Artist:
    """A full artist; genres and popularity are gone for development-mode apps."""
    data = as_object(value, "artist")
    genres = data.get("genres")
    return Artist(
        id=required_str(data, "id"),
        name=required_str(data, "name"),
        genres=tuple(g for g in genres if isinstance(g, str)) if isinstance(genres, list) else None,
        popularity=_optional_int(data, "popularity"),
        image_url=_image_url(data),
    )


def parse_album(value: Any) -> Album:
    """A full or simplified album."""
    data = as_object(value, "album")
    return Album(
        id=required_str(data, "id"),
        name=required_str(data, "name"),
        artists=_artist_refs(data),
        release_date=_optional_str(data, "release_date"),
        image_url=_image_url(data),
    )


def parse_track(value: Any, album: Album | None = None) -> Track:
    """A full track, or a simplified one (album tracks) given the album it belongs to."""
    data = as_object(value, "track")
    raw_album = data.get("album")
    external_ids = data.get("external_ids")
    return Track(
        id=required_str(data, "id"),
        name=required_str(data, "name"),
        uri=required_str(data, "uri"),
        duration_ms=_optional_int(data, "duration_ms"),
        artists=_artist_refs(data),
        album=parse_album(raw_album) if raw_album is not None else album,
        popularity=_optional_int(data, "popularity"),
        isrc=_optional_str(external_ids, "isrc") if isinstance(external_ids, Mapping) else None,
        explicit=_optional_bool(data, "explicit"),
    )


def parse_audio_features(value: Any) -> AudioFeatures:
    """One entry of `/audio-features`."""
    data = as_object(value, "audio features")
    features: dict[str, Any] = {}
    for name in AUDIO_FEATURE_NAMES:
        number = _number(data, name)
        features[name] = int(number) if name in _INTEGER_FEATURES else float(number)
    return AudioFeatures(track_id=required_str(data, "id"), **features)


def parse_play(value: Any) -> Play:
    """One entry of `/me/player/recently-played`."""
    data = as_object(value, "play")
    return Play(
        track=parse_track(data.get("track")),
        played_at=parse_timestamp(data.get("played_at"), "played_at"),
    )


def parse_saved_track(value: Any) -> SavedTrack:
    """One entry of `/me/tracks`."""
    data = as_object(value, "saved track")
    added_at = data.get("added_at")
    return SavedTrack(
        track=parse_track(data.get("track")),
        added_at=parse_timestamp(added_at, "added_at") if added_at is not None else None,
    )


def parse_playlist(value: Any) -> Playlist:
    """A simplified playlist from `/me/playlists`."""
    data = as_object(value, "playlist")
    owner = as_object(data.get("owner"), "playlist owner")
    return Playlist(
        id=required_str(data, "id"),
        name=_optional_str(data, "name") or "",
        owner_id=required_str(owner, "id"),
        collaborative=_optional_bool(data, "collaborative") or False,
    )


def parse_playlist_item(value: Any) -> Track | None:
    """The track of a playlist entry, or None for episodes, local files and removed tracks."""
    data = as_object(value, "playlist item")
    # 2026 renamed the key from "track" to "item"; older deployments still send "track".
    item = data.get("item", data.get("track"))
    if not isinstance(item, Mapping):
        return None
    if item.get("type", "track") != "track" or item.get("is_local") or not item.get("id"):
        return None
    return parse_track(item)


def parse_profile(value: Any) -> Profile:
    """The answer of `/me`."""
    data = as_object(value, "profile")
    return Profile(
        id=required_str(data, "id"),
        account_id=_optional_str(data, "account_id"),
        display_name=_optional_str(data, "display_name"),
    )


def parse_token_grant(value: Any) -> TokenGrant:
    """The answer of the token endpoint."""
    data = as_object(value, "token answer")
    expires_in = _optional_int(data, "expires_in")
    return TokenGrant(
        access_token=required_str(data, "access_token"),
        expires_in=expires_in if expires_in is not None else 3600,
        scope=_optional_str(data, "scope") or "",
        refresh_token=_optional_str(data, "refresh_token") or None,
    )
