"""The emulator's world as an evaluation corpus: every track, each user's dated events and
true styles (the archetypes the world drew their taste from)."""

from __future__ import annotations

import datetime as dt

from jobs.clustering import CLUSTER_FEATURES
from jobs.recommend.csv_pool import build_csv_catalogue
from jobs.recommend.evaluation import Method, UserCase
from jobs.recommend.offline import Corpus, History
from spotify_emulator import EmulatedUser, World


def world_corpus(world: World) -> Corpus:
    """Tracks styled by their main artist's archetype; plays, saves and playlist adds dated."""
    rows = (
        (
            track.id,
            tuple(world.artists[a].name for a in track.artist_ids),
            world.artists[track.artist_ids[0]].archetype,
            track.popularity,
            [float(world.features[track.id][name]) for name in CLUSTER_FEATURES],
        )
        for track in world.tracks.values()
    )
    return Corpus(build_csv_catalogue(rows), [_history(world, user) for user in world.users])


def _history(world: World, user: EmulatedUser) -> History:
    events: list[tuple[str, dt.datetime]] = list(user.recent)
    events += [(t, user.saved_at[t]) for t in user.saved]
    playlist = world.playlists.get(user.playlist_id)
    if playlist is not None:
        events += [(t, playlist.added_at[t]) for t in playlist.track_ids]
    return History(user.id, events, frozenset(user.archetypes))


def spotify_method(world: World, k: int) -> Method:
    """What an extended-quota app's /recommendations answers, kept in Spotify's order."""

    def picks(case: UserCase) -> list[str]:
        seeds = list(dict.fromkeys(reversed(case.before)))[:5]
        return world.recommendations_for(seed_tracks=seeds, limit=k)

    return picks
