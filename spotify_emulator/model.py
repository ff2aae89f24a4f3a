"""The emulated catalogue and listeners: plain dataclasses the web layer renders as JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.parse

TIME_RANGES = ("short_term", "medium_term", "long_term")

FEATURE_NAMES = (
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

ARCHETYPES = ("acoustic", "dance", "rap", "ambient")


@dataclasses.dataclass
class Artist:
    """An artist of the synthetic catalogue."""

    id: str
    name: str
    genres: list[str]
    popularity: int
    followers: int
    archetype: str
    album_ids: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Album:
    """An album: one primary artist, tracks in running order."""

    id: str
    name: str
    artist_ids: list[str]
    release_date: str
    album_type: str
    label: str
    popularity: int
    upc: str
    track_ids: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Track:
    """A track; `artist_ids[0]` is the album's artist, any others are featured."""

    id: str
    name: str
    artist_ids: list[str]
    album_id: str
    track_number: int
    duration_ms: int
    explicit: bool
    popularity: int
    isrc: str


@dataclasses.dataclass
class EmulatedUser:
    """A listener with a ranked taste, a history, a library and one playlist of their own."""

    id: str
    account_id: str
    display_name: str
    email: str
    country: str
    product: str
    refresh_token: str = dataclasses.field(repr=False)
    archetypes: list[str]
    top_tracks: dict[str, list[str]] = dataclasses.field(repr=False)
    top_artists: dict[str, list[str]] = dataclasses.field(repr=False)
    recent: list[tuple[str, dt.datetime]] = dataclasses.field(repr=False)
    saved: list[str] = dataclasses.field(repr=False)
    saved_at: dict[str, dt.datetime] = dataclasses.field(repr=False)
    playlist_id: str
    # Truths for evaluation: the artists the user knows (with their affinity) and the shows
    # they follow; `archetypes` above is their true taste.
    favourites: dict[str, float] = dataclasses.field(default_factory=dict, repr=False)
    show_ids: list[str] = dataclasses.field(default_factory=list, repr=False)

    @property
    def known_track_ids(self) -> set[str]:
        """Every track the user already has in their top lists, history or library."""
        known = {track for tracks in self.top_tracks.values() for track in tracks}
        known.update(track for track, _ in self.recent)
        known.update(self.saved)
        return known


@dataclasses.dataclass
class Playlist:
    """A playlist owned by one emulated user."""

    id: str
    name: str
    owner_id: str
    description: str
    track_ids: list[str]
    added_at: dict[str, dt.datetime]


@dataclasses.dataclass
class Show:
    """A podcast; `media_type` "video" shows land in the Video history export."""

    id: str
    name: str
    publisher: str
    description: str
    media_type: str
    episode_ids: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Episode:
    """One episode of a show."""

    id: str
    name: str
    show_id: str
    description: str
    duration_ms: int
    release_date: str
    explicit: bool


@dataclasses.dataclass
class LocalTrack:
    """A file from the listener's own disk: Spotify knows only its tags, and gives it no id."""

    key: str  # the emulator's handle ("local:N"); never sent
    name: str
    artist: str
    album: str
    duration_ms: int

    @property
    def uri(self) -> str:
        """spotify:local:artist:album:title:seconds, each part form-encoded as Spotify does."""
        parts = (self.artist, self.album, self.name)
        encoded = ":".join(urllib.parse.quote_plus(part) for part in parts)
        return f"spotify:local:{encoded}:{self.duration_ms // 1000}"
