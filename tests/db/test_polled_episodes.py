"""Polled podcast plays: each episode under the one show of its name, however it arrived."""

from __future__ import annotations

import datetime as dt

from db.database import Database
from db.history_import import store_exported_plays
from db.models import Episode, EpisodePlay, Show
from db.polled_episodes import record_polled_episodes
from spotify_models import Episode as SpotifyEpisode
from spotify_models import EpisodePlay as SpotifyEpisodePlay
from streaming_history import ExportedPlay
from tests.factories import make_user

IMPORTED = "0Q86acNRm6V9GYx55SXKwf"
POLLED = "512ojhOuo1ktJprKbVcKyQ"


def _polled(episode_id: str, show: str | None, minute: int) -> SpotifyEpisodePlay:
    episode = SpotifyEpisode(episode_id, "Episode", None, 1_800_000, None, show)
    return SpotifyEpisodePlay(episode, dt.datetime(2026, 11, 20, 9, minute, tzinfo=dt.UTC))


def test_a_show_known_from_an_import_is_the_show_a_poll_files_its_episodes_under(
    database: Database,
) -> None:
    user_id = database.run_sync(make_user, "ann").id
    ended = dt.datetime(2026, 11, 19, 8, 0)
    exported = ExportedPlay("episode", IMPORTED, ended, 1_700_000, "Old", "Morning Talk", None)
    database.run_sync(store_exported_plays, user_id, [exported])

    plays = [_polled(POLLED, "Morning Talk", 0), _polled("x" * 22, None, 30)]
    assert database.run_sync(record_polled_episodes, user_id, plays) == 2

    def shows_of_episodes() -> tuple[list[str], dict[str, str | None]]:
        names = [show.name for show in Show.select()]
        episodes = {e.id: e.show.name if e.show else None for e in Episode.select()}
        return names, episodes

    names, episodes = database.run_sync(shows_of_episodes)
    assert names == ["Morning Talk"]
    assert episodes == {IMPORTED: "Morning Talk", POLLED: "Morning Talk", "x" * 22: None}
    assert database.run_sync(EpisodePlay.select().count) == 3
