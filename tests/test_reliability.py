"""What a classroom brings: an output folder that is a file, a pasted article to classify, the Kaggle copy of the
data (JSON Lines named .json), a file of three rows, two runs on one folder at once, a save cut short, and a slow
network. Each ends in one clear line or a plain success, and nothing is lost."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

import helpers.data as hd
from helpers import UserError, load_data
from helpers.finetune import HOLDER, LOCK, checkpoints, ensure_trained, prepare_output, run_lock, save
from helpers.models import is_trained, load_trained
from helpers.predict import classifier
from helpers.split import _warn_once, load_split

from conftest import ROOT, clean_env, cli, headline_records, one_line_error, tiny_settings_for, warnings_in, write_table


# ---------------------------------------------------------------------------------------------- output folder


@pytest.mark.parametrize("command", ["train", "sweep", "bench"])
@pytest.mark.parametrize("where", ["the folder", "a parent"])
def test_output_dir_that_is_a_file(command, where, tmp_path, tiny_cache, capsys):
    """An --output-dir that is (or lies under) a file ends in one `error:` line naming the file; the file is intact."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("my notes\n")
    out = blocker if where == "the folder" else blocker / "run"
    status, _, err = cli(command, "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out),
                         capsys=capsys)
    assert status == 1
    assert f"{blocker} is a file, not a folder" in one_line_error(err)
    assert blocker.read_text() == "my notes\n"


def test_output_dir_that_is_a_file_in_python(tmp_path, tiny_cache):
    """The notebooks' entry points say the same in a `UserError`."""
    blocker = tmp_path / "out"
    blocker.write_text("")
    with pytest.raises(UserError, match="is a file, not a folder"):
        load_split(tiny_settings_for(blocker, tiny_cache))


# ---------------------------------------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, tiny_model) -> str:
    """A saved sequence classifier on the tiny model (an untrained head: enough to label texts)."""
    folder = tmp_path_factory.mktemp("classifier") / "model"
    AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder)
    return str(folder)


ARTICLE = "area man reads the whole article before sharing it, then writes a long reply about it. " * 60


def test_predict_truncates_a_long_text(classifier_dir, capsys):
    """A pasted article longer than the model takes is labelled, with one warning counting the texts cut."""
    status, out, err = cli("predict", "--model", classifier_dir, ARTICLE, "short headline", capsys=capsys)
    assert status == 0, err
    assert len(out.splitlines()) == 2
    assert warnings_in(err) == [
        "warning: 1 of 2 texts are longer than 512 tokens, the most this model takes, and were truncated"
    ], err


def test_pipeline_truncates_in_python(classifier_dir, capsys):
    """The notebook's `classifier(...)` pipeline labels long texts too, a single text or a list; short ones quietly."""
    labeller = classifier(classifier_dir)
    assert len(labeller([ARTICLE, ARTICLE, "short"])) == 3
    assert "2 of 3 texts are longer than 512 tokens" in capsys.readouterr().err
    assert labeller(ARTICLE)[0]["label"] in {"LABEL_0", "LABEL_1"}
    assert "1 of 1 texts are longer than 512 tokens" in capsys.readouterr().err
    labeller(["short", "also short"])
    assert warnings_in(capsys.readouterr().err) == []


# ---------------------------------------------------------------------------------------------- data


def test_json_lines_named_json_loads(tmp_path, make_settings, capsys):
    """The Kaggle copy (`Sarcasm_Headlines_Dataset.json`: JSON Lines with a .json name) loads, with one note."""
    records = headline_records(12)
    kaggle = write_table(tmp_path / "Sarcasm_Headlines_Dataset.jsonl", records).rename(
        tmp_path / "Sarcasm_Headlines_Dataset.json")
    df = load_data(make_settings(data=str(kaggle)))
    assert df["sentence"].tolist() == [r["headline"] for r in records]
    assert df["label"].tolist() == [r["is_sarcastic"] for r in records]
    assert warnings_in(capsys.readouterr().err) == [
        "warning: Sarcasm_Headlines_Dataset.json holds JSON Lines (one object per line), not a JSON array; "
        "read as JSON Lines"
    ]


