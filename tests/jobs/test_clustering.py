"""K-means on a user's tracks: k, determinism, centroids, labels and the reasons for none."""

from __future__ import annotations

import random

import numpy as np
import pytest

from jobs.clustering import (
    CLUSTER_FEATURES,
    Clustering,
    ClusterSummary,
    cluster_tracks,
    unique_labels,
)

AVERAGE = {
    "danceability": 0.5,
    "energy": 0.5,
    "loudness": -8.0,
    "speechiness": 0.08,
    "acousticness": 0.4,
    "instrumentalness": 0.1,
    "liveness": 0.15,
    "valence": 0.5,
    "tempo": 115.0,
}
PARTY = AVERAGE | {"danceability": 0.9, "energy": 0.95}
QUIET_ACOUSTIC = AVERAGE | {"acousticness": 0.95, "energy": 0.1}
AMBIENT = AVERAGE | {"instrumentalness": 0.95}
RAP = AVERAGE | {"speechiness": 0.6}


def blobs(
    centres: list[dict[str, float]],
    per_blob: int = 12,
    spread: float = 0.01,
    seed: int = 7,
    noisy: tuple[str, ...] | None = None,
) -> dict[str, dict[str, float]]:
    """Tracks scattered around each centre; ids say which blob a track came from.

    Noise goes only on the features the centres differ in, unless `noisy` says otherwise:
    standardising would otherwise blow pure noise up to the same scale as real differences.
    """
    rng = np.random.default_rng(seed)
    noisy = noisy or tuple(n for n in CLUSTER_FEATURES if len({c[n] for c in centres}) > 1)
    tracks = {}
    for b, centre in enumerate(centres):
        for i in range(per_blob):
            values = {
                name: centre[name] * (1 + rng.normal(0.0, spread))
                if name in noisy
                else centre[name]
                for name in CLUSTER_FEATURES
            }
            tracks[f"b{b}-t{i:02d}"] = values | {"key": 5.0, "mode": 1.0, "time_signature": 4.0}
    return tracks


def shuffled(tracks: dict[str, dict[str, float]], seed: int) -> dict[str, dict[str, float]]:
    items = list(tracks.items())
    random.Random(seed).shuffle(items)
    return dict(items)


@pytest.mark.parametrize(
    "centres",
    [
        pytest.param([PARTY, QUIET_ACOUSTIC], id="two-blobs"),
        pytest.param([PARTY, QUIET_ACOUSTIC, AMBIENT], id="three-blobs"),
        pytest.param([PARTY, QUIET_ACOUSTIC, AMBIENT, RAP], id="four-blobs"),
    ],
)
def test_k_equals_number_of_well_separated_blobs(centres: list[dict[str, float]]) -> None:
    result = cluster_tracks(blobs(centres))

    assert result.note is None
    assert len(result.clusters) == len(centres)
    for cluster in result.clusters:
        assert len({track_id.split("-")[0] for track_id in cluster.track_ids}) == 1


def test_same_result_whatever_the_input_order() -> None:
    tracks = blobs([PARTY, QUIET_ACOUSTIC, AMBIENT], spread=0.3, noisy=CLUSTER_FEATURES)
    first = cluster_tracks(tracks)

    results = [cluster_tracks(shuffled(tracks, seed)) for seed in range(4)]

    assert len(first.clusters) >= 2
    assert all(result == first for result in results)


def test_centroid_is_the_raw_mean_of_the_members() -> None:
    tracks = blobs([PARTY, QUIET_ACOUSTIC], spread=0.1, noisy=CLUSTER_FEATURES)

    result = cluster_tracks(tracks)

    for cluster in result.clusters:
        for name in CLUSTER_FEATURES:
            expected = np.mean([tracks[t][name] for t in cluster.track_ids])
            assert cluster.centroid[name] == pytest.approx(expected, abs=1e-4)
    assert set(result.clusters[0].centroid) == set(CLUSTER_FEATURES)


