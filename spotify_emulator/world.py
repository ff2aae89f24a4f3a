"""The emulated world: a catalogue, its listeners and the truths tests check answers against."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable

from spotify_emulator.catalogue import build_catalogue
from spotify_emulator.ids import fraction, hex_token
from spotify_emulator.listeners import build_listeners
from spotify_emulator.model import (
    Album,
    Artist,
    EmulatedUser,
    Episode,
    LocalTrack,
    Playlist,
    Show,
    Track,
)
from spotify_emulator.podcasts import assign_shows, build_podcasts

# Fixed, so the same seed gives the same timestamps on any day.
DEFAULT_NOW = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)

# Features the recommender compares, with the scale that brings each to about 0..1.
_SIMILARITY = {
    "danceability": 1.0,
    "energy": 1.0,
    "speechiness": 1.0,
    "acousticness": 1.0,
    "instrumentalness": 1.0,
    "valence": 1.0,
    "tempo": 1 / 200,
    "loudness": 1 / 60,
}


class UnknownSeedError(ValueError):
    """A recommendation seed names no track, artist or genre of the world."""


@dataclasses.dataclass
class World:
    """A deterministic synthetic Spotify: same seed, same world."""

    seed: int
    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    artists: dict[str, Artist] = dataclasses.field(repr=False)
    albums: dict[str, Album] = dataclasses.field(repr=False)
    tracks: dict[str, Track] = dataclasses.field(repr=False)
    features: dict[str, dict[str, float | int]] = dataclasses.field(repr=False)
    users: list[EmulatedUser] = dataclasses.field(repr=False)
    playlists: dict[str, Playlist] = dataclasses.field(repr=False)
    now: dt.datetime
    shows: dict[str, Show] = dataclasses.field(default_factory=dict, repr=False)
    episodes: dict[str, Episode] = dataclasses.field(default_factory=dict, repr=False)
    local_files: dict[str, LocalTrack] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def generate(cls, seed: int = 7, users: int = 6, now: dt.datetime = DEFAULT_NOW) -> World:
        """Build the world for a seed; `now` anchors play and save timestamps."""
        catalogue = build_catalogue(seed)
        listeners, playlists = build_listeners(seed, users, catalogue, now)
        podcasts = build_podcasts(seed, now)
        assign_shows(seed, listeners, podcasts.shows)
        return cls(
            seed=seed,
            client_id=hex_token(seed, "client_id"),
            client_secret=hex_token(seed, "client_secret"),
            artists=catalogue.artists,
            albums=catalogue.albums,
            tracks=catalogue.tracks,
            features=catalogue.features,
            users=listeners,
            playlists=playlists,
            now=now,
            shows=podcasts.shows,
            episodes=podcasts.episodes,
            local_files=podcasts.local_files,
        )

    def user(self, user_id: str) -> EmulatedUser:
        """The user with this id; KeyError if there is none."""
        for user in self.users:
            if user.id == user_id:
                return user
        raise KeyError(user_id)

    def tracks_of_artist(self, artist_id: str) -> list[str]:
        """Every track on the artist's albums, in album then running order."""
        albums = self.artists[artist_id].album_ids
        return [t for album in albums for t in self.albums[album].track_ids]

    def top_tracks_of_artist(self, artist_id: str, limit: int = 10) -> list[str]:
        """The artist's most popular tracks, as `/artists/{id}/top-tracks` answers."""
        tracks = self.tracks_of_artist(artist_id)
        return sorted(tracks, key=lambda t: (-self.tracks[t].popularity, t))[:limit]

    def related_artists(self, artist_id: str, limit: int = 20) -> list[str]:
        """Artists of the same archetype nearest in sound, as `/related-artists` answers."""
        centre = self._centroid(self.tracks_of_artist(artist_id))
        peers = [
            a.id
            for a in self.artists.values()
            if a.archetype == self.artists[artist_id].archetype and a.id != artist_id
        ]
        distance = {
            a: self._distance(centre, self._centroid(self.tracks_of_artist(a))) for a in peers
        }
        return sorted(peers, key=lambda a: (distance[a], a))[:limit]

    def recommendations_for(
        self,
        seed_tracks: Iterable[str] = (),
        seed_artists: Iterable[str] = (),
        limit: int = 20,
        seed_genres: Iterable[str] = (),
    ) -> list[str]:
        """Tracks by other artists nearest the seeds' sound: what `/recommendations` answers."""
        seed_tracks, seed_artists = list(seed_tracks), list(seed_artists)
        pool = self._seed_pool(seed_tracks, seed_artists, list(seed_genres))
        centre = self._centroid(pool)
        excluded = set(seed_artists) | {a for t in seed_tracks for a in self.tracks[t].artist_ids}
        candidates = [
            t for t, track in self.tracks.items() if not excluded.intersection(track.artist_ids)
        ]
        distance = {t: self._distance(centre, self.features[t]) for t in candidates}
        return sorted(candidates, key=lambda t: (distance[t], t))[:limit]

    def reccobeats_knows(self, track_id: str, coverage: float) -> bool:
        """Whether the emulated ReccoBeats has features for the track at this coverage."""
        return track_id in self.tracks and fraction(self.seed, "reccobeats", track_id) < coverage

    def _seed_pool(self, tracks: list[str], artists: list[str], genres: list[str]) -> list[str]:
        unknown = [t for t in tracks if t not in self.tracks]
        unknown += [a for a in artists if a not in self.artists]
        genre_artists = [a.id for a in self.artists.values() if set(a.genres) & set(genres)]
        if unknown or (genres and not genre_artists):
            raise UnknownSeedError(", ".join(unknown) or ", ".join(genres))
        pool = list(tracks)
        for artist_id in [*artists, *genre_artists]:
            pool.extend(self.tracks_of_artist(artist_id))
        return pool

    def _centroid(self, track_ids: list[str]) -> dict[str, float]:
        if not track_ids:
            raise UnknownSeedError("no seeds")
        return {
            name: sum(float(self.features[t][name]) for t in track_ids) / len(track_ids)
            for name in _SIMILARITY
        }

    @staticmethod
    def _distance(
        centre: dict[str, float], features: dict[str, float | int] | dict[str, float]
    ) -> float:
        return math.sqrt(
            sum(((float(features[n]) - centre[n]) * scale) ** 2 for n, scale in _SIMILARITY.items())
        )
