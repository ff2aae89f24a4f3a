"""Ranking of the local recommender: exclusions, merging, scores, discovery, spread, reasons."""

from __future__ import annotations

import dataclasses
from collections.abc import Set as AbstractSet
from typing import Any

import pytest

from jobs.clustering import CLUSTER_FEATURES, Clustering, ClusterSummary
from jobs.recommend.protocol import Candidate
from jobs.recommend.ranking import Pick, RankingOptions, rank_candidates
from jobs.recommend.taste import TasteSpace

CALM = {
    "danceability": 0.3,
    "energy": 0.2,
    "loudness": -14.0,
    "speechiness": 0.04,
    "acousticness": 0.9,
    "instrumentalness": 0.1,
    "liveness": 0.1,
    "valence": 0.3,
    "tempo": 85.0,
}
LOUD = CALM | {"danceability": 0.8, "energy": 0.9, "loudness": -4.0, "acousticness": 0.05}
MIDDLE = {name: (CALM[name] + LOUD[name]) / 2 for name in CLUSTER_FEATURES}


def user_tracks() -> dict[str, dict[str, float]]:
    """Twelve calm tracks and four loud ones, with a little spread."""
    tracks = {}
    for i in range(12):
        tracks[f"calm{i}"] = CALM | {"tempo": 80.0 + i, "valence": 0.25 + i / 100}
    for i in range(4):
        tracks[f"loud{i}"] = LOUD | {"tempo": 125.0 + i, "valence": 0.3 + i / 100}
    return tracks


def clustering_of(tracks: dict[str, dict[str, float]]) -> Clustering:
    calm = [t for t in tracks if t.startswith("calm")]
    loud = [t for t in tracks if t.startswith("loud")]

    def summary(label: str, ids: list[str]) -> ClusterSummary:
        centroid = {n: sum(tracks[t][n] for t in ids) / len(ids) for n in CLUSTER_FEATURES}
        return ClusterSummary(label, len(ids), centroid, tuple(ids))

    return Clustering(
        (summary("acoustic · mellow", calm), summary("high energy · loud", loud)), None
    )


def artist(
    track_id: str, artist_id: str, name: str = "", features: dict[str, float] | None = None
) -> Candidate:
    name = name or artist_id
    return Candidate(track_id, (artist_id,), (name,), "artists", name, features=features)


def unplayed(prefix: str, artist_id: str, count: int, share: float) -> list[Candidate]:
    """`count` calm tracks of one known artist, each weighing `share` of what is left."""
    return [
        dataclasses.replace(artist(f"{prefix}{i}", artist_id, features=CALM), artist_share=share)
        for i in range(count)
    ]


def co_listened(track_id: str, artist_id: str, song: str, support: float = 1.0) -> Candidate:
    return Candidate(track_id, (artist_id,), (artist_id,), "co-listeners", song, support)


def rank(
    candidates: list[Candidate],
    *,
    exclude: AbstractSet[str] = frozenset(),
    clustering: Clustering | None = None,
    user_features: dict[str, dict[str, float]] | None = None,
    affinity: dict[str, float] | None = None,
    known_names: frozenset[str] = frozenset(),
    **options: Any,
) -> list[Pick]:
    return rank_candidates(
        candidates,
        exclude=exclude,
        space=TasteSpace(clustering, user_features or {}),
        affinity=affinity or {},
        known_names=known_names,
        options=RankingOptions(**options),
    )


def test_excluded_tracks_never_picked() -> None:
    candidates = [artist(f"t{i}", f"a{i}") for i in range(6)]

    picks = rank(candidates, exclude={"t1", "t3"})

    assert {p.track_id for p in picks} == {"t0", "t2", "t4", "t5"}


def test_duplicates_merge_with_summed_support_and_best_reason() -> None:
    candidates = [
        artist("dup", "a1", "Nina Simone"),
        co_listened("dup", "a1", "Song X", support=3.0),
        co_listened("other", "a2", "Song Y", support=3.5),
    ]

    picks = rank(candidates, affinity={"a1": 0.5, "a2": 0.5})

    # 1 + 3 co-listeners beat 3.5; alone, "dup" (3) would have lost.
    assert [p.track_id for p in picks] == ["dup", "other"]
    assert picks[0].reason == (
        "because you listen to Nina Simone; listeners of 'Song X' also play it"
    )
    assert picks[0].source == "artists"


