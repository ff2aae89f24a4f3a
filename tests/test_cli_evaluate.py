"""`application.py evaluate`: the offline evaluation over this instance's own data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cli import main
from db.database import Database
from db.models import AudioFeatures, Play
from tests.factories import make_track, make_user
from tests.jobs.recommend.test_ranking import CALM

START = dt.datetime(2026, 10, 1)


@pytest.fixture
def env(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Database:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("AUDIO_FEATURES_CSV", raising=False)
    return database


def _seed(database: Database) -> None:
    def write() -> None:
        user = make_user("ann")
        make_user("bo")
        for i in range(14):
            artist = "known" if i < 12 else "stranger"
            make_track(f"t{i:02d}", [artist], f"al-{artist}")
            values = CALM | {"tempo": 80.0 + i, "valence": 0.2 + i / 50}
            AudioFeatures.create(
                track=f"t{i:02d}", key=0, mode=1, time_signature=4, source="csv", **values
            )
        for i in range(12):
            Play.create(user=user, track=f"t{i:02d}", played_at=START + dt.timedelta(days=i))
        Play.create(user=user, track="t13", played_at=START + dt.timedelta(days=40))

    database.run_sync(write)


def test_prints_a_table_of_ours_and_the_baselines(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(env)

    assert main(["evaluate", "--cut", "2026-11-01", "--k", "5"]) == 0

    cut, table, verdicts = capsys.readouterr().out.split("\n\n")
    assert cut == "cut 2026-11-01 00:00 UTC: hidden from then on"
    lines = table.splitlines()
    assert lines[0].split()[:6] == ["method", "users", "hit@5", "new", "hit@5", "recall@5"]
    methods = [line.split()[0] for line in lines[1:]]
    baselines = ["popular-in-styles", "known-artists", "random"]
    # Then ours again for each user at each baseline's novelty for that user.
    assert methods == ["ours", *baselines, *(f"ours@{b}" for b in baselines)]
    assert [line.split(":")[0] for line in verdicts.splitlines()] == [
        f"ours@{b}" for b in baselines
    ]
    # Ann has played every track by her known artist: that baseline has nothing to offer.
    assert "ours@known-artists: beats known-artists on hit@5 (1.000 vs 0.000" in verdicts
    ours = lines[1].split()
    assert ours[1] == "1"  # ann; bo has no plays
    # The only other track, by a new artist, is the one she played later.
    assert (float(ours[2]), float(ours[3])) == (1.0, 1.0)


def test_without_a_cut_it_says_which_date_it_chose(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(env)  # Ann's 13 plays, on days 0-11 and 40 of October: the latest fifth is 3 plays

    assert main(["evaluate", "--k", "5"]) == 0

    assert capsys.readouterr().out.startswith(
        "cut 2026-10-11 00:00 UTC (the latest fifth of all users' plays and saves): "
        "hidden from then on\n\n"
    )


def test_a_skip_is_not_a_play_to_find(env: Database, capsys: pytest.CaptureFixture[str]) -> None:
    # Ann's only play after the cut is turned away within seconds: a pick of it found nothing
    # she wanted, as the bench world's histories leave such plays out too.
    _seed(env)
    env.run_sync(
        lambda: Play.update(ms_played=4_000, short=True).where(Play.track == "t13").execute()
    )

    assert main(["evaluate", "--cut", "2026-11-01", "--k", "5"]) == 2

    assert "no user has plays or saves after 2026-11-01" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--user", "zed"], "no such user: zed", id="unknown-user"),
        pytest.param(
            ["--cut", "2027-01-01"], "no user has plays or saves after 2027-01-01", id="late-cut"
        ),
    ],
)
def test_nothing_to_evaluate_is_one_clear_line(
    env: Database, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    _seed(env)

    assert main(["evaluate", *argv]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
