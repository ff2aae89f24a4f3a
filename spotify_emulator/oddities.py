"""Odd items Spotify really mixes into a user's lists: local files and podcast episodes.

Switched on by `Faults.local_files` and `Faults.episodes`. Each odd item lands at a fixed
place between the generated ones, with a time between its neighbours', so lists stay ordered
and tests can predict where to look.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from spotify_emulator.model import EmulatedUser, Playlist
from spotify_emulator.world import World

Item = tuple[str, dt.datetime]  # (track id, episode id or local-file key; when)

_SAVED_LOCAL_AT = (1, 17, 33)
_RECENT_LOCAL_AFTER = (2, 9)
_RECENT_EPISODE_AFTER = (4, 14)
_PLAYLIST_LOCAL_AT = 3
_PLAYLIST_EPISODE_AT = 7


def _between(earlier: dt.datetime, later: dt.datetime) -> dt.datetime:
    return earlier + (later - earlier) / 2


@dataclasses.dataclass(frozen=True)
class Oddities:
    """Which odd items the emulator mixes in; the default is none."""

    local_files: bool = False
    episodes: bool = False

    def saved(self, world: World, user: EmulatedUser) -> list[Item]:
        """The user's library, newest first, with local files if switched on."""
        items = [(track, user.saved_at[track]) for track in user.saved]
        if self.local_files:
            for number, at in enumerate(_SAVED_LOCAL_AT):
                when = _between(items[at][1], items[at - 1][1])
                items.insert(at, (local_file_of(world, user, number), when))
        return items

    def plays(self, world: World, user: EmulatedUser, plays: list[Item]) -> list[Item]:
        """`plays` (newest first) with local files and episodes placed among the generated ones."""
        extra: list[Item] = []
        recent = user.recent
        if self.local_files:
            for number, at in enumerate(_RECENT_LOCAL_AFTER):
                when = _between(recent[at + 1][1], recent[at][1])
                extra.append((local_file_of(world, user, number), when))
        if self.episodes:
            for number, at in enumerate(_RECENT_EPISODE_AFTER):
                when = _between(recent[at + 1][1], recent[at][1])
                extra.append((episode_of(world, user, number), when))
        return sorted([*plays, *extra], key=lambda play: play[1], reverse=True)

    def playlist(self, world: World, playlist: Playlist) -> list[Item]:
        """The playlist's items in order, with a local file and an episode if switched on."""
        items = [(track, playlist.added_at[track]) for track in playlist.track_ids]
        owner = world.user(playlist.owner_id)
        odd = []
        if self.local_files:
            odd.append((_PLAYLIST_LOCAL_AT, local_file_of(world, owner, 0)))
        if self.episodes:
            odd.append((_PLAYLIST_EPISODE_AT, episode_of(world, owner, 0)))
        for at, key in odd:  # ascending places, so each lands where its constant says
            items.insert(at, (key, _between(items[at][1], items[at - 1][1])))
        return items


def local_file_of(world: World, user: EmulatedUser, number: int) -> str:
    """The key of the user's `number`th local file."""
    keys = list(world.local_files)
    return keys[(3 * world.users.index(user) + number) % len(keys)]


def episode_of(world: World, user: EmulatedUser, number: int) -> str:
    """An episode of one of the shows the user follows."""
    show = world.shows[user.show_ids[number % len(user.show_ids)]]
    return show.episode_ids[-1 - number]