def test_merge_keeps_features_from_any_origin() -> None:
    tracks = user_tracks()
    candidates = [
        artist("dup", "a1", "Nina Simone"),
        co_listened("dup", "a1", "Song X"),
        artist("dup", "a1", "Nina Simone", features=CALM),
    ]

    picks = rank(candidates, clustering=clustering_of(tracks), user_features=tracks)

    assert len(picks) == 1
    assert picks[0].reason.startswith("new to you: sounds like your 'acoustic · mellow' mix")


def test_merged_support_lifts_a_track() -> None:
    alone = co_listened("alone", "a1", "Song X", support=2.0)
    twice = [co_listened("twice", "a2", "Song Y"), co_listened("twice", "a2", "Song Z", 1.5)]

    picks = rank([alone, *twice])

    assert [p.track_id for p in picks] == ["twice", "alone"]


def test_without_features_ranked_by_affinity() -> None:
    candidates = [artist("t-low", "low"), artist("t-high", "high"), artist("t-mid", "mid")]

    picks = rank(candidates, affinity={"low": 0.1, "mid": 0.5, "high": 1.0})

    assert [p.track_id for p in picks] == ["t-high", "t-mid", "t-low"]


def test_ties_broken_by_track_id() -> None:
    candidates = [artist(t, f"a-{t}") for t in ("c", "a", "b")]

    assert [p.track_id for p in rank(candidates)] == ["a", "b", "c"]


def test_closer_to_a_cluster_ranks_higher() -> None:
    tracks = user_tracks()
    candidates = [
        artist("far", "a1", features=MIDDLE | {"tempo": 200.0}),
        artist("close", "a2", features=CALM | {"tempo": 86.0}),
        artist("middle", "a3", features=MIDDLE),
    ]

    picks = rank(candidates, clustering=clustering_of(tracks), user_features=tracks)

    assert [p.track_id for p in picks] == ["close", "middle", "far"]


def test_bigger_cluster_weighs_more() -> None:
    tracks = user_tracks()
    clustering = clustering_of(tracks)
    candidates = [
        artist("like-the-few", "a1", features=clustering.clusters[1].centroid),
        artist("like-the-many", "a2", features=clustering.clusters[0].centroid),
    ]

    picks = rank(candidates, clustering=clustering, user_features=tracks)

    assert [p.track_id for p in picks] == ["like-the-many", "like-the-few"]


def test_features_ignored_without_clusters() -> None:
    candidates = [
        artist("fits", "a1", features=CALM),
        artist("liked", "a2", features=LOUD),
    ]

    picks = rank(candidates, affinity={"a2": 1.0, "a1": 0.2}, user_features=user_tracks())

    assert [p.track_id for p in picks] == ["liked", "fits"]
    assert "sounds like" not in picks[0].reason


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        pytest.param(
            artist("t", "a", "Nina Simone"), "because you listen to Nina Simone", id="artist"
        ),
        pytest.param(
            co_listened("t", "a", "Song X"), "listeners of 'Song X' also play it", id="co"
        ),
        pytest.param(
            artist("t", "a", "Nina Simone", features=CALM),
            "sounds like your 'acoustic · mellow' mix; because you listen to Nina Simone",
            id="artist-fits-cluster",
        ),
        pytest.param(
            artist("t", "a", "Nina Simone", features=MIDDLE | {"tempo": 300.0}),
            "because you listen to Nina Simone",
            id="far-from-every-cluster",
        ),
        pytest.param(
            Candidate("t", (), ("Newcomer",), "csv", "folk", features=CALM),
            "new to you: sounds like your 'acoustic · mellow' mix; "
            "a folk track from the wider catalogue",
            id="new-artist-from-the-csv",
        ),
        pytest.param(
            Candidate("t", (), ("Newcomer",), "csv", "indie folk", features=CALM),
            "new to you: sounds like your 'acoustic · mellow' mix; "
            "an indie folk track from the wider catalogue",
            id="an-before-a-vowel",
        ),
    ],
)
def test_reasons(candidate: Candidate, reason: str) -> None:
    tracks = user_tracks()

    picks = rank(
        [candidate], clustering=clustering_of(tracks), user_features=tracks, affinity={"a": 1.0}
    )

    assert [p.reason for p in picks] == [reason]


