"""Faults during training: identical reruns, a run killed or interrupted and resumed, no trained model replaced by
mistake, and a model that does not fit the data. Each run is `python -m helpers train` on the tiny profile."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from helpers import UserError
from helpers.finetune import checkpoints
from helpers.models import load_trained

from conftest import one_line_error, finish, run_cli, start_cli, tiny_settings_for, write_table

EPOCHS = "4"  # a checkpoint each epoch: enough time after the first one to stop the run half way
SPEEDS = ("train_samples_per_second", "predict_samples_per_second")


def train_args(out: Path, cache: Path, *extra: str) -> list[str]:
    """The command line of one tiny training into `out`."""
    return ["train", "--profile", "tiny", "--epochs", EPOCHS, "--output-dir", str(out), "--cache-dir", str(cache), *extra]


def metrics(out: Path) -> dict:
    """metrics.json of a finished run, without its speeds (which differ from run to run)."""
    return {k: v for k, v in json.loads((out / "metrics.json").read_text()).items() if k not in SPEEDS}


def weights(out: Path) -> bytes:
    """The saved model's weights file."""
    return (out / "model" / "model.safetensors").read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_cache) -> Path:
    """The output folder of one uninterrupted tiny run."""
    out = tmp_path_factory.mktemp("reference") / "out"
    done = run_cli(*train_args(out, tiny_cache))
    assert done.returncode == 0, done.stderr
    return out


def stop_after_first_checkpoint(out: Path, cache: Path, sig: int):
    """Start a run, send it `sig` as soon as its first checkpoint is complete; the finished process."""
    process = start_cli(*train_args(out, cache))
    settings = tiny_settings_for(out, cache)
    while not checkpoints(settings) and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(sig)
    return finish(process)


def test_same_settings_give_identical_results(reference, tmp_path, tiny_cache):
    """A second run with the same settings gives the same metrics and the same weights, byte for byte."""
    again = run_cli(*train_args(tmp_path / "out", tiny_cache))
    assert again.returncode == 0, again.stderr
    assert metrics(tmp_path / "out") == metrics(reference)
    assert weights(tmp_path / "out") == weights(reference)


def test_killed_run_resumes_to_the_same_result(reference, tmp_path, tiny_cache):
    """A run killed after its first checkpoint keeps it; --resume carries on to the uninterrupted run's result."""
    out = tmp_path / "out"
    killed = stop_after_first_checkpoint(out, tiny_cache, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "model").exists() and checkpoints(tiny_settings_for(out, tiny_cache))

    again = run_cli(*train_args(out, tiny_cache))  # forgetting --resume is refused, and says what to do
    assert again.returncode == 1
    one_line_error(again.stderr)
    assert "--resume" in again.stderr and "--overwrite" in again.stderr

    resumed = run_cli(*train_args(out, tiny_cache, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert metrics(out) == pytest.approx(metrics(reference), rel=1e-5)


def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(reference, tmp_path, tiny_cache):
    """Ctrl-C (SIGINT) ends with exit status 130 and one line naming --resume; resuming finishes the run."""
    out = tmp_path / "out"
    stopped = stop_after_first_checkpoint(out, tiny_cache, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    said = [line for line in stopped.stderr.replace("\r", "\n").splitlines() if line.startswith("interrupted")]
    assert len(said) == 1 and "--resume" in said[0], stopped.stderr
    assert "Traceback" not in stopped.stderr
    resumed = run_cli(*train_args(out, tiny_cache, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert metrics(out) == pytest.approx(metrics(reference), rel=1e-5)


def test_a_trained_model_is_not_replaced_by_mistake(reference, tmp_path, tiny_cache):
    """Training again into a folder with a trained model fails and leaves it as it was; --overwrite replaces it."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = weights(out)
    again = run_cli(*train_args(out, tiny_cache, "--learning-rate", "1e-3"))
    assert again.returncode == 1
    one_line_error(again.stderr)
    assert "already holds a trained model; pass --overwrite" in again.stderr
    assert weights(out) == before

    replaced = run_cli(*train_args(out, tiny_cache, "--learning-rate", "1e-3", "--overwrite"))
    assert replaced.returncode == 0, replaced.stderr
    assert weights(out) != before


def test_nothing_to_resume(tmp_path, tiny_cache):
    """--resume on a folder without a checkpoint is a one-line error."""
    done = run_cli(*train_args(tmp_path / "out", tiny_cache, "--resume"))
    assert done.returncode == 1
    one_line_error(done.stderr)
    assert "nothing to resume" in done.stderr


def test_a_half_written_checkpoint_is_not_resumed_from(reference, tmp_path, tiny_cache):
    """A checkpoint cut short while being written (no trainer_state.json yet) is skipped, and removed on resume."""
    out = tmp_path / "out"
    killed = stop_after_first_checkpoint(out, tiny_cache, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    (out / "checkpoint-9999").mkdir()
    (out / "checkpoint-9999" / "config.json").write_text("{")
    resumed = run_cli(*train_args(out, tiny_cache, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert not (out / "checkpoint-9999").exists()
    assert metrics(out) == pytest.approx(metrics(reference), rel=1e-5)


def test_a_model_fine_tuned_on_other_labels(reference, tmp_path, tiny_cache):
    """Fine-tuning, or evaluating, a model trained for other labels is refused in one line naming both."""
    records = [{"headline": f"story {i}", "is_sarcastic": ["a", "b", "c"][i % 3]} for i in range(60)]
    data = write_table(tmp_path / "three.json", records)
    done = run_cli("train", "--profile", "tiny", "--data", str(data), "--model", str(reference / "model"),
                   "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tiny_cache))
    assert done.returncode == 1
    one_line_error(done.stderr)
    assert "was fine-tuned for the labels ['not sarcastic', 'sarcastic'], but the data has ['a', 'b', 'c']" in done.stderr
    with pytest.raises(UserError, match="was fine-tuned for the labels"):
        load_trained(reference / "model", ["a", "b", "c"])
    model, _ = load_trained(reference / "model", ["not sarcastic", "sarcastic"])
    assert model.config.id2label == {0: "not sarcastic", 1: "sarcastic"}
