"""The user's taste in numbers: artist affinity."""

from __future__ import annotations

from jobs.recommend.taste import artist_affinity


def test_short_term_rank_weighs_most_and_max_is_one() -> None:
    affinity = artist_affinity({"short_term": ["a", "b", "c"], "medium_term": ["c", "b", "a"]}, [])

    assert max(affinity.values()) == 1.0
    assert affinity["a"] > affinity["b"] > affinity["c"]


def test_frequency_in_the_users_tracks_counts() -> None:
    affinity = artist_affinity({"short_term": ["x", "y"]}, [["y"], ["y", "z"], ["y"], ["y", "y"]])

    assert affinity["y"] == 1.0
    assert affinity["y"] > affinity["x"] > affinity["z"] > 0


def test_nothing_known_gives_nothing() -> None:
    assert artist_affinity({}, []) == {}
