"""Every benchmark runs at tiny sizes and reports well-formed results; timings are never checked."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from bench import __main__ as cli
from bench import api, conditional, db_access, read_queries, snapshot
from bench.load import run_load
from bench.measure import Report, Target, format_table, percentile
from bench.wire import connected

BOTH = ("sqlite", "postgresql")


def _well_formed(report: Report, name: str) -> None:
    assert report.name == name
    assert report.rows, report.render()
    assert all(len(row) == len(report.headers) for row in report.rows)
    assert report.targets, report.render()
    for target in report.targets:
        assert math.isfinite(target.measured), target
        assert target.measured > 0, target
    text = report.render()
    assert text.startswith(f"== {name}:")
    assert "verdict:" in text.splitlines()[-1]


# Benchmarks with tests of their own (below, and tests/bench/test_api_bench.py).
OWN_TESTS = {db_access.NAME, conditional.NAME, snapshot.NAME, api.NAME}
# Where the tiny size is quick enough on PostgreSQL too.
ON_BOTH = {read_queries.NAME}


def _tiny(module: ModuleType) -> Report:
    params = module.TINY
    if module.NAME in ON_BOTH:
        params = dataclasses.replace(params, kinds=BOTH)
    report: Report = module.run(params)
    return report


@pytest.mark.parametrize(
    "module",
    [pytest.param(m, id=m.NAME) for m in cli.MODULES if m.NAME not in OWN_TESTS],
)
def test_benchmark_runs_tiny_and_reports(module: ModuleType) -> None:
    """Every benchmark `python -m bench` runs: a new one cannot be left out of the smoke test."""
    _well_formed(_tiny(module), module.NAME)


def test_the_benchmarks_with_tests_of_their_own_are_benchmarks() -> None:
    assert {*OWN_TESTS, *ON_BOTH} <= set(cli.BENCHMARKS)


def test_db_access_serves_each_variant_over_loopback() -> None:
    report = db_access.run(db_access.TINY)
    _well_formed(report, db_access.NAME)
    variants = [row[0] for row in report.rows]
    assert variants[:2] == ["sqlite / threads", "sqlite / blocking"]
    pwasyncio_ran = "sqlite / pwasyncio" in variants
    assert pwasyncio_ran or any("pwasyncio skipped: needs" in note for note in report.notes)
    assert all(float(row[1]) > 0 for row in report.rows), "every variant served requests"
    assert "/history" in report.title, "the load is a read that queries per request"


def test_conditional_revalidates_each_response_over_http_on_both_databases() -> None:
    report = conditional.run(dataclasses.replace(conditional.TINY, kinds=BOTH))
    _well_formed(report, conditional.NAME)
    labels = [row[0] for row in report.rows]
    assert labels == [f"{kind} / {what}" for kind in BOTH for what in ("snapshot", "/stats")]
    # Columns: response, 200 bytes, 304 bytes, 200 CPU, 304 CPU. A 304 is a head without body.
    for row in report.rows:
        assert 0 < int(row[2]) < 300 < int(row[1]), row


async def test_wire_client_only_ever_connects_to_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        async with connected("http://example.com"):
            pass


def test_read_queries_baseline_really_is_n_plus_one() -> None:
    report = read_queries.run(read_queries.TINY)
    (small, large) = report.rows
    # Columns: size, product queries, product ms, naive queries, naive ms.
    assert small[1] == large[1], "the product's query count does not grow with size"
    assert int(large[3]) > int(small[3]) > int(small[1]), "the baseline issues a query per row"


async def test_load_is_only_ever_sent_to_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        await run_load("http://example.com", ["/"], concurrency=1, max_requests=1, max_seconds=1.0)


def _fake(passed: bool) -> Callable[[], Report]:
    target = Target("ratio", 3.0 if passed else 1.0, 2.0)
    return lambda: Report("fake", "a fake", ("a", "b"), [("x", "1")], [target])


@pytest.mark.parametrize(
    ("outcomes", "exit_code"),
    [
        pytest.param((True, True), 0, id="all-met"),
        pytest.param((True, False), 1, id="one-missed"),
    ],
)
def test_cli_exit_code_says_whether_every_target_was_met(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    outcomes: tuple[bool, ...],
    exit_code: int,
) -> None:
    fakes = {f"b{i}": _fake(ok) for i, ok in enumerate(outcomes)}
    monkeypatch.setattr(cli, "BENCHMARKS", fakes)
    assert cli.main([]) == exit_code
    out = capsys.readouterr().out
    assert out.count("== fake: a fake") == len(outcomes)


def test_cli_runs_only_the_named_benchmark(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    def make(name: str) -> Callable[[], Report]:
        def run() -> Report:
            ran.append(name)
            return _fake(True)()

        return run

    monkeypatch.setattr(cli, "BENCHMARKS", {"one": make("one"), "two": make("two")})
    assert cli.main(["two"]) == 0
    assert ran == ["two"]
    with pytest.raises(SystemExit) as exited:
        cli.main(["three"])
    assert exited.value.code == 2
    assert "unknown benchmark 'three'" in capsys.readouterr().err


def _recording(ran: list[str]) -> dict[str, Callable[[], Report]]:
    """Every real benchmark's name, each standing for a fake that notes that it ran."""

    def make(name: str) -> Callable[[], Report]:
        def run() -> Report:
            ran.append(name)
            return _fake(True)()

        return run

    return {name: make(name) for name in cli.BENCHMARKS}


