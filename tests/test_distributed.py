"""`python -m helpers train` under `torchrun`: two processes on the CPU (gloo) train one model together, and only
the first writes the model, the log and the metrics, which match a one-process run of the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.predict import load_trained, predict
from helpers.split import load_split
from helpers.tokenization import tokenize

from conftest import ROOT, clean_env, run_cli, tiny_settings_for

SPEEDS = ("train_samples_per_second", "predict_samples_per_second")


def metrics(out) -> dict:
    """metrics.json of a finished run, without its speeds."""
    return {k: v for k, v in json.loads((out / "metrics.json").read_text()).items() if k not in SPEEDS}


def test_two_processes_train_like_one(tmp_path, tiny_cache):
    """Two processes of batch 8 finish, write the metrics once, and match one process of batch 16 within tolerance."""
    common = ["--profile", "tiny", "--epochs", "6", "--cache-dir", str(tiny_cache),  # trained to a plateau
              "--validation-size", "0"]  # all 225 train rows: 15 global batches of 16 an epoch
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    two = subprocess.run(
        [*launch, "-m", "helpers", "train", *common, "--train-batch-size", "8", "--output-dir", str(tmp_path / "two")],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    one = run_cli("train", *common, "--train-batch-size", "16", "--output-dir", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-3000:]

    assert two.stdout.count("model saved in") == 1, "only process 0 writes and reports"
    said = {name: [line for line in run.stdout.splitlines() if line.startswith("device: CPU")]
            for name, run in (("two", two), ("one", one))}
    assert len(said["two"]) == 1 and said["two"][0].endswith(", 2 processes"), "the choice said once, by process 0"
    assert len(said["one"]) == 1 and not said["one"][0].endswith("processes")
    history = json.loads((tmp_path / "two" / "model" / "log_history.json").read_text())
    steps = max(entry["step"] for entry in history)
    assert steps == 6 * 15, "225 rows in global batches of 16 (2 x 8): 15 steps an epoch, 6 epochs"

    # The processes shuffle their shares differently from one process's shuffle, so the runs see the rows in
    # another order: close, not equal. On 75 test rows one headline is 1.3 points of accuracy.
    parallel, single = metrics(tmp_path / "two"), metrics(tmp_path / "one")
    assert parallel["train_rows"] == single["train_rows"] and parallel["test_rows"] == single["test_rows"]
    assert parallel["accuracy"] == pytest.approx(single["accuracy"], abs=0.1)
    assert min(parallel["accuracy"], single["accuracy"]) > 0.8, "both learned (chance is 0.5)"
    # the test loss the two processes wrote is the saved model's, measured again here in one process
    # (transformers #35078 multiplied it by the number of processes)
    settings = tiny_settings_for(tmp_path / "two", tiny_cache, epochs=6)
    test = load_split(settings)["test"]
    model, tokenizer = load_trained(tmp_path / "two" / "model")
    again = predict(model, tokenizer, tokenize(test, tokenizer, settings), settings).metrics["test_loss"]
    assert parallel["eval_loss"] == pytest.approx(again, rel=0.02)
