"""Synthetic listeners: each likes two or three archetypes and mostly popular artists in them.

Picking favourites weighted by popularity makes users overlap (co-listening), and taking at
most half of each favourite's tracks leaves catalogue tracks a recommender can still offer.
"""

from __future__ import annotations

import datetime as dt
import random

from spotify_emulator.catalogue import Catalogue
from spotify_emulator.ids import hex_token, spotify_id
from spotify_emulator.model import ARCHETYPES, TIME_RANGES, EmulatedUser, Playlist

NAMES = ("Alice", "Bruno", "Chen", "Dara", "Emeka", "Freya")
COUNTRIES = ("GB", "BR", "TW", "IE", "NG", "SE")
FAVOURITES_PER_USER = 36
TOP_ARTISTS = 30
TOP_TRACKS = 60
RECENT_PLAYS = 50
SAVED_TRACKS = 40
PLAYLIST_TRACKS = 30


def _weighted_sample(
    rng: random.Random, items: list[str], weights: list[float], k: int
) -> list[str]:
    # Efraimidis-Spirakis: a weighted sample without replacement in one sort.
    keyed = sorted(zip(items, weights, strict=True), key=lambda p: -(rng.random() ** (1 / p[1])))
    return [item for item, _ in keyed[:k]]


def _ranked(rng: random.Random, scores: dict[str, float], spread: float, k: int) -> list[str]:
    if len(scores) > 8 * k:
        # Big worlds only (the default world's pools are smaller): noise rarely lifts an item
        # from outside the best 4k into the top k, so only those draw it.
        best = sorted(scores, key=lambda item: (-scores[item], item))[: 4 * k]
        scores = {item: scores[item] for item in best}
    noisy = {item: score + rng.gauss(0, spread) for item, score in scores.items()}
    return sorted(noisy, key=lambda item: (-noisy[item], item))[:k]


class _ListenerBuilder:
    """Builds one user from the catalogue with its own random stream."""

    def __init__(
        self,
        seed: int,
        index: int,
        catalogue: Catalogue,
        now: dt.datetime,
        favourites_per_archetype: int | None,
    ) -> None:
        self.seed, self.index, self.catalogue, self.now = seed, index, catalogue, now
        self.favourites_per_archetype = favourites_per_archetype
        self.rng = random.Random(f"listener:{seed}:{index}")

    def build(self) -> tuple[EmulatedUser, Playlist]:
        archetypes = self.rng.sample(ARCHETYPES, self.rng.choice((2, 3)))
        artist_scores = self._favourite_artists(archetypes)
        track_scores = self._track_pool(artist_scores)
        name = NAMES[self.index % len(NAMES)]
        playlist = self._playlist(name, track_scores)
        user = EmulatedUser(
            id=f"{name.lower()}.{self.index}",
            account_id=spotify_id(self.seed, "account", self.index),
            display_name=name,
            email=f"{name.lower()}@example.invalid",
            country=COUNTRIES[self.index % len(COUNTRIES)],
            product="premium",
            refresh_token=f"AQ{hex_token(self.seed, f'refresh:{self.index}', 62)}",
            archetypes=archetypes,
            top_artists={
                r: _ranked(self.rng, artist_scores, 0.15, TOP_ARTISTS) for r in TIME_RANGES
            },
            top_tracks={r: _ranked(self.rng, track_scores, 0.15, TOP_TRACKS) for r in TIME_RANGES},
            recent=self._recent(track_scores),
            saved=(saved := self.rng.sample(sorted(track_scores), SAVED_TRACKS)),
            saved_at={t: self.now - dt.timedelta(days=3 * i + 1) for i, t in enumerate(saved)},
            playlist_id=playlist.id,
            favourites=artist_scores,
        )
        return user, playlist

    def _favourite_artists(self, archetypes: list[str]) -> dict[str, float]:
        if self.favourites_per_archetype is None:
            chosen = self._sample(archetypes, FAVOURITES_PER_USER)
        else:
            # A fixed number per liked style, so a big world can make each a known minority.
            chosen = [
                a for s in archetypes for a in self._sample([s], self.favourites_per_archetype)
            ]
        return {artist_id: self.rng.random() for artist_id in chosen}

    def _sample(self, archetypes: list[str], count: int) -> list[str]:
        artists = [a for a in self.catalogue.artists.values() if a.archetype in archetypes]
        weights = [float(a.popularity**2) for a in artists]
        return _weighted_sample(self.rng, [a.id for a in artists], weights, count)

    def _track_pool(self, artist_scores: dict[str, float]) -> dict[str, float]:
        pool: dict[str, float] = {}
        for artist_id, score in artist_scores.items():
            tracks = self._catalogue_of(artist_id)
            for track_id in self.rng.sample(tracks, min(len(tracks) // 2, 4)):
                pool[track_id] = score + self.rng.random() * 0.5
        return pool

    def _catalogue_of(self, artist_id: str) -> list[str]:
        albums = self.catalogue.artists[artist_id].album_ids
        return [t for album in albums for t in self.catalogue.albums[album].track_ids]

    def _recent(self, track_scores: dict[str, float]) -> list[tuple[str, dt.datetime]]:
        tracks = sorted(track_scores, key=lambda t: -track_scores[t])[:TOP_TRACKS]
        played_at = self.now - dt.timedelta(minutes=self.rng.randint(5, 90))
        plays = []
        for _ in range(RECENT_PLAYS):
            track_id = self.rng.choice(tracks)
            plays.append((track_id, played_at.replace(microsecond=self.rng.randrange(1000) * 1000)))
            gap = self.catalogue.tracks[track_id].duration_ms // 1000 + self.rng.randint(0, 30)
            if self.rng.random() < 0.1:
                gap += self.rng.randint(3600, 36_000)
            played_at -= dt.timedelta(seconds=gap)
        return plays

    def _playlist(self, name: str, track_scores: dict[str, float]) -> Playlist:
        tracks = self.rng.sample(sorted(track_scores), PLAYLIST_TRACKS)
        return Playlist(
            id=spotify_id(self.seed, "playlist", self.index),
            name=f"{name}'s mix",
            owner_id=f"{name.lower()}.{self.index}",
            description="Made in the emulator",
            track_ids=tracks,
            added_at={t: self.now - dt.timedelta(days=i + 2) for i, t in enumerate(tracks)},
        )


def build_listeners(
    seed: int,
    count: int,
    catalogue: Catalogue,
    now: dt.datetime,
    favourites_per_archetype: int | None = None,
) -> tuple[list[EmulatedUser], dict[str, Playlist]]:
    """Generate `count` users and their playlists.

    Each user likes FAVOURITES_PER_USER artists across their styles, or, when
    `favourites_per_archetype` is given, that many in each style they like.
    """
    users, playlists = [], {}
    for index in range(count):
        builder = _ListenerBuilder(seed, index, catalogue, now, favourites_per_archetype)
        user, playlist = builder.build()
        users.append(user)
        playlists[playlist.id] = playlist
    return users, playlists
