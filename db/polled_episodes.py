"""Polled podcast plays: episodes stored as episodes (never as tracks), each play once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from db.history_import import SAME_PLAY, store_shows
from db.models import Episode, EpisodePlay, Play, naive_utc
from spotify_models import EpisodePlay as SpotifyEpisodePlay


def _store_episodes(plays: Sequence[SpotifyEpisodePlay]) -> None:
    episodes = {play.episode.id: play.episode for play in plays}
    shows = store_shows(e.show_name for e in episodes.values() if e.show_name)
    rows = [
        {
            "id": episode.id,
            "name": episode.name,
            "uri": episode.uri or f"spotify:episode:{episode.id}",
            "show": shows.get(episode.show_name) if episode.show_name else None,
            "duration_ms": episode.duration_ms,
        }
        for episode in (episodes[key] for key in sorted(episodes))
    ]
    Episode.insert_many(rows).on_conflict_ignore().execute()


def _nearby(user_id: int, moments: Sequence[dt.datetime]) -> set[tuple[str, Any]]:
    query = EpisodePlay.select(EpisodePlay.episode, EpisodePlay.played_at).where(
        (EpisodePlay.user == user_id)
        & (EpisodePlay.played_at >= min(moments) - SAME_PLAY)
        & (EpisodePlay.played_at <= max(moments) + SAME_PLAY)
    )
    return set(cast(Iterable[tuple[str, Any]], query.tuples()))


def record_polled_episodes(user_id: int, plays: Sequence[SpotifyEpisodePlay]) -> int:
    """Store the episodes and their plays; a play already stored (polled, or imported within
    SAME_PLAY) is not stored again. Returns plays added."""
    if not plays:
        return 0
    _store_episodes(plays)
    moments = [naive_utc(play.played_at) for play in plays]
    stored = _nearby(user_id, moments)
    rows = [
        {"user": user_id, "episode": play.episode.id, "played_at": at, "origin": Play.POLLED}
        for play, at in zip(plays, moments, strict=True)
        if not any(e == play.episode.id and abs(when - at) <= SAME_PLAY for e, when in stored)
    ]
    if rows:
        EpisodePlay.insert_many(rows).on_conflict_ignore().execute()
    return len(rows)
