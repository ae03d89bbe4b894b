"""The benchmark: the tutorial's pipeline against this project's, timed on the same rows."""

from __future__ import annotations

import pytest

from helpers import bench as bench_module
from helpers import hardware
from helpers.bench import bench, chart, run_pipeline, table
from helpers.split import load_split


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
    tutorial, project = report["pipelines"]["tutorial"], report["pipelines"]["this project"]
    # the tutorial runs transformers' defaults; this project its measured levers (on this machine's CPU)
    assert (tutorial["attention"], tutorial["optimizer"]) == ("sdpa", "adamw_torch")
    assert (project["attention"], project["optimizer"]) == ("eager", "adamw_torch_fused")
    assert table(report).count("\n") == 4
    assert report["hardware"] == hardware.record(), "the machine it ran on"
    assert chart(report, tmp_path / "bench.png").stat().st_size > 1000


def test_chart_leaves_matplotlib_as_it_was(tmp_path):
    """The chart is drawn on a figure of its own: the process's backend and pyplot's open figures are untouched
    (a notebook that runs the bench keeps its inline plots)."""
    import matplotlib
    import matplotlib.pyplot as plt

    figures = dict(train_samples_per_second=2.0, predict_samples_per_second=3.0, precision="fp32")
    report = dict(model="tiny/model", train_batch_size=8, torch_threads=1, hardware=hardware.record(),
                  pipelines={name: figures for name in ("tutorial", "per-batch padding", "this project")})
    before = matplotlib.get_backend()
    try:
        plt.switch_backend("svg")  # not the Agg that chart used to switch every process to
        plt.figure()
        open_figures = plt.get_fignums()
        path = chart(report, tmp_path / "bench.png")
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == open_figures
    finally:
        plt.close("all")
        plt.switch_backend(before)
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000


def test_a_pipeline_leaves_the_allocator_alone(make_settings, tiny_tokenizer, monkeypatch):
    """`run_pipeline`, which notebook 00's readiness check runs in the learner's kernel, changes nothing
    process-wide: `bench` (its command's) sets the allocator for each pipeline, one of the levers it measures."""
    calls = []
    monkeypatch.setattr(bench_module, "reuse_memory", calls.append)
    settings = make_settings()
    rows = load_split(settings)["train"].head(3 * settings.train_batch_size)
    figures = run_pipeline("this project", settings, rows, rows.head(8), tiny_tokenizer)
    assert calls == [] and figures["reuse_memory"] is settings.reuse_memory
