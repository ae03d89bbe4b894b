"""Faults during training: identical reruns, a run killed or interrupted and resumed, no trained model replaced by
mistake, a model that does not fit the data, one run per output folder, and saves that are all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from helpers import UserError
from helpers.card import report
from helpers.finetune import checkpoints, ensure_trained, prepare_output, save
from helpers.layout import HOLDER, LOCK, run_folder, run_lock
from helpers.models import is_trained, load_trained
from helpers.split import load_split

from support import (
    ROOT,
    clean_env,
    closed_port,
    finish,
    files_in,
    one_line_error,
    refused,
    run_cli,
    run_main,
    start_cli,
    tiny_settings_for,
    write_table,
)

EPOCHS = "4"  # a checkpoint each epoch: enough time after the first one to stop the run half way
SPEEDS = ("train_samples_per_second", "predict_samples_per_second")


def train_args(out: Path, cache: Path, *extra: str) -> list[str]:
    """The command line of one tiny training into `out`."""
    return ["train", "--profile", "tiny", "--epochs", EPOCHS, "--output-dir", str(out), "--cache-dir", str(cache),
            *extra]


def metrics(out: Path) -> dict:
    """metrics.json of a finished run, without its speeds (which differ from run to run) and its machine."""
    return {k: v for k, v in json.loads((out / "metrics.json").read_text()).items() if k not in (*SPEEDS, "hardware")}


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


def resumes_to(reference: Path, out: Path, cache: Path, capsys) -> None:
    """`--resume` on the stopped run in `out` (in this process) finishes with the uninterrupted run's metrics."""
    status, _, err = run_main(*train_args(out, cache, "--resume"), capsys=capsys)
    assert status == 0, err
    assert metrics(out) == pytest.approx(metrics(reference), rel=1e-5)


@pytest.mark.slow
def test_same_settings_give_identical_results(reference, tmp_path, tiny_cache, capsys):
    """A second run with the same settings, in another process (this one), gives the same metrics and the same
    weights, byte for byte."""
    status, _, err = run_main(*train_args(tmp_path / "out", tiny_cache), capsys=capsys)
    assert status == 0, err
    assert metrics(tmp_path / "out") == metrics(reference)
    assert weights(tmp_path / "out") == weights(reference)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(reference, tmp_path, tiny_cache, capsys):
    """A run killed after its first checkpoint keeps it; --resume carries on to the uninterrupted run's result,
    skipping and removing a checkpoint cut short while being written (no trainer_state.json yet)."""
    out = tmp_path / "out"
    killed = stop_after_first_checkpoint(out, tiny_cache, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "model").exists() and checkpoints(tiny_settings_for(out, tiny_cache))

    status, _, err = run_main(*train_args(out, tiny_cache), capsys=capsys)  # forgetting --resume is refused
    assert status == 1
    one_line_error(err)
    assert "--resume" in err and "--overwrite" in err

    (out / "checkpoint-9999").mkdir()
    (out / "checkpoint-9999" / "config.json").write_text("{")
    resumes_to(reference, out, tiny_cache, capsys)
    assert not (out / "checkpoint-9999").exists()


