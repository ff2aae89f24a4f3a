"""The emulated world: a catalogue, its listeners and the truths tests check answers against."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping

import numpy as np

from spotify_emulator.catalogue import ARTISTS_PER_ARCHETYPE, build_catalogue
from spotify_emulator.ids import fraction, hex_token, reccobeats_id
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
    def generate(
        cls,
        seed: int = 7,
        users: int = 6,
        now: dt.datetime = DEFAULT_NOW,
        *,
        artists_per_archetype: int = ARTISTS_PER_ARCHETYPE,
        favourites_per_archetype: int | None = None,
    ) -> World:
        """Build the world for a seed; `now` anchors play and save timestamps.

        The defaults give the small world tests and the demo know. For a recommender's
        evaluation, e.g. `artists_per_archetype=300, favourites_per_archetype=130` makes each
        user know a minority of every style they like.
        """
        if artists_per_archetype < 1 or users < 1:
            raise ValueError("a world needs at least one user and one artist per archetype")
        if favourites_per_archetype is not None and not (
            1 <= favourites_per_archetype <= artists_per_archetype
        ):
            raise ValueError("favourites_per_archetype must be between 1 and artists_per_archetype")
        catalogue = build_catalogue(seed, artists_per_archetype)
        listeners, playlists = build_listeners(
            seed, users, catalogue, now, favourites_per_archetype
        )
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

    def artists_of_archetype(self, archetype: str) -> list[str]:
        """Every artist of one sound archetype (a "style"), in id order of creation."""
        return [a.id for a in self.artists.values() if a.archetype == archetype]

    def archetype_of_track(self, track_id: str) -> str:
        """The style a track belongs to: its album artist's archetype."""
        return self.artists[self.tracks[track_id].artist_ids[0]].archetype

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

    def reccobeats_recommendations_for(
        self,
        seeds: Iterable[str],
        size: int = 10,
        coverage: float = 1.0,
        targets: Mapping[str, float] | None = None,
    ) -> list[str]:
        """Tracks ReccoBeats knows nearest the seeds' sound (Spotify or ReccoBeats ids).

        What `/track/recommendation` answers: seeds it does not know are ignored, the seeds
        themselves never come back, `targets` (feature: value) override the seeds' centre,
        and no artist fills more than two places. The seeds' own artists are allowed.
        """
        known = self._reccobeats_known(coverage)
        seed_ids = [t for t in (self._from_reccobeats(s) for s in seeds) if t and known[t]]
        if not seed_ids:
            return []
        ids, matrix = self._feature_matrix
        centre = matrix[[self._track_index[t] for t in seed_ids]].mean(axis=0)
        for name, value in (targets or {}).items():
            if name not in _SIMILARITY:
                continue
            position = list(_SIMILARITY).index(name)
            centre[position] = value * _SIMILARITY[name]
        distances = np.sqrt(((matrix - centre) ** 2).sum(axis=1))
        picks: list[str] = []
        per_artist: dict[str, int] = {}
        for index in np.argsort(distances, kind="stable"):
            track_id = ids[index]
            artist = self.tracks[track_id].artist_ids[0]
            if track_id in seed_ids or not known[track_id] or per_artist.get(artist, 0) >= 2:
                continue
            per_artist[artist] = per_artist.get(artist, 0) + 1
            picks.append(track_id)
            if len(picks) == size:
                break
        return picks

    @functools.cached_property
    def _feature_matrix(self) -> tuple[list[str], np.ndarray]:
        ids = list(self.tracks)
        rows = [[float(self.features[t][n]) * s for n, s in _SIMILARITY.items()] for t in ids]
        return ids, np.array(rows)

    @functools.cached_property
    def _track_index(self) -> dict[str, int]:
        return {track_id: index for index, track_id in enumerate(self.tracks)}

    @functools.cached_property
    def _reccobeats_ids(self) -> dict[str, str]:
        return {reccobeats_id(track_id): track_id for track_id in self.tracks}

    @functools.cached_property
    def _known_by_coverage(self) -> dict[float, dict[str, bool]]:
        return {}

    def _reccobeats_known(self, coverage: float) -> dict[str, bool]:
        # Hashing every track per request would dominate; a coverage's answer never changes.
        cache = self._known_by_coverage
        if coverage not in cache:
            cache[coverage] = {t: self.reccobeats_knows(t, coverage) for t in self.tracks}
        return cache[coverage]

    def _from_reccobeats(self, seed: str) -> str | None:
        if seed in self.tracks:
            return seed
        return self._reccobeats_ids.get(seed)

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