def test_at_most_cap_per_artist_while_others_remain() -> None:
    favourite = [artist(f"fav{i}", "fav") for i in range(5)]
    others = [artist(f"other{i}", f"o{i}") for i in range(3)]

    picks = rank(favourite + others, affinity={"fav": 1.0}, limit=5, per_artist_cap=2)

    assert {p.track_id for p in picks} == {"fav0", "fav1", "other0", "other1", "other2"}


def test_cap_relaxed_to_fill_the_limit() -> None:
    favourite = [artist(f"fav{i:02d}", "fav") for i in range(25)]
    others = [artist(f"other{i}", f"o{i}") for i in range(3)]

    picks = rank(favourite + others, affinity={"fav": 1.0}, limit=20)

    picked = {p.track_id for p in picks}
    assert len(picked) == 20
    assert picked == {f"fav{i:02d}" for i in range(17)} | {"other0", "other1", "other2"}


@pytest.mark.parametrize("count", [pytest.param(20, id="20"), pytest.param(60, id="60")])
def test_at_least_twenty_picks_from_twenty_candidates(count: int) -> None:
    candidates = [artist(f"t{i:02d}", f"a{i % 3}") for i in range(count)]

    picks = rank(candidates, limit=50)

    assert len(picks) == min(count, 50)


def test_cap_counts_every_artist_on_a_track() -> None:
    candidates = [
        Candidate("duet1", ("fav", "guest"), ("Fav", "Guest"), "artists", "Fav"),
        Candidate("duet2", ("fav", "guest"), ("Fav", "Guest"), "artists", "Fav"),
        Candidate("guest-solo", ("guest",), ("Guest",), "artists", "Guest"),
        artist("other", "o"),
    ]

    picks = rank(candidates, affinity={"fav": 1.0, "guest": 0.9}, limit=3, per_artist_cap=2)

    assert {p.track_id for p in picks} == {"duet1", "duet2", "other"}


def test_no_candidates_no_picks() -> None:
    assert rank([], clustering=clustering_of(user_tracks()), user_features=user_tracks()) == []


def known_and_new(count: int) -> tuple[list[Candidate], dict[str, float]]:
    """`count` tracks by known artists (liked, so they score higher) and `count` by new ones."""
    known = [artist(f"k{i:02d}", f"known{i}", features=CALM) for i in range(count)]
    new = [artist(f"n{i:02d}", f"new{i}", features=CALM) for i in range(count)]
    return known + new, {f"known{i}": 1.0 for i in range(count)}


@pytest.mark.parametrize(
    ("discovery", "new_picks"),
    [
        pytest.param(0.0, 0, id="none"),
        pytest.param(0.4, 8, id="default"),
        pytest.param(1.0, 20, id="all"),
    ],
)
def test_discovery_sets_the_share_of_new_artists(discovery: float, new_picks: int) -> None:
    tracks = user_tracks()
    candidates, affinity = known_and_new(30)

    picks = rank(
        candidates,
        clustering=clustering_of(tracks),
        user_features=tracks,
        affinity=affinity,
        limit=20,
        discovery=discovery,
    )

    assert len(picks) == 20
    assert sum(p.new_artist for p in picks) == new_picks
    assert all(p.new_artist == p.track_id.startswith("n") for p in picks)


def better_new_than_known(count: int) -> tuple[list[Candidate], dict[str, float]]:
    """`count` tracks by barely liked known artists, `count` popular ones by new artists."""
    known = [artist(f"k{i:02d}", f"known{i}", features=CALM) for i in range(count)]
    new = [
        Candidate(f"n{i:02d}", (f"new{i}",), (f"new{i}",), "csv", "x", 3.0, CALM, 100.0)
        for i in range(count)
    ]
    return known + new, {f"known{i}": 0.01 for i in range(count)}


