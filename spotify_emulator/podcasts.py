"""Podcasts and local files: what a listener plays besides the catalogue's tracks.

Drawn from random streams of their own, so adding them left the catalogue and the
listeners of every seed exactly as they were.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from spotify_emulator.catalogue import WORDS
from spotify_emulator.ids import fraction, spotify_id
from spotify_emulator.model import EmulatedUser, Episode, LocalTrack, Show

SHOWS = 8
VIDEO_SHOWS = 2  # the last ones; their plays go to the Video export
LOCAL_FILES = 24
SHOWS_PER_USER = 3
_TOPICS = ("History", "Science", "Comedy", "True Crime", "Football", "Design", "Cooking", "Film")


@dataclasses.dataclass
class Podcasts:
    """The world's shows, their episodes and the local files its listeners own."""

    shows: dict[str, Show]
    episodes: dict[str, Episode]
    local_files: dict[str, LocalTrack]


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _show(
    rng: random.Random, seed: int, number: int, now: dt.datetime
) -> tuple[Show, list[Episode]]:
    topic = _TOPICS[number % len(_TOPICS)]
    show = Show(
        id=spotify_id(seed, "show", number),
        name=f"The {_words(rng, 1)} {topic} Hour",
        publisher=f"{_words(rng, 1)} Audio",
        description=f"Conversations about {topic.lower()}.",
        media_type="video" if number >= SHOWS - VIDEO_SHOWS else "audio",
    )
    episodes = []
    released = now - dt.timedelta(days=7 * rng.randint(20, 60))
    for index in range(rng.randint(15, 40)):
        episode = Episode(
            id=spotify_id(seed, "episode", number * 1000 + index),
            name=f"{index + 1}. {_words(rng, rng.randint(2, 4))}",
            show_id=show.id,
            description=f"Episode {index + 1} of {show.name}.",
            duration_ms=rng.randint(20, 90) * 60_000 + rng.randrange(60_000),
            release_date=released.date().isoformat(),
            explicit=rng.random() < 0.2,
        )
        show.episode_ids.append(episode.id)
        episodes.append(episode)
        released += dt.timedelta(days=7)
    return show, episodes


def _local_file(rng: random.Random, number: int) -> LocalTrack:
    return LocalTrack(
        key=f"local:{number}",
        name=f"{_words(rng, rng.randint(1, 3))} (demo)",
        artist=f"{_words(rng, 2)} Band",
        album=f"Home Recordings {number % 5 + 1}",
        duration_ms=rng.randint(90, 400) * 1000,
    )


def build_podcasts(seed: int, now: dt.datetime) -> Podcasts:
    """Generate the shows, episodes and local files for a seed."""
    rng = random.Random(f"podcasts:{seed}")
    podcasts = Podcasts({}, {}, {})
    for number in range(SHOWS):
        show, episodes = _show(rng, seed, number, now)
        podcasts.shows[show.id] = show
        podcasts.episodes.update((e.id, e) for e in episodes)
    for number in range(LOCAL_FILES):
        local = _local_file(rng, number)
        podcasts.local_files[local.key] = local
    return podcasts


def assign_shows(seed: int, users: list[EmulatedUser], shows: dict[str, Show]) -> None:
    """Give each user two audio shows and a video one (a stable hash, so no other draw moves)."""
    for user in users:
        ranked = sorted(shows, key=lambda show_id: fraction(seed, "follows", user.id, show_id))
        audio = [s for s in ranked if shows[s].media_type == "audio"]
        video = [s for s in ranked if shows[s].media_type == "video"]
        user.show_ids = [*audio[: SHOWS_PER_USER - 1], *video[:1]]
