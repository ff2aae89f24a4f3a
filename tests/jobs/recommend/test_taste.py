"""The user's taste in numbers: artist affinity."""

from __future__ import annotations

from jobs.recommend.taste import artist_affinity, listening_rate, played_once


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


def test_listening_rate_is_plays_since_first_met_not_plays_alone() -> None:
    # "old" is on 5 of all 12 plays; "new", met at the 9th, on 3 of the last 4.
    plays = [["old"], ["x"], ["old"], ["x"], ["old"], ["x"], ["x"], ["old"]]
    plays += [["new"], ["new", "old"], ["x"], ["new"]]

    rate = listening_rate(plays)

    assert rate["new"] == 1.0  # 3 of 4
    assert rate["old"] == round((5 / 12) / (3 / 4), 6)
    assert rate["x"] == round((5 / 11) / (3 / 4), 6)


def test_played_once_counts_each_artists_records_heard_a_single_time() -> None:
    # "fan" plays one record again and again and met one other once; "wanderer" two once.
    plays = [("f1", "fan"), ("f1", "fan"), ("f2", "fan"), ("f1", "fan")]
    plays += [("w1", "wanderer"), ("w2", "wanderer")]

    assert played_once(plays) == {"fan": 1, "wanderer": 2}
    assert played_once([("f1", "fan"), ("f1", "fan")]) == {"fan": 0}
