"""The emulator's world as an evaluation corpus: every track styled by its artist's
archetype, each user's extended streaming history as dated plays, their saved tracks dated
by when they were saved, and their true styles."""

from __future__ import annotations

import datetime as dt

from jobs.clustering import CLUSTER_FEATURES
from jobs.recommend.csv_pool import build_csv_catalogue
from jobs.recommend.evaluation import Method, UserCase
from jobs.recommend.offline import Corpus, History
from spotify_emulator import EmulatedUser, World, generate_history

# Shorter plays are skips: a track the user turned away is no hit, and the evaluation over
# the database (db.evaluation_data) leaves them out the same way.
SKIP_MS = 30_000


def world_corpus(world: World, entries: int) -> Corpus:
    """The corpus of `world`; each user's history holds `entries` rows over a year."""
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
    histories = [_history(world, user, entries) for user in world.users]
    return Corpus(build_csv_catalogue(rows), histories)


def _history(world: World, user: EmulatedUser, entries: int) -> History:
    export = generate_history(world, user.id, years=1.0, entries=entries)
    events = [
        (row["spotify_track_uri"].rsplit(":", 1)[1], _when(row["ts"]))
        for row in export.audio
        if row.get("spotify_track_uri") and (row.get("ms_played") or 0) >= SKIP_MS
    ]
    # A real user's data has their library too (/me/tracks, with added_at), and the evaluation
    # over this instance's database reads saves as events: a track saved before the cut is
    # known to the user, so neither a pick nor a hidden track, for every method alike.
    events += [(track_id, user.saved_at[track_id]) for track_id in user.saved]
    return History(user.id, events, frozenset(user.archetypes))


def _when(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def spotify_method(world: World, k: int) -> Method:
    """What an extended-quota app's /recommendations answers, kept in Spotify's order."""

    def picks(case: UserCase) -> list[str]:
        seeds = list(dict.fromkeys(reversed(case.before)))[:5]
        return world.recommendations_for(seed_tracks=seeds, limit=k)

    return picks
