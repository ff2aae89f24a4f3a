"""The benchmark's evaluation corpus holds what a real user's data holds, dated."""

from __future__ import annotations

import datetime as dt

from bench.recommend_world import world_corpus
from jobs.recommend.evaluation import split_history
from spotify_emulator import World


def test_each_users_saves_are_events_dated_when_saved() -> None:
    world = World.generate(seed=7, users=2)
    corpus = world_corpus(world, entries=60)
    for user, history in zip(world.users, corpus.histories, strict=True):
        assert set(user.saved) <= {track for track, _ in history.events}
        assert {(t, user.saved_at[t]) for t in user.saved} <= set(history.events)


def test_a_track_saved_before_the_cut_is_known_not_hidden() -> None:
    world = World.generate(seed=7, users=1)
    history = world_corpus(world, entries=60).histories[0]
    user = world.users[0]
    cut = world.now - dt.timedelta(days=60)
    saved_before = {t for t in user.saved if user.saved_at[t] < cut}
    assert saved_before
    before, hidden = split_history(history, cut)
    assert saved_before <= set(before)
    assert not saved_before & hidden
