"""`python -m helpers train` under `torchrun`: two processes on the CPU (gloo) train one model together, and only
the first writes the model, the log and the metrics, which match a one-process run of the same global batch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from helpers.models import load_trained
from helpers.predict import predict
from helpers.split import load_split
from helpers.tokenization import tokenize

from support import ROOT, clean_env, one_line_error, run_main, tiny_settings_for

SPEEDS = ("train_samples_per_second", "predict_samples_per_second")
DROPOUTS = ("dropout", "attention_dropout", "seq_classif_dropout")


def metrics(out) -> dict:
    """metrics.json of a finished run, without its speeds and its machine (threads and processes differ)."""
    return {k: v for k, v in json.loads((out / "metrics.json").read_text()).items() if k not in (*SPEEDS, "hardware")}


def without_dropout(tiny_cache, cache):
    """A copy of the session's tiny model in `cache`, with dropout off (the same vocabulary and weights)."""
    shutil.copytree(tiny_cache / "tiny-distilbert", cache / "tiny-distilbert")
    config_path = cache / "tiny-distilbert" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps(config | dict.fromkeys(DROPOUTS, 0.0)))
    return cache


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path, tiny_cache, capsys):
    """Two processes of batch 8 finish, write the metrics once, and train the same model as one process of batch 16.

    Why they can agree this closely: with random batches (not length-grouped ones, whose groups depend on the
    per-process batch size), the sampler draws one permutation of the rows from the same seed, and the two processes
    take alternate batches of 8 from it, so each global batch holds the very rows of one process's batch of 16;
    DDP averages the two halves' mean gradients, which is the mean gradient of the 16 rows. 224 train rows divide
    into batches of 16, so no process pads its last batch with repeated rows. Dropout is off (each process would
    draw its own masks) and float32 is forced. What is left is the order of float sums: 1e-6 in the loss.
    """
    cache = without_dropout(tiny_cache, tmp_path / "cache")
    common = ["--profile", "tiny", "--epochs", "6", "--cache-dir", str(cache), "--train-rows", "224",
              "--validation-size", "0", "--no-group-by-length", "--precision", "fp32"]
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    two = subprocess.run(
        [*launch, "-m", "helpers", "train", *common, "--train-batch-size", "8", "--output-dir", str(tmp_path / "two")],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert "find_unused_parameters" not in two.stderr, "DDP is told every weight gets a gradient"
    status, one, err = run_main("train", *common, "--train-batch-size", "16", "--output-dir", str(tmp_path / "one"),
                                capsys=capsys)  # one process: this one
    assert status == 0, err[-3000:]

    assert two.stdout.count("model saved in") == 1, "only process 0 writes and reports"
    said = {name: [line for line in printed.splitlines() if line.startswith("device: CPU")]
            for name, printed in (("two", two.stdout), ("one", one))}
    assert len(said["two"]) == 1 and said["two"][0].endswith(", 2 processes"), "the choice said once, by process 0"
    assert len(said["one"]) == 1 and not said["one"][0].endswith("processes")
    history = json.loads((tmp_path / "two" / "model" / "log_history.json").read_text())
    single_history = json.loads((tmp_path / "one" / "model" / "log_history.json").read_text())
    assert max(entry["step"] for entry in history) == 6 * 14, "224 rows in global batches of 16: 14 steps an epoch"

    # the same rows in every step: the training loss of each logged step agrees (it moves by 0.5 and more)
    losses = [(a["step"], a["loss"], b["loss"]) for a, b in zip(history, single_history) if "loss" in a]
    assert len(losses) == 42 and all(a == pytest.approx(b, abs=1e-4) for _, a, b in losses), losses
    # and the same model at the end: every weight within 1e-4 (the largest are about 1)
    parallel_weights = load_file(tmp_path / "two" / "model" / "model.safetensors")
    single_weights = load_file(tmp_path / "one" / "model" / "model.safetensors")
    assert parallel_weights.keys() == single_weights.keys()
    for name, weight in parallel_weights.items():
        torch.testing.assert_close(weight, single_weights[name], atol=1e-4, rtol=0, msg=name)

    parallel, single = metrics(tmp_path / "two"), metrics(tmp_path / "one")
    assert parallel["train_rows"] == single["train_rows"] == 224 and parallel["test_rows"] == single["test_rows"]
    assert parallel["accuracy"] == single["accuracy"] and parallel["f1"] == single["f1"]
    assert single["accuracy"] > 0.8, "it learned (chance is 0.5)"
    # the test loss the two processes wrote is the saved model's, measured again here in one process (transformers
    # #35078 multiplied it by the number of processes); each process averages its own share, so not to the last digit
    settings = tiny_settings_for(tmp_path / "two", cache, epochs=6, train_rows=224, validation_size=0,
                                 group_by_length=False, precision="fp32")
    test = load_split(settings)["test"]
    model, tokenizer = load_trained(tmp_path / "two" / "model")
    again = predict(model, tokenizer, tokenize(test, tokenizer, settings), settings).metrics["test_loss"]
    assert parallel["eval_loss"] == pytest.approx(again, rel=0.02)
    assert single["eval_loss"] == pytest.approx(again, rel=1e-4)


@pytest.mark.slow
def test_a_mistake_under_the_launcher_is_one_line(tmp_path, tiny_cache):
    """`python -m helpers torchrun ... -m helpers train` into a folder that holds a model: the first process's one
    `error:` line (the others say nothing), a non-zero status, and neither a traceback nor the launcher's report.
    (Plain torchrun prints the same line, then its `ChildFailedError` traceback: its `main` is wrapped in `@record`.)"""
    out = tmp_path / "out"
    shutil.copytree(tiny_cache / "tiny-distilbert", out / "model")  # its tokenizer, and a whole classifier's weights:
    AutoModelForSequenceClassification.from_pretrained(out / "model", num_labels=2).save_pretrained(out / "model")
    launched = subprocess.run(
        [sys.executable, "-m", "helpers", "torchrun", "--standalone", "--nproc_per_node", "2", "-m", "helpers",
         "train", "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out)],
        cwd=ROOT, env={k: v for k, v in clean_env().items() if k != "OMP_NUM_THREADS"},  # chosen by the launcher,
        capture_output=True, text=True, timeout=300,  # without torchrun's banner saying it set 1
    )
    assert launched.returncode == 1
    assert "already holds a trained model" in one_line_error(launched.stderr), launched.stderr
    assert launched.stdout == ""