@pytest.mark.slow
def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(reference, tmp_path, tiny_cache, capsys):
    """Ctrl-C (SIGINT) ends with exit status 130 and one line naming --resume; resuming finishes the run."""
    out = tmp_path / "out"
    stopped = stop_after_first_checkpoint(out, tiny_cache, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    said = [line for line in stopped.stderr.replace("\r", "\n").splitlines() if line.startswith("interrupted")]
    assert len(said) == 1 and "--resume" in said[0], stopped.stderr
    assert "Traceback" not in stopped.stderr
    resumes_to(reference, out, tiny_cache, capsys)


@pytest.mark.slow
def test_a_trained_model_is_not_replaced_by_mistake(reference, tmp_path, tiny_cache, capsys):
    """Training again into a folder with a trained model fails and leaves it as it was; --overwrite replaces it."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = weights(out)
    status, _, err = run_main(*train_args(out, tiny_cache, "--learning-rate", "1e-3"), capsys=capsys)
    assert status == 1
    one_line_error(err)
    assert "already holds a trained model; pass --overwrite" in err
    assert weights(out) == before

    status, _, err = run_main(*train_args(out, tiny_cache, "--learning-rate", "1e-3", "--overwrite"), capsys=capsys)
    assert status == 0, err
    assert weights(out) != before


def test_nothing_to_resume(tmp_path, tiny_cache, capsys):
    """--resume on a folder without a checkpoint is a one-line error."""
    status, _, err = run_main(*train_args(tmp_path / "out", tiny_cache, "--resume"), capsys=capsys)
    assert status == 1
    assert "nothing to resume" in one_line_error(err)


@pytest.mark.slow
def test_a_model_fine_tuned_on_other_labels(reference, tmp_path, tiny_cache, capsys):
    """Fine-tuning, or evaluating, a model trained for other labels is refused in one line naming both."""
    records = [{"headline": f"story {i}", "is_sarcastic": ["a", "b", "c"][i % 3]} for i in range(60)]
    data = write_table(tmp_path / "three.json", records)
    status, _, err = run_main("train", "--profile", "tiny", "--data", str(data), "--model", str(reference / "model"),
                              "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tiny_cache), capsys=capsys)
    assert status == 1
    assert ("was fine-tuned for the labels ['not sarcastic', 'sarcastic'], but the data has ['a', 'b', 'c']"
            in one_line_error(err))
    with pytest.raises(UserError, match="was fine-tuned for the labels"):
        load_trained(reference / "model", ["a", "b", "c"])
    model, _ = load_trained(reference / "model", ["not sarcastic", "sarcastic"])
    assert model.config.id2label == {0: "not sarcastic", 1: "sarcastic"}


# ---------------------------------------------------------------------------------------------- one run per folder

HOLD = """
import sys
from helpers import get_settings
from helpers.layout import run_lock
with run_lock(get_settings("tiny", output_dir=sys.argv[1], cache_dir=sys.argv[2])):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def other_run(tmp_path, tiny_cache):
    """Another process holding the output folder `tmp_path / "out"`, as a run would; killed at the end."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "out"), str(tiny_cache)], cwd=ROOT,
                               env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "bench"])  # a sweep locks each trial's folder only (test_sweep)
def test_second_run_on_a_folder_stops_at_once(command, other_run, tmp_path, tiny_cache, capsys):
    """A run on a folder another run holds stops in one line naming the folder and the other's process id."""
    out = tmp_path / "out"
    status, _, err = run_main(command, "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out),
                         capsys=capsys)
    assert status == 1
    assert one_line_error(err) == (f"error: {out} is in use by another run (process {other_run.pid}); wait for it "
                                   "to finish, or choose another --output-dir")
    assert sorted(path.name for path in out.iterdir()) == sorted([HOLDER, LOCK]), "the other run's folder is untouched"


@pytest.mark.slow
def test_a_killed_run_does_not_block(other_run, tmp_path, tiny_cache):
    """The lock of a process that was killed (its files still there) does not stop the next run."""
    other_run.send_signal(signal.SIGKILL)
    other_run.wait()
    out = tmp_path / "out"
    assert (out / LOCK).exists() and (out / HOLDER).read_text().strip() == str(other_run.pid)
    with run_lock(tiny_settings_for(out, tiny_cache)) as folder:
        assert (folder / HOLDER).read_text().strip() == str(os.getpid())


@pytest.mark.slow
def test_lock_is_released_on_a_crash_and_taken_once(tmp_path, tiny_cache):
    """A run that fails releases the folder (a run in another process can take it); a run takes it once: a second
    hold in the same process is refused like another run's."""
    settings = tiny_settings_for(tmp_path / "out", tiny_cache)
    with pytest.raises(RuntimeError):
        with run_lock(settings):
            assert "is in use by another run" in refused(run_lock(settings).__enter__)
            assert (tmp_path / "out" / LOCK).exists(), "still held by the run"
            raise RuntimeError("crash")
    taken = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "out"), str(tiny_cache)], cwd=ROOT,
                             env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert taken.stdout.readline().strip() == "held"
    finally:
        taken.kill()
        taken.communicate()