@pytest.mark.parametrize("discovery", [0.0, 0.2, 0.45])
def test_discovery_is_the_exact_share_even_when_new_artists_score_higher(
    discovery: float,
) -> None:
    candidates, affinity = better_new_than_known(30)

    picks = rank(candidates, affinity=affinity, limit=20, discovery=discovery)

    assert len(picks) == 20
    assert sum(p.new_artist for p in picks) == round(discovery * 20)


def test_without_a_discovery_share_picks_go_on_merit() -> None:
    candidates, affinity = better_new_than_known(30)

    picks = rank(candidates, affinity=affinity, limit=20, discovery=None)

    assert all(p.new_artist for p in picks)


def test_the_few_tracks_left_of_a_liked_artist_come_before_a_big_catalogue() -> None:
    # "big" is liked best but has ten unplayed tracks; "few" a little less, with two left.
    big = unplayed("b", "big", 10, share=0.1)
    few = unplayed("f", "few", 2, share=0.5)

    picks = rank(big + few, affinity={"big": 1.0, "few": 0.8}, limit=3, discovery=0.0)

    assert [p.track_id for p in picks] == ["f0", "f1", "b0"]


def test_new_picks_are_spread_through_the_list_not_appended() -> None:
    candidates, affinity = known_and_new(30)

    picks = rank(candidates, affinity=affinity, limit=10, discovery=0.5)

    assert [p.new_artist for p in picks[:4]].count(True) == 2


def test_too_few_new_candidates_leave_their_places_to_known_ones() -> None:
    candidates, affinity = known_and_new(30)
    candidates = [c for c in candidates if c.track_id != "n01" and not c.track_id >= "n02"]

    picks = rank(candidates, affinity=affinity, limit=10, discovery=0.5)

    assert len(picks) == 10
    assert [p.track_id for p in picks if p.new_artist] == ["n00"]


def test_an_artist_known_by_name_only_is_not_new() -> None:
    candidate = Candidate("t", (), ("Nina Simone",), "csv", "jazz")

    (pick,) = rank([candidate], known_names=frozenset({"nina simone"}))

    assert not pick.new_artist


def test_fewer_tracks_left_come_first_however_often_the_artist_is_met() -> None:
    # Of "meeting" the user played three tracks once each and eight are left; of "repeat"
    # none once, and two are left. The user meets about as many new tracks of any artist
    # they play, so each of the two left is the likelier next play.
    meeting = unplayed("m", "meeting", 8, share=0.125)
    repeat = unplayed("r", "repeat", 2, share=0.5)

    picks = _rank_heard(meeting + repeat, {"repeat": 0, "meeting": 3}, limit=2)

    assert [p.track_id for p in picks] == ["r0", "r1"]


def test_an_artist_met_only_as_a_guest_comes_after_one_whose_records_were_played() -> None:
    # "guest" is known from a feature on another's record the user played, and has two
    # records left; "lead" has four, and the user played some of lead's own records.
    guest = unplayed("g", "guest", 2, share=0.5)
    lead = unplayed("l", "lead", 4, share=0.25)

    picks = _rank_heard(guest + lead, {"lead": 0}, limit=2)

    assert [p.track_id for p in picks] == ["l0", "l1"]


def _rank_heard(candidates: list[Candidate], played_once: dict[str, int], limit: int) -> list[Pick]:
    affinity = {a: 1.0 for c in candidates for a in c.artist_ids}
    return rank_candidates(
        candidates,
        exclude=frozenset(),
        space=TasteSpace(None, {}),
        affinity=affinity,
        played_once=played_once,
        options=RankingOptions(limit=limit, discovery=0.0),
    )


def test_a_guest_spot_weighs_nothing_for_the_guest() -> None:
    # The same known artist leads one record and guests on a stranger's: only the first is
    # theirs to be played next.
    own = dataclasses.replace(artist("own", "known", features=CALM), artist_share=0.5)
    # Named to come first on a tie, so only the weight given to the record can put "own" first.
    guest = Candidate("a-spot", ("stranger", "known"), ("Stranger", "Known"), "artists", "known")
    guest = dataclasses.replace(guest, features=CALM, artist_share=0.5)

    picks = rank([guest, own], affinity={"known": 1.0}, limit=1, discovery=0.0)

    assert [p.track_id for p in picks] == ["own"]
