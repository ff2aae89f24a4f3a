"""bench/api at a tiny size: the service and its ceiling both serve every workload over wrk."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

from bench import api
from bench.dataset import scratch_url


def test_api_bench_serves_every_workload_from_both_servers() -> None:
    reason = api.unmet()
    if reason:
        pytest.skip(reason)
    with (
        tempfile.TemporaryDirectory() as directory,
        scratch_url("postgresql", Path(directory)) as url,
    ):
        report = api.run(dataclasses.replace(api.TINY, url=url))
    assert [row[0] for row in report.rows] == ["1 / hot", "1 / archive", "1 / mix"]
    for row in report.rows:
        service_rps, ceiling_rps = (float(row[i].replace(",", "")) for i in (1, 5))
        assert service_rps > 0, row
        assert ceiling_rps > 0, row
        assert row[4] == "0", f"the service answered errors: {row}"
    names = [target.name for target in report.targets]
    assert any("hot: req/s" in name for name in names)
    assert any("peak RSS" in name for name in names)
    assert "verdict:" in report.render().splitlines()[-1]
