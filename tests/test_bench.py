"""The benchmark: the tutorial's pipeline against this project's, timed on the same rows."""

from __future__ import annotations

import pytest

from helpers.bench import bench, chart, table


@pytest.mark.slow
def test_bench_reports_every_pipeline(make_settings, tmp_path):
    """The benchmark times the three pipelines on the same rows and writes a table and a chart."""
    report = bench(make_settings(), steps=3, predict_rows=32, repeat=2)
    assert list(report["pipelines"]) == ["tutorial", "per-batch padding", "this project"]
    assert [figures["repeat"] for figures in report["pipelines"].values()] == [1, 2, 2]  # the tutorial's: once
    assert report["train_rows"] == 3 * report["train_batch_size"] and report["predict_rows"] == 32
    for figures in report["pipelines"].values():
        assert figures["train_samples_per_second"] > 0 and figures["predict_samples_per_second"] > 0
        assert figures["peak_memory_mb"] > 0
    assert report["pipelines"]["tutorial"]["train_speedup"] == 1.0
    assert report["pipelines"]["tutorial"]["precision"] == "fp32"
    assert table(report).count("\n") == 4
    assert chart(report, tmp_path / "bench.png").stat().st_size > 1000
