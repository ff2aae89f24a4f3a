"""The synthetic catalogue: artists around four sound archetypes, their albums and tracks.

Audio features are drawn around each archetype's centre (with a per-artist offset), so
K-means on the features recovers the archetypes, as it would on real listening data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from spotify_emulator.ids import spotify_id
from spotify_emulator.model import ARCHETYPES, FEATURE_NAMES, Album, Artist, Track

ARTISTS_PER_ARCHETYPE = 60

# Centres of the continuous features, then (tempo mean, loudness mean, explicit share).
_CENTRES: dict[str, dict[str, float]] = {
    "acoustic": {
        "danceability": 0.45,
        "energy": 0.25,
        "speechiness": 0.04,
        "acousticness": 0.85,
        "instrumentalness": 0.05,
        "liveness": 0.12,
        "valence": 0.40,
        "tempo": 96.0,
        "loudness": -12.0,
        "explicit": 0.02,
    },
    "dance": {
        "danceability": 0.80,
        "energy": 0.85,
        "speechiness": 0.06,
        "acousticness": 0.05,
        "instrumentalness": 0.08,
        "liveness": 0.15,
        "valence": 0.70,
        "tempo": 124.0,
        "loudness": -5.0,
        "explicit": 0.10,
    },
    "rap": {
        "danceability": 0.74,
        "energy": 0.62,
        "speechiness": 0.35,
        "acousticness": 0.12,
        "instrumentalness": 0.01,
        "liveness": 0.20,
        "valence": 0.50,
        "tempo": 92.0,
        "loudness": -6.5,
        "explicit": 0.70,
    },
    "ambient": {
        "danceability": 0.25,
        "energy": 0.15,
        "speechiness": 0.04,
        "acousticness": 0.88,
        "instrumentalness": 0.85,
        "liveness": 0.10,
        "valence": 0.15,
        "tempo": 75.0,
        "loudness": -22.0,
        "explicit": 0.0,
    },
}

GENRES = {
    "acoustic": ["folk", "acoustic", "singer-songwriter", "indie folk", "americana"],
    "dance": ["dance", "edm", "house", "electro pop", "disco"],
    "rap": ["hip hop", "rap", "trap", "grime", "boom bap"],
    "ambient": ["ambient", "classical", "new age", "drone", "minimal"],
}

WORDS = (  # noqa: SIM905 (a word list reads better as prose)
    "Velvet Harbor Neon Echo Paper Moon Silver River Golden Static Quiet Thunder "
    "Glass Garden Midnight Signal Hollow Pine Electric Honey Broken Compass Crimson "
    "Tide Lunar Orchard Distant Fire Wild Lantern Northern Lights Concrete Bloom "
    "Saffron Coast Iron Feather Winter Parade Ocean Drive Cosmic Dust Amber Waves "
    "Shadow Atlas Mirror Lake"
).split()
_PREFIX = {"acoustic": "", "dance": "DJ ", "rap": "MC ", "ambient": ""}
_CONTINUOUS = (
    "danceability",
    "energy",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
)


@dataclasses.dataclass
class Catalogue:
    """Everything a world holds apart from its listeners."""

    artists: dict[str, Artist]
    albums: dict[str, Album]
    tracks: dict[str, Track]
    features: dict[str, dict[str, float | int]]


def _name(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return round(min(high, max(low, value)), 4)


def _features(
    rng: random.Random, centre: dict[str, float], offset: float
) -> dict[str, float | int]:
    features: dict[str, float | int] = {
        name: _clamp(rng.gauss(centre[name] + offset, 0.07)) for name in _CONTINUOUS
    }
    features["key"] = rng.randrange(12)
    features["mode"] = int(rng.random() < 0.6)
    features["loudness"] = round(min(0.0, rng.gauss(centre["loudness"], 2.0)), 3)
    features["tempo"] = round(max(50.0, rng.gauss(centre["tempo"], 8.0)), 3)
    features["time_signature"] = 3 if rng.random() < 0.08 else 4
    return {name: features[name] for name in FEATURE_NAMES}


def _artist(rng: random.Random, seed: int, number: int, archetype: str) -> Artist:
    popularity = int(min(95, max(5, rng.gauss(50, 20))))
    return Artist(
        id=spotify_id(seed, "artist", number),
        name=f"{_PREFIX[archetype]}{_name(rng, rng.choice((1, 2, 2)))} {number}",
        genres=rng.sample(GENRES[archetype], rng.randint(1, 3)),
        popularity=popularity,
        followers=popularity**3 * 7 + rng.randrange(1000),
        archetype=archetype,
    )


def _album(rng: random.Random, seed: int, number: int, artist: Artist, size: int) -> Album:
    released = dt.date(2005, 1, 1) + dt.timedelta(days=rng.randrange(7300))
    return Album(
        id=spotify_id(seed, "album", number),
        name=_name(rng, rng.randint(1, 3)),
        artist_ids=[artist.id],
        release_date=released.isoformat(),
        album_type="album" if size >= 6 else "single",
        label=f"{rng.choice(WORDS)} Records",
        popularity=max(0, min(100, artist.popularity + rng.randint(-10, 10))),
        upc=f"{seed % 1000:03d}{number:09d}",
    )


class _Builder:
    """Accumulates the catalogue while numbering ids and ISRCs."""

    def __init__(self, seed: int, artists_per_archetype: int) -> None:
        self.seed = seed
        self.artists_per_archetype = artists_per_archetype
        self.rng = random.Random(f"catalogue:{seed}")
        self.catalogue = Catalogue({}, {}, {}, {})
        self._peers: dict[str, list[str]] = {}

    def build(self) -> Catalogue:
        for index in range(self.artists_per_archetype * len(ARCHETYPES)):
            archetype = ARCHETYPES[index % len(ARCHETYPES)]
            artist = _artist(self.rng, self.seed, index, archetype)
            self.catalogue.artists[artist.id] = artist
        for artist in list(self.catalogue.artists.values()):
            for _ in range(self.rng.randint(2, 3)):
                self._add_album(artist)
        return self.catalogue

    def _add_album(self, artist: Artist) -> None:
        size = self.rng.randint(4, 9)
        album = _album(self.rng, self.seed, len(self.catalogue.albums), artist, size)
        artist.album_ids.append(album.id)
        self.catalogue.albums[album.id] = album
        offset = self.rng.gauss(0.0, 0.04)
        for position in range(1, size + 1):
            self._add_track(artist, album, position, offset)

    def _add_track(self, artist: Artist, album: Album, position: int, offset: float) -> None:
        number = len(self.catalogue.tracks)
        centre = _CENTRES[artist.archetype]
        track = Track(
            id=spotify_id(self.seed, "track", number),
            name=_name(self.rng, self.rng.randint(1, 3)),
            artist_ids=[artist.id, *self._featured(artist)],
            album_id=album.id,
            track_number=position,
            duration_ms=int(max(60_000, self.rng.gauss(210_000, 45_000))),
            explicit=self.rng.random() < centre["explicit"],
            popularity=max(0, min(100, album.popularity + self.rng.randint(-15, 15))),
            isrc=f"QZ{self.seed % 1000:03d}{album.release_date[2:4]}{number:05d}",
        )
        album.track_ids.append(track.id)
        self.catalogue.tracks[track.id] = track
        self.catalogue.features[track.id] = _features(self.rng, centre, offset)

    def _featured(self, artist: Artist) -> list[str]:
        if self.rng.random() >= 0.1:
            return []
        peers = self._peers.get(artist.archetype)
        if peers is None:  # listed once per archetype: a big world has thousands of guests
            peers = [
                a.id for a in self.catalogue.artists.values() if a.archetype == artist.archetype
            ]
            self._peers[artist.archetype] = peers
        guest = self.rng.choice(peers)
        return [] if guest == artist.id else [guest]


def build_catalogue(seed: int, artists_per_archetype: int = ARTISTS_PER_ARCHETYPE) -> Catalogue:
    """Generate the catalogue for a seed; the same seed gives the same catalogue."""
    return _Builder(seed, artists_per_archetype).build()
