"""The offline evaluation: splits at the cut, scores picks against what was hidden, baselines."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.clustering import CLUSTER_FEATURES
from jobs.recommend.csv_pool import build_csv_catalogue
from jobs.recommend.evaluation import (
    KNOWN_ARTISTS,
    POPULAR,
    RANDOM,
    Matched,
    UserCase,
    baselines,
    default_cut,
    evaluate,
    format_table,
    paired,
    split_history,
)
from jobs.recommend.offline import Corpus, History
from tests.jobs.recommend.test_ranking import CALM, LOUD

START = dt.datetime(2026, 1, 1)
CUT = dt.datetime(2026, 6, 1)


def day(n: int) -> dt.datetime:
    return START + dt.timedelta(days=n)


def corpus() -> Corpus:
    """Calm tracks by the known artist and by two strangers, loud ones by a third."""
    rows = []
    for i in range(12):
        calm = [CALM[n] + (i % 4) * 0.5 * (n == "tempo") for n in CLUSTER_FEATURES]
        rows.append((f"known{i}", ("Known",), "folk", 10 + i, calm))
        rows.append((f"new{i}", ("Stranger",), "folk", 50 + i, calm))
        rows.append((f"other{i}", ("Other",), "folk", 20 + i, calm))
        rows.append((f"loud{i}", ("Shouter",), "edm", 90, [LOUD[n] for n in CLUSTER_FEATURES]))
    before = [(f"known{i}", day(i)) for i in range(10)]
    after = [("known0", day(200)), ("new3", day(201))]
    return Corpus(build_csv_catalogue(rows), [History("ann", before + after)])


def test_the_cut_hides_later_events_the_user_had_not_met_before() -> None:
    history = History("ann", [("a", day(1)), ("b", day(200)), ("a", day(201))])

    before, hidden = split_history(history, CUT)

    assert (before, hidden) == (["a"], {"b"})


def test_without_a_cut_one_date_hides_the_latest_fifth_of_everyones_events() -> None:
    ann = History("ann", [(f"a{i}", day(i)) for i in range(10)])
    bo = History("bo", [(f"b{i}", day(2 * i + 1)) for i in range(10)])

    cut = default_cut([ann, bo])

    # Twenty events, the latest four hidden: bo's of days 13-19 (ann's last is day 9).
    assert cut == day(13)
    assert split_history(bo, day(13))[1] == {"b6", "b7", "b8", "b9"}
    assert default_cut([History("cy", [])]) is None


def test_without_a_cut_no_user_is_recommended_what_another_played_after_their_cut() -> None:
    # Ann played her known artist for 40 days, then a new track every ten days from day 100.
    # Bo shares her first tracks, plays new4 on day 105, then plays a lot. With a cut per
    # user, Ann's (her latest fifth) fell on day 36 while Bo's fell after day 130, so his
    # new4 of day 105 reached Ann's co-listened candidates although it came after her hidden
    # plays began: a recommender on day 36 could not have seen it.
    ann = [(f"known{i % 10}", day(i)) for i in range(40)]
    ann += [(f"new{3 + i}", day(100 + 10 * i)) for i in range(5)]
    bo = [(f"known{i}", day(i)) for i in range(10)] + [("new4", day(105))]
    bo += [(f"other{i % 12}", day(100 + i) + dt.timedelta(hours=12)) for i in range(40)]
    data = Corpus(corpus().index, [History("ann", ann), History("bo", bo)])
    cases: list[UserCase] = []

    def sees(case: UserCase) -> list[str]:
        cases.append(case)
        return []

    evaluate(data, {"sees": sees}, k=5)

    [case] = [c for c in cases if c.history.user == "ann"]
    first_hidden = min(at for track, at in ann if track in case.hidden)
    for track in case.co_listened:
        assert any(t == track and at < first_hidden for t, at in bo), track


def test_scores_a_method_against_the_hidden_tracks() -> None:
    data = corpus()

    def finds_it(case: UserCase) -> list[str]:
        return ["new3", "known11"]

    (row,) = evaluate(data, {"finds": finds_it}, cut=CUT, k=50)

    assert (row.users, row.hit_rate, row.new_hit_rate, row.recall) == (1, 1.0, 1.0, 1.0)
    assert row.novelty == 0.5  # Stranger is new, Known is not
    assert row.in_style == 1.0
    assert row.coverage == 2 / 48
    assert row.diversity >= 0.0


def test_baselines_popular_known_artists_and_random() -> None:
    data = corpus()
    methods = baselines(data, k=5)

    rows = {r.method: r for r in evaluate(data, methods, cut=CUT, k=5)}

    assert set(rows) == {POPULAR, KNOWN_ARTISTS, RANDOM}
    # The user's only style is folk: its most popular tracks are the stranger's.
    assert rows[POPULAR].novelty == 1.0
    assert rows[POPULAR].in_style == 1.0
    assert rows[KNOWN_ARTISTS].novelty == 0.0
    assert "hit@5" in format_table(list(rows.values()), 5)


def test_users_without_hidden_tracks_are_left_out() -> None:
    data = corpus()

    (row,) = evaluate(data, {"none": lambda case: []}, cut=day(500), k=10)

    assert row.users == 0


def test_a_matched_method_runs_at_the_other_methods_novelty_for_each_user() -> None:
    data = corpus()
    asked: list[float] = []

    def half_new(case: UserCase) -> list[str]:
        return ["known11", "new5", "known10", "new6"]

    def tunable(case: UserCase, discovery: float) -> list[str]:
        asked.append(discovery)
        return ["new3", "new4", "new7", "known10"]  # finds new3, three quarters new

    matched = Matched("mine", tunable, ("half",))
    rows = evaluate(data, {"half": half_new}, cut=CUT, k=4, matched=matched)

    assert asked == [0.5]
    assert [(r.method, r.matches) for r in rows] == [("half", None), ("mine@half", "half")]
    assert (rows[1].hit_rate, rows[1].novelty) == (1.0, 0.75)
    assert format_table(rows, 4).splitlines()[-1] == (
        "mine@half: beats half on hit@4 (1.000 vs 0.000, +1.000: 1 of 1 users differ, "
        "no standard error from one user) at novelty 0.75 vs 0.50; "
        "recall@4 1.000 vs 0.000 (+1.000)"
    )


@pytest.mark.parametrize(
    ("picks", "verdict"),
    [
        pytest.param(["new3", "known10"], "beats", id="more-hits-as-new"),
        pytest.param(["new3", "known10", "known11"], "does NOT beat", id="more-hits-less-new"),
        pytest.param(["new4", "new5"], "ties", id="as-new-no-more-hits"),
        pytest.param(["known10", "known11"], "does NOT beat", id="less-new-no-more-hits"),
    ],
)
def test_a_matched_row_beats_only_with_more_hits_at_equal_or_better_novelty(
    picks: list[str], verdict: str
) -> None:
    data = corpus()
    matched = Matched("mine", lambda case, share: picks, ("half",))

    rows = evaluate(data, {"half": lambda case: ["known10", "new5"]}, cut=CUT, k=4, matched=matched)

    assert format_table(rows, 4).splitlines()[-1].startswith(f"mine@half: {verdict} half ")


def test_two_lists_that_hit_every_user_tie_and_recall_tells_them_apart() -> None:
    # Ann and Bo each find two tracks later; one list finds both of each, the other one.
    later = [("new3", day(200)), ("new4", day(201))]
    before = [(f"known{i}", day(i)) for i in range(10)]
    data = Corpus(corpus().index, [History(u, before + later) for u in ("ann", "bo")])
    matched = Matched("mine", lambda case, share: ["new3", "new4"], ("one",))

    rows = evaluate(data, {"one": lambda case: ["new3", "new5"]}, cut=CUT, k=2, matched=matched)

    assert format_table(rows, 2).splitlines()[-1] == (
        "mine@one: ties one on hit@2 (1.000 vs 1.000, every user hit by both) at novelty "
        "1.00 vs 1.00; recall@2 1.000 vs 0.500 (+0.500 ± 0.000)"
    )


@pytest.mark.parametrize(
    ("mine", "theirs", "shown", "clear"),
    [
        pytest.param([1, 1, 1, 1], [0, 0, 0, 0], "+1.000 ± 0.000", True, id="every-user"),
        pytest.param([1, 0, 0, 0, 0], [0, 0, 0, 0, 0], "+0.200 ± 0.200", False, id="one-of-five"),
        pytest.param([1, 1, 1, 0], [0, 0, 0, 0], "+0.750 ± 0.250", True, id="three-of-four"),
        pytest.param([0.5, 0.5], [0.5, 0.5], "+0.000 ± 0.000", False, id="same"),
    ],
)
def test_paired_differences_carry_their_standard_error(
    mine: list[float], theirs: list[float], shown: str, clear: bool
) -> None:
    compared = paired(mine, theirs)

    assert (str(compared), compared.clear) == (shown, clear)