# ---------------------------------------------------------------------------------------------- atomic save


@pytest.fixture
def trainer(tiny_model, tmp_path) -> Trainer:
    """A `Trainer` holding a tiny classifier (no training needed to save one)."""
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2)
    args = TrainingArguments(output_dir=str(tmp_path / "scratch"), report_to="none", use_cpu=True)
    return Trainer(model=model, args=args, processing_class=AutoTokenizer.from_pretrained(tiny_model))


def test_a_save_cut_short_leaves_the_model_as_it_was(trainer, tmp_path, tiny_cache, monkeypatch):
    """A save that fails half way (disk full) leaves the model folder as it was, and no half model in its place."""
    settings = tiny_settings_for(tmp_path / "out", tiny_cache)
    folder = save(trainer, settings)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    real_save = trainer.save_model

    def disk_full(output_dir):
        real_save(output_dir)
        weights = os.path.join(output_dir, "model.safetensors")
        os.truncate(weights, os.path.getsize(weights) // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer, "save_model", disk_full)
    with pytest.raises(OSError):
        save(trainer, settings)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert is_trained(folder)
    monkeypatch.undo()
    save(trainer, settings)  # the next save clears what the cut one left (and reads, splits and writes nothing else)
    assert sorted(path.name for path in folder.parent.iterdir()) == ["model"]


def test_saving_reads_splits_and_fits_nothing(trainer, tmp_path, tiny_cache, monkeypatch):
    """`save` writes the model and the card of the report it is given: no data read, no split made, nothing fitted."""
    settings = tiny_settings_for(tmp_path / "out", tiny_cache)
    made = report(settings, load_split(settings), [])  # the run's report, computed once before saving
    run_folder(settings).split.unlink()

    def forbidden(*args, **kwargs):
        raise AssertionError("saving did work that a run does once, before it saves")

    monkeypatch.setattr("helpers.data.read_table", forbidden)
    monkeypatch.setattr("sklearn.pipeline.Pipeline.fit", forbidden)
    folder = save(trainer, settings, made)
    assert f"{made.train_rows} train, {made.validation_rows} validation" in ModelCard.load(folder / "README.md").text
    assert sorted(path.name for path in folder.parent.iterdir()) == ["model"]


def test_an_unfinished_model_is_never_taken_for_a_trained_one(trainer, tmp_path, tiny_cache, capsys):
    """A model/ whose weights are cut short is reported as unfinished by predict, train and the notebooks."""
    out = tmp_path / "out"
    folder = save(trainer, tiny_settings_for(out, tiny_cache))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert not is_trained(folder)
    unfinished = f"{folder} holds an unfinished model"
    with pytest.raises(UserError, match=unfinished):
        load_trained(folder)
    with pytest.raises(UserError, match=unfinished):
        prepare_output(tiny_settings_for(out, tiny_cache))
    with pytest.raises(UserError, match=unfinished):
        ensure_trained(tiny_settings_for(out, tiny_cache))
    capsys.readouterr()
    status, _, err = run_main("predict", "--model", str(folder), "a headline", capsys=capsys)
    assert status == 1 and unfinished in one_line_error(err)
    assert prepare_output(tiny_settings_for(out, tiny_cache, overwrite=True)) is None
    assert not folder.exists()


def test_a_checkpoint_whose_state_is_being_written_is_not_complete(trainer, tmp_path, tiny_cache):
    """A checkpoint stopped while its trainer_state.json was being written (empty, or cut) is not resumed from."""
    settings = tiny_settings_for(tmp_path / "out", tiny_cache)
    folder = tmp_path / "out" / "checkpoint-14"
    trainer.save_model(str(folder))
    state = folder / "trainer_state.json"
    for cut_short in ("", '{"global_step": 14, "log_hist'):
        state.write_text(cut_short)
        assert checkpoints(settings) == []
    state.write_text(json.dumps({"global_step": 14}))
    assert checkpoints(settings) == [folder]


# ---------------------------------------------------------------------------------------------- the hub unreachable


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:{closed_port}", "http://no-such-hub.invalid"])
def test_a_model_that_cannot_be_loaded_leaves_the_folder_as_it_was(endpoint, tmp_path, tiny_cache):
    """The hub refusing or not resolving: one error line at once (no retry lines), and the output folder as found:
    not made when absent, its files untouched when present. (huggingface_hub alone retries for about 30 s.)"""
    env = clean_env() | {"HF_ENDPOINT": endpoint.format(closed_port=closed_port()), "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_OFFLINE", None)
    args = [sys.executable, "-m", "helpers", "train", "--profile", "tiny", "--cache-dir", str(tiny_cache),
            "--model", "distilbert-base-uncased"]
    absent = subprocess.run([*args, "--output-dir", str(tmp_path / "new")], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert absent.returncode == 1
    assert "the hub cannot be reached" in one_line_error(absent.stderr), "no retry lines, no traceback"
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine\n")
    present = subprocess.run([*args, "--output-dir", str(kept), "--overwrite"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert present.returncode == 1 and "cannot load model 'distilbert-base-uncased'" in one_line_error(present.stderr)
    assert files_in(kept) == ["notes.txt"]


def test_hub_unreachable_is_told_by_the_connection(monkeypatch):
    """A closed port is unreachable (the reason named); a server that answers, even 404, is reachable."""
    import http.server
    import threading

    from huggingface_hub import constants

    from helpers.models import hub_unreachable

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    port = closed_port()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    hub_unreachable.cache_clear()
    assert f"127.0.0.1:{port}" in (hub_unreachable() or "")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        hub_unreachable.cache_clear()
        assert hub_unreachable() is None
    finally:
        server.shutdown()
        server.server_close()
        hub_unreachable.cache_clear()


REFUSED = """
import sys
from helpers import cli
status = cli.main(["train", "--profile", "tiny", "--model", "distilbert-base-uncased", "--output-dir", sys.argv[1]])
print(status, sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "sklearn")
                     or name.startswith(("transformers.models.", "transformers.trainer"))))
"""


def test_a_hub_model_out_of_reach_is_refused_before_transformers(monkeypatch, tmp_path, tiny_model):
    """`train` asks first, with huggingface_hub alone: a hub name neither reachable nor cached is one line, said
    before transformers loads a model class, its Trainer or torch (a process's `sys.modules` after the refusal);
    the tiny model and a local folder are never looked up on the hub."""
    from huggingface_hub import constants

    env = clean_env() | {"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}", "HF_HUB_CACHE": str(tmp_path / "hub"),
                         "HF_HUB_OFFLINE": "0"}
    done = subprocess.run([sys.executable, "-c", REFUSED, str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "the hub cannot be reached" in one_line_error(done.stderr)
    assert done.stdout.split() == ["1", "[]"], done.stdout

    from helpers.models import check_hub_model, hub_unreachable

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    hub_unreachable.cache_clear()
    try:
        with pytest.raises(UserError, match="cannot load model 'distilbert-base-uncased': the hub cannot be reached"):
            check_hub_model("distilbert-base-uncased")
        check_hub_model("tiny-distilbert")
        check_hub_model(str(tiny_model))
    finally:
        hub_unreachable.cache_clear()


# ---------------------------------------------------------------------------------------------- exported folders


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> Path:
    """An output folder with the trained tiny model in `model/` and its export in `onnx/` (as bench-inference)."""
    from helpers.inference import export_folder

    settings, _ = trained
    out = tmp_path_factory.mktemp("exported")
    shutil.copytree(Path(settings.output_dir) / "model", out / "model")
    export_folder(*load_trained(out / "model"), out / "onnx")
    return out


def broken_copy(exported: Path, tmp_path: Path, damage) -> Path:
    """A copy of the output folder whose `onnx/` `damage(folder)` changed: its `onnx/` folder."""
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    damage(out / "onnx")
    return out / "onnx"


@pytest.mark.slow
def test_an_exported_folder_without_model_onnx_runs_its_int8_graph(exported, tmp_path, capsys):
    """model.onnx gone (the int8 graph, config and tokenizer still there): predict runs the int8 graph, and says
    the same as with it; never 'an unfinished model ... --overwrite'."""
    status, whole, err = run_main("predict", "--model", str(exported / "onnx"), "area man wins argument", capsys=capsys)
    assert status == 0, err
    folder = broken_copy(exported, tmp_path, lambda onnx: (onnx / "model.onnx").unlink())
    status, out, err = run_main("predict", "--model", str(folder), "area man wins argument", capsys=capsys)
    assert status == 0 and "unfinished" not in err, err
    assert out == whole


@pytest.mark.slow
def test_an_exported_folder_without_any_graph_names_the_files_and_the_command(exported, tmp_path, capsys):
    """Neither graph left: one line naming both files and the command that writes them, from the model beside."""
    def damage(onnx: Path):
        for graph in onnx.glob("*.onnx"):
            graph.unlink()

    folder = broken_copy(exported, tmp_path, damage)
    status, out, err = run_main("predict", "--model", str(folder), "area man", capsys=capsys)
    line = one_line_error(err)
    assert status == 1 and out == ""
    assert f"{folder} is an exported folder without model.onnx or model_int8.onnx" in line
    assert f"bench-inference --model {folder.parent / 'model'} --output-dir {folder.parent}" in line
    assert "unfinished" not in line


@pytest.mark.slow
def test_an_int8_graph_cut_short_is_one_line(exported, tmp_path, capsys):
    """An interrupted copy of model_int8.onnx: predict ends in one line naming the file and how to write it again,
    not ONNX Runtime's InvalidProtobuf traceback; nothing in the folder changes."""
    def cut(onnx: Path):
        graph = onnx / "model_int8.onnx"
        graph.write_bytes(graph.read_bytes()[:graph.stat().st_size // 3])

    folder = broken_copy(exported, tmp_path, cut)
    before = {name: (folder / name).read_bytes() for name in files_in(folder)}
    status, out, err = run_main("predict", "--model", str(folder), "area man", capsys=capsys)
    line = one_line_error(err)
    assert status == 1 and out == ""
    assert f"{folder / 'model_int8.onnx'} is not a whole ONNX model (InvalidProtobuf" in line
    assert f"bench-inference --model {folder.parent / 'model'}" in line
    assert {name: (folder / name).read_bytes() for name in files_in(folder)} == before


@pytest.mark.slow
def test_bench_inference_on_the_exported_folder_names_the_model_folder(exported, tmp_path, capsys, tiny_cache):
    """`bench-inference --model OUTPUT_DIR/onnx`: one line saying it is an exported folder and to pass
    OUTPUT_DIR/model; nothing written."""
    out = tmp_path / "bench"
    status, _, err = run_main("bench-inference", "--profile", "tiny", "--cache-dir", str(tiny_cache),
                              "--model", str(exported / "onnx"), "--output-dir", str(out), capsys=capsys)
    line = one_line_error(err)
    assert status == 1 and f"{exported / 'onnx'} is an exported folder" in line
    assert f"--model {exported / 'model'}" in line and "unfinished" not in line
    assert not out.exists()
