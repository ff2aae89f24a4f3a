from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.changes import centroid_distance, cluster_moves, compare_ranks
from jobs.clustering import CLUSTER_FEATURES


def test_compare_ranks_sorts_each_kind_of_change() -> None:
    before = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    after = {"e": 1, "a": 2, "b": 3, "x": 4, "c": 5, "y": 6}
    found = compare_ranks(before, after)
    assert [(m.item_id, m.rank) for m in found.new] == [("x", 4), ("y", 6)]
    assert [(m.item_id, m.change) for m in found.risers] == [("e", 4)]
    # The biggest fall first; a tie goes to the better current rank.
    assert [(m.item_id, m.change) for m in found.fallers] == [("c", -2), ("a", -1), ("b", -1)]
    assert [(m.item_id, m.previous_rank) for m in found.dropped] == [("d", 4)]
    assert found.unchanged == 0


def test_an_item_in_place_is_unchanged_and_listed_nowhere() -> None:
    found = compare_ranks({"a": 1, "b": 2}, {"a": 1, "b": 2})
    assert found.unchanged == 2
    assert (found.new, found.risers, found.fallers, found.dropped) == ((), (), (), ())


ranked = st.lists(st.text("abcdefgh", min_size=1, max_size=2), unique=True, max_size=12).map(
    lambda ids: {item: rank for rank, item in enumerate(ids, start=1)}
)


@given(ranked, ranked)
def test_every_item_is_counted_exactly_once(before: dict[str, int], after: dict[str, int]) -> None:
    found = compare_ranks(before, after)
    listed = [
        m.item_id for kind in (found.new, found.risers, found.fallers, found.dropped) for m in kind
    ]
    assert len(listed) == len(set(listed))
    assert len(listed) + found.unchanged == len(before.keys() | after.keys())
    assert {m.item_id for m in found.new} == after.keys() - before.keys()
    assert {m.item_id for m in found.dropped} == before.keys() - after.keys()
    assert all(after[m.item_id] < before[m.item_id] for m in found.risers)


def _cluster(cid: int, label: str, size: int, **values: float) -> dict[str, object]:
    centroid = dict.fromkeys(CLUSTER_FEATURES, 0.5) | {"loudness": -8.0, "tempo": 120.0}
    return {"id": cid, "label": label, "size": size, "centroid": centroid | values}


def test_distance_weighs_each_feature_by_its_range() -> None:
    a = _cluster(0, "x", 1)["centroid"]
    # 30 BPM is a tenth of tempo's range; 0.1 energy is a tenth of energy's.
    faster = {**a, "tempo": 150.0}  # type: ignore[dict-item]
    livelier = {**a, "energy": 0.6}  # type: ignore[dict-item]
    assert centroid_distance(a, faster, CLUSTER_FEATURES) == pytest.approx(0.1)  # type: ignore[arg-type]
    assert centroid_distance(a, livelier, CLUSTER_FEATURES) == pytest.approx(0.1)  # type: ignore[arg-type]


def test_clusters_are_matched_to_their_nearest_and_the_rest_appear_or_fade() -> None:
    before = [_cluster(0, "mellow", 6, energy=0.2), _cluster(1, "loud", 4, energy=0.9)]
    after = [
        _cluster(0, "upbeat", 5, energy=0.85),
        _cluster(1, "acoustic", 3, energy=0.5, acousticness=0.95),
        _cluster(2, "mellow", 2, energy=0.25),
    ]
    moved = cluster_moves(before, after)
    pairs = [(m["from"]["label"], m["to"]["label"]) for m in moved["moves"]]
    assert pairs == [("loud", "upbeat"), ("mellow", "mellow")]
    assert moved["moves"][0]["shift"]["energy"] == pytest.approx(-0.05)
    assert moved["moves"][1]["distance"] == pytest.approx(0.05)
    assert [c["label"] for c in moved["appeared"]] == ["acoustic"]
    assert moved["faded"] == []
    # The overall mean: centroids weighted by size (6*0.2+4*0.9)/10 -> (5*.85+3*.5+2*.25)/10.
    assert moved["mean"]["energy"] == {"from": 0.48, "to": 0.625, "change": 0.145}
    assert moved["note"] is None


def test_without_clusters_on_one_side_nothing_is_matched() -> None:
    moved = cluster_moves([], [_cluster(0, "mellow", 3)])
    assert moved["moves"] == []
    assert [c["label"] for c in moved["appeared"]] == ["mellow"]
    assert "earlier snapshot has no clusters" in moved["note"]
