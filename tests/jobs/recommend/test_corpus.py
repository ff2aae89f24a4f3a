"""The evaluation corpus from the database's stored tracks joined with the CSV catalogue."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.clustering import CLUSTER_FEATURES
from jobs.recommend.corpus import database_corpus
from jobs.recommend.csv_pool import build_csv_catalogue
from jobs.recommend.evaluation import POPULAR, baselines, evaluate
from tests.jobs.recommend.test_ranking import CALM

VALUES = [CALM[n] for n in CLUSTER_FEATURES]
START = dt.datetime(2026, 1, 1)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # A development-mode app gets no popularity from Spotify since 2026: the CSV's counts.
        pytest.param(0, 80, id="unknown-to-spotify"),
        # An extended-quota app's figure from Spotify is today's: it stays.
        pytest.param(55, 55, id="from-spotify"),
    ],
)
def test_a_stored_tracks_popularity_comes_from_the_csv_when_spotify_gave_none(
    stored: int, expected: int
) -> None:
    csv = build_csv_catalogue([("t1", ("A",), "folk", 80, VALUES)])

    corpus = database_corpus([("t1", ("A",), stored, VALUES)], {}, csv)

    assert int(corpus.index.popularity[corpus.index.row_of["t1"]]) == expected


def test_the_popular_baseline_can_pick_what_users_have_played() -> None:
    # Ann played two folk tracks, then the most popular folk track of the CSV, which the
    # instance stored (with no popularity: a development-mode app) when she played it.
    played = ["mine0", "mine1", "hit"]
    csv = build_csv_catalogue(
        [(t, (f"by {t}",), "folk", p, VALUES) for t, p in [("hit", 90), ("mine0", 5), ("mine1", 5)]]
        + [(f"csv{i}", (f"by csv{i}",), "folk", 50, VALUES) for i in range(5)]
    )
    stored = [(t, (f"by {t}",), 0, VALUES) for t in played]
    events = {"ann": [(t, START + dt.timedelta(days=i)) for i, t in enumerate(played)]}
    corpus = database_corpus(stored, events, csv)

    (row,) = evaluate(
        corpus, {POPULAR: baselines(corpus, k=1)[POPULAR]}, cut=START.replace(day=3), k=1
    )

    assert row.hit_rate == 1.0