def test_a_run_needing_wrk_says_what_to_install_before_any_benchmark_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`make bench` on a fresh machine without wrk stops at once, not hours later at api."""
    ran: list[str] = []
    monkeypatch.setattr(cli, "BENCHMARKS", _recording(ran))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main([]) == 2
    assert ran == []
    lines = capsys.readouterr().err.splitlines()
    assert "bench api needs wrk, its load generator: apt-get install wrk (Debian)" in lines


def test_a_machine_without_wrk_still_runs_the_benchmarks_that_do_not_use_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(cli, "BENCHMARKS", _recording(ran))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["stats", "pace"]) == 0
    assert ran == ["stats", "pace"]


@pytest.mark.parametrize(
    ("measured", "met"),
    [
        # 100 users each with exactly 20 of 50 picks new: numpy's mean is 0.3999999999999999.
        pytest.param(float(np.mean([20 / 50] * 100)) / 0.4, True, id="share-exactly-at-target"),
        pytest.param(19.5 / 50 / 0.4, False, id="share-just-below-target"),
    ],
)
def test_a_ratio_at_its_target_is_met_whatever_the_float_rounding(
    measured: float, met: bool
) -> None:
    assert Target("novelty / 0.4", measured, 1.0).met is met


def test_percentile_and_table() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    lines = format_table(("name", "n"), [("a", "10"), ("long", "2")])
    assert lines == ["name   n", "----  --", "a     10", "long   2"]


def test_snapshot_bench_runs_both_nights_and_loses_nobody() -> None:
    report = snapshot.run(snapshot.TINY)
    _well_formed(report, snapshot.NAME)
    assert [row[0] for row in report.rows] == ["1 / cold", "1 / warm", "2 / cold", "2 / warm"]
    kept = [t for t in report.targets if t.name.startswith("users kept")]
    assert kept
    assert all(t.met for t in kept), kept
    warm_calls = [float(row[1]) for row in report.rows if row[0].endswith("warm")]
    assert all(calls <= snapshot.MAX_WARM_CALLS for calls in warm_calls), report.render()


def _report_of_sizes(sizes: dict[int, float]) -> Report:
    report = Report(snapshot.NAME, "sizes", ("users",))
    snapshot._rss_flatness(report, [{"users": n, "rss_mb": mb} for n, mb in sizes.items()])
    return report


def test_snapshot_bench_says_when_one_size_cannot_show_rss_flatness() -> None:
    report = _report_of_sizes({1000: 370.0})
    assert not [t for t in report.targets if "RSS" in t.name], "a size against itself"
    assert any("only one size" in note for note in report.notes)


def test_snapshot_bench_compares_rss_of_sizes_from_the_same_run() -> None:
    (flat,) = _report_of_sizes({1000: 370.0, 100: 218.0}).targets
    assert flat.measured == 218.0 / 370.0
    assert not flat.met
    assert "+173 kB per added user" in flat.name
