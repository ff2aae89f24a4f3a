"""A user's listening as Spotify reports it today: top items, recent plays, saved tracks."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from jobs.errors import first_error
from spotify_client import (
    RECENTLY_PLAYED,
    SAVED_TRACKS,
    TOP_ARTISTS,
    TOP_TRACKS,
    UserSession,
)
from spotify_models import TIME_RANGES, Artist, EpisodePlay, Play, SavedTrack, Skipped, Track

LISTENING_ENDPOINTS = frozenset({TOP_TRACKS, TOP_ARTISTS, RECENTLY_PLAYED, SAVED_TRACKS})
TOP_LIMIT = 50
SAVED_LIMIT = 200


@dataclasses.dataclass(frozen=True)
class Listening:
    top_tracks: dict[str, list[Track]]
    top_artists: dict[str, list[Artist]]
    recent: list[Play]
    # Saved tracks Spotify listed tonight (newest first), then those an earlier snapshot
    # already held, read from the catalogue instead of asked again.
    saved: list[SavedTrack]
    # Podcast plays: stored as episodes, never among the tracks below.
    episodes: list[EpisodePlay] = dataclasses.field(default_factory=list)
    # What Spotify sent that broke the contract (or was a local file), by endpoint and reason.
    skipped: Skipped = dataclasses.field(default_factory=Skipped)
    earlier_saved: list[Track] = dataclasses.field(default_factory=list)
    # Endpoints Spotify refused (403); each costs only its part of the snapshot.
    refused: frozenset[str] = frozenset()

    def tracks(self) -> list[Track]:
        """Every distinct track the user has, top tracks first."""
        return list({track.id: track for track in self._every(self.earlier_saved)}.values())

    def fetched_tracks(self) -> list[Track]:
        """The distinct tracks Spotify described tonight (the catalogue's are stored already)."""
        return list({track.id: track for track in self._every([])}.values())

    def saved_ids(self) -> list[str]:
        """The user's saved tracks, newest first."""
        every = [item.track.id for item in self.saved] + [t.id for t in self.earlier_saved]
        return list(dict.fromkeys(every))

    def _every(self, earlier: list[Track]) -> list[Track]:
        every = [t for ts in self.top_tracks.values() for t in ts]
        every += [play.track for play in self.recent] + [item.track for item in self.saved]
        return every + earlier

    def track_ids(self) -> list[str]:
        return [track.id for track in self.tracks()]

    def refused_everything(self) -> bool:
        """Whether Spotify refused every endpoint the snapshot reads (e.g. the user is not on a
        development-mode app's allow-list): then there is nothing to snapshot."""
        return self.refused >= LISTENING_ENDPOINTS

    def artists(self) -> list[Artist]:
        every = [a for artists in self.top_artists.values() for a in artists]
        return list({artist.id: artist for artist in every}.values())


async def fetch_listening(session: UserSession, earlier_saved: Sequence[Track] = ()) -> Listening:
    """Ask Spotify for everything at once; the client caps concurrency and honours limits.

    Saved tracks are listed only down to the first of `earlier_saved` (what an earlier
    snapshot held); those are kept after the new ones, up to SAVED_LIMIT in all.
    """
    known = frozenset(track.id for track in earlier_saved)
    try:
        async with asyncio.TaskGroup() as group:
            tracks = {r: group.create_task(session.top_tracks(r, TOP_LIMIT)) for r in TIME_RANGES}
            artists = {r: group.create_task(session.top_artists(r, TOP_LIMIT)) for r in TIME_RANGES}
            recent = group.create_task(session.recent_plays(TOP_LIMIT))
            saved = group.create_task(session.saved_tracks(SAVED_LIMIT, known))
    except ExceptionGroup as group:
        # The calls share one token: when one fails for the user (revoked, quota), all do.
        raise first_error(group) from None
    new = saved.result()
    fresh = {item.track.id for item in new}
    kept = [track for track in earlier_saved if track.id not in fresh]
    return Listening(
        top_tracks={r: task.result() for r, task in tracks.items()},
        top_artists={r: task.result() for r, task in artists.items()},
        recent=recent.result().music,
        saved=new,
        earlier_saved=kept[: max(0, SAVED_LIMIT - len(new))],
        episodes=recent.result().episodes,
        skipped=session.skipped,
        refused=frozenset(session.refused),
    )