def test_too_few_train_rows_per_class_warns(tmp_path, tiny_cache, capsys):
    """A file of three rows trains (one row, with one for validation and one for test), and one warning names the rows
    of each class; enough rows: no warning."""
    _warn_once.cache_clear()
    data = write_table(tmp_path / "three.json", headline_records(3))
    status, _, err = cli("train", "--profile", "tiny", "--data", str(data), "--epochs", "1", "--cache-dir",
                         str(tiny_cache), "--output-dir", str(tmp_path / "out"), capsys=capsys)
    assert status == 0, err
    train = json.loads((tmp_path / "out" / "split.json").read_text())["train"]
    sarcastic = sum(headline_records(3)[i]["is_sarcastic"] for i in train)
    few = [line for line in warnings_in(err) if "train split" in line]
    assert few == [f"warning: the train split has only 1 rows ({1 - sarcastic} of 'not sarcastic', {sarcastic} of "
                   "'sarcastic'), fewer than 10 of a class: a model trained on so few means little; use more data, "
                   "or a smaller TC_TEST_SIZE or TC_VALIDATION_SIZE"]

    enough = tiny_settings_for(tmp_path / "enough", tiny_cache, data=str(
        write_table(tmp_path / "forty.json", headline_records(40))))
    load_split(enough)
    assert not [line for line in warnings_in(capsys.readouterr().err) if "train split" in line]


# ---------------------------------------------------------------------------------------------- one run per folder

HOLD = """
import sys
from helpers import get_settings
from helpers.finetune import run_lock
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


@pytest.mark.parametrize("command", ["train", "bench"])  # a sweep locks each trial's folder only (test_sweep)
def test_second_run_on_a_folder_stops_at_once(command, other_run, tmp_path, tiny_cache, capsys):
    """A run on a folder another run holds stops in one line naming the folder and the other's process id."""
    out = tmp_path / "out"
    status, _, err = cli(command, "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out),
                         capsys=capsys)
    assert status == 1
    assert one_line_error(err) == (f"error: {out} is in use by another run (process {other_run.pid}); wait for it "
                                   "to finish, or choose another --output-dir (TC_OUTPUT_DIR)")
    assert sorted(path.name for path in out.iterdir()) == sorted([HOLDER, LOCK]), "the other run's folder is untouched"


def test_a_killed_run_does_not_block(other_run, tmp_path, tiny_cache):
    """The lock of a process that was killed (its files still there) does not stop the next run."""
    other_run.send_signal(signal.SIGKILL)
    other_run.wait()
    out = tmp_path / "out"
    assert (out / LOCK).exists() and (out / HOLDER).read_text().strip() == str(other_run.pid)
    with run_lock(tiny_settings_for(out, tiny_cache)) as folder:
        assert (folder / HOLDER).read_text().strip() == str(os.getpid())


def test_lock_is_released_on_a_crash_and_is_reentrant(tmp_path, tiny_cache):
    """A run that fails releases the folder (a run in another process can take it); within one run it nests."""
    settings = tiny_settings_for(tmp_path / "out", tiny_cache)
    with pytest.raises(RuntimeError):
        with run_lock(settings):
            with run_lock(settings):  # train inside the command line's run
                pass
            assert (tmp_path / "out" / LOCK).exists(), "still held by the outer run"
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
    save(trainer, settings)  # the next save clears what the cut one left (the card made the split, as train does)
    assert sorted(path.name for path in folder.parent.iterdir()) == ["model", "split.json"]


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
    status, _, err = cli("predict", "--model", str(folder), "a headline", capsys=capsys)
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


# ---------------------------------------------------------------------------------------------- downloads


class Flaky(http.server.BaseHTTPRequestHandler):
    """Serves `body`; the first request is answered by `first` ("stall": nothing in time; "503": an error)."""

    body, first, requests, release = b"", "", 0, threading.Event()

    def do_GET(self):
        type(self).requests += 1
        if type(self).requests == 1 and self.first == "stall":
            self.release.wait(5)  # longer than the client's timeout
            return
        if type(self).requests == 1 and self.first == "503":
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("first, said", [
    ("stall", "warning: no answer from 127.0.0.1 in 0.5 s; retrying, 2 of 3"),
    ("503", "warning: download from 127.0.0.1 failed (Service Unavailable); retrying, 2 of 3"),
])
def test_download_says_what_it_is_doing(first, said, tmp_path, monkeypatch, capsys):
    """A stalled or failed first answer is one line naming the host and the retry; the file arrives with a bar."""
    body = json.dumps(headline_records(200)).encode()
    handler = type("Handler", (Flaky,), {"body": body, "first": first, "requests": 0, "release": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(hd.time, "sleep", lambda seconds: None)  # no backoff wait in a test
    try:
        dest = hd.download(f"http://127.0.0.1:{server.server_port}/sarcasm.json", tmp_path / "sarcasm.json",
                           timeout=0.5)
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()
    assert dest.read_bytes() == body and handler.requests == 2
    err = capsys.readouterr().err
    assert warnings_in(err) == [said]
    assert "downloading sarcasm.json" in err and "100%" in err, "a progress bar while the file arrives"
