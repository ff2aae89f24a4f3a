"""A user's listening as Spotify reports it today: top items, recent plays, saved tracks."""

from __future__ import annotations

import asyncio
import dataclasses

from jobs.errors import first_error
from spotify_client import UserSession
from spotify_models import TIME_RANGES, Artist, EpisodePlay, Play, SavedTrack, Skipped, Track

TOP_LIMIT = 50
SAVED_LIMIT = 200


@dataclasses.dataclass(frozen=True)
class Listening:
    top_tracks: dict[str, list[Track]]
    top_artists: dict[str, list[Artist]]
    recent: list[Play]
    saved: list[SavedTrack]
    # Podcast plays: stored as episodes, never among the tracks below.
    episodes: list[EpisodePlay] = dataclasses.field(default_factory=list)
    # What Spotify sent that broke the contract (or was a local file), by endpoint and reason.
    skipped: Skipped = dataclasses.field(default_factory=Skipped)

    def tracks(self) -> list[Track]:
        """Every distinct track the user has, top tracks first."""
        every = [t for ts in self.top_tracks.values() for t in ts]
        every += [play.track for play in self.recent] + [item.track for item in self.saved]
        return list({track.id: track for track in every}.values())

    def track_ids(self) -> list[str]:
        return [track.id for track in self.tracks()]

    def artists(self) -> list[Artist]:
        every = [a for artists in self.top_artists.values() for a in artists]
        return list({artist.id: artist for artist in every}.values())


async def fetch_listening(session: UserSession) -> Listening:
    """Ask Spotify for everything at once; the client caps concurrency and honours limits."""
    try:
        async with asyncio.TaskGroup() as group:
            tracks = {r: group.create_task(session.top_tracks(r, TOP_LIMIT)) for r in TIME_RANGES}
            artists = {r: group.create_task(session.top_artists(r, TOP_LIMIT)) for r in TIME_RANGES}
            recent = group.create_task(session.recent_plays(TOP_LIMIT))
            saved = group.create_task(session.saved_tracks(SAVED_LIMIT))
    except ExceptionGroup as group:
        # The calls share one token: when one fails for the user (revoked, quota), all do.
        raise first_error(group) from None
    return Listening(
        top_tracks={r: task.result() for r, task in tracks.items()},
        top_artists={r: task.result() for r, task in artists.items()},
        recent=recent.result().music,
        saved=saved.result(),
        episodes=recent.result().episodes,
        skipped=session.skipped,
    )