def test_clusters_ordered_by_size_then_first_track() -> None:
    tracks = blobs([PARTY], per_blob=8) | {
        k.replace("b0", "b1"): v for k, v in blobs([AMBIENT], per_blob=14).items()
    }
    tracks |= {k.replace("b0", "b2"): v for k, v in blobs([RAP], per_blob=8, seed=3).items()}

    result = cluster_tracks(tracks)

    assert [c.size for c in result.clusters] == [14, 8, 8]
    assert [c.track_ids[0] for c in result.clusters] == ["b1-t00", "b0-t00", "b2-t00"]
    assert all(list(c.track_ids) == sorted(c.track_ids) for c in result.clusters)


@pytest.mark.parametrize(
    ("centres", "expected"),
    [
        pytest.param(
            [AVERAGE, PARTY, QUIET_ACOUSTIC],
            {"b1": "danceable · high energy", "b2": "acoustic · mellow"},
            id="two-words-strongest-first",
        ),
        pytest.param([AVERAGE, AMBIENT], {"b0": "vocal", "b1": "instrumental"}, id="one-word"),
        pytest.param([RAP, AVERAGE], {"b0": "wordy", "b1": "melodic"}, id="wordy"),
    ],
)
def test_labels_name_what_stands_out(
    centres: list[dict[str, float]], expected: dict[str, str]
) -> None:
    result = cluster_tracks(blobs(centres))

    by_blob = {c.track_ids[0].split("-")[0]: c.label for c in result.clusters}
    assert {blob: by_blob[blob] for blob in expected} == expected


def test_label_balanced_when_nothing_stands_out() -> None:
    centres = [AVERAGE, AVERAGE | {"tempo": 150.0}, AVERAGE | {"tempo": 80.0}]
    result = cluster_tracks(blobs(centres))

    labels = {c.label: c for c in result.clusters}

    assert set(labels) == {"balanced", "fast", "slow"}
    assert labels["fast"].centroid["tempo"] == pytest.approx(150.0, rel=0.02)


def test_labels_unique_within_a_clustering() -> None:
    assert unique_labels(["mellow", "fast", "mellow", "mellow"]) == [
        "mellow",
        "fast",
        "mellow (2)",
        "mellow (3)",
    ]


@pytest.mark.parametrize(
    ("tracks", "note"),
    [
        pytest.param(
            {}, "only 0 tracks have audio features; clustering needs at least 10", id="none"
        ),
        pytest.param(
            dict(list(blobs([PARTY, AMBIENT]).items())[:4]),
            "only 4 tracks have audio features; clustering needs at least 10",
            id="four",
        ),
        pytest.param(
            {f"t{i}": dict(AVERAGE) for i in range(12)},
            "all 12 tracks sound the same; nothing to cluster",
            id="identical",
        ),
        pytest.param(
            {f"t{i}": AVERAGE | {"tempo": float("nan")} for i in range(12)},
            "only 0 tracks have audio features; clustering needs at least 10",
            id="nan-is-unusable",
        ),
    ],
)
def test_no_clusters_but_a_note(tracks: dict[str, dict[str, float]], note: str) -> None:
    assert cluster_tracks(tracks) == Clustering((), note)


def test_tracks_missing_a_feature_are_left_out() -> None:
    tracks = blobs([PARTY, QUIET_ACOUSTIC])
    tracks["partial"] = {"energy": 0.5}

    result = cluster_tracks(tracks)

    assert sum(c.size for c in result.clusters) == len(tracks) - 1
    assert all("partial" not in c.track_ids for c in result.clusters)


def test_k_bounded_by_distinct_points() -> None:
    tracks = {f"a{i:02d}": dict(PARTY) for i in range(8)} | {
        f"z{i:02d}": dict(AMBIENT) for i in range(8)
    }

    result = cluster_tracks(tracks, max_k=6)

    assert [c.size for c in result.clusters] == [8, 8]
    assert isinstance(result.clusters[0], ClusterSummary)
