"""Every mistake in the data, the settings or the model ends in one clear line through the entry points a user has
(`load_split`/`load_data`, `get_settings`, `train`, the command line), and leaves no file behind."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import torch

from helpers import UserError, get_settings, load_data
from helpers.finetune import train
from helpers.models import load_trained
from helpers.settings import choices, flag, kind
from helpers.split import load_split

from support import files_in, headline_records, one_line_error, refused, run_main, tiny_settings_for, write_table

# ---------------------------------------------------------------------------------------------- the tables


def labelled(label, at: int = 3, n: int = 8) -> list[dict]:
    """`n` good rows with the label of row `at` replaced by `label`."""
    records = headline_records(n)
    records[at]["is_sarcastic"] = label
    return records


# name: (file name, file content: bytes or records, settings, a fragment the message must hold)
BAD_DATA = {
    "missing file": ("absent.csv", None, {}, "does not exist"),
    "unsupported extension": ("d.txt", b"headline,is_sarcastic\na,1\n", {}, "use a .json, .jsonl or .csv"),
    "empty csv": ("d.csv", b"", {}, "is empty"),
    "empty json": ("d.json", b"", {}, "is empty"),
    "header but no rows": ("d.csv", b"headline,is_sarcastic\n", {}, "has no rows"),
    "malformed json": ("d.json", b'[{"headline": "a", "is_sarcastic": 1},', {}, "should hold an array of objects"),
    "json that is not an array": ("d.json", b'{"headline": "a"}', {}, "should hold an array of objects"),
    "malformed jsonl": ("d.jsonl", b'{"headline": "a", "is_sarcastic": 1}\n{]\n', {}, "one JSON object per line"),
    "csv with an open quote": ("d.csv", b'headline,is_sarcastic\n"open quote,1\n', {}, "cannot read"),
    "csv row longer than its header": ("d.csv", b"headline,is_sarcastic\na,1,extra\nb,0\n", {}, "cannot read"),
    "not utf-8": ("d.csv", "headline,is_sarcastic\ncaf\u00e9 society,1\nnews,0\n".encode("latin-1"), {},
                  "is not UTF-8 text (byte 0xe9"),
    "text column missing": ("d.json", headline_records(8), {"text_column": "title"},
                            "no column 'title' (columns: article_link, headline, is_sarcastic); set "),
    "label column missing": ("d.csv", headline_records(8), {"label_column": "topic"}, "no column 'topic'"),
    "float label": ("d.json", labelled(0.5), {},
                    "label 0.5 (item 4 of the array in d.json, counting from 1) is not one of"),
    "negative label": ("d.csv", labelled(-1), {}, "label -1 (line 5 of d.csv) is not one of the ids 0..1"),
    "label out of range": ("d.jsonl", labelled(2), {}, "label 2 (line 4 of d.jsonl) is not one of the ids 0..1"),
    "text among number labels": ("d.json", labelled("yes"), {},
                                 "label 'yes' (item 4 of the array in d.json, counting from 1) is text"),
    "text among number labels in a csv": ("d.csv", labelled("abc"), {},
                                          "label 'abc' (line 5 of d.csv) is text while other"),
    "missing label": ("d.json", labelled(None), {}, "no label in item 4 of the array in d.json, counting from 1"),
    "one class only": ("d.json", [dict(r, is_sarcastic=0) for r in headline_records(8)], {}, "only one class"),
    "too few rows to split": ("d.json", headline_records(4), {"test_size": 0.9}, "too few rows to split: 4 rows"),
    "too few rows for validation": ("d.json", headline_records(5), {"test_size": 0.5, "validation_size": 0.6},
                                    "too few rows to split: 2 rows"),
    "a class too small to stratify": ("d.json", labelled(2, n=12), {"stratify": True, "label_names": "a,b,c"},
                                      "cannot stratify 12 rows"),
}

# name: (setting, value) — each is refused by get_settings, as a TC_ variable and as a flag
BAD_SETTINGS = {
    "unknown profile": ("profile", "huge", "profile='huge' is out of range; it must be one of auto, full"),
    "epochs of the wrong type": ("epochs", "three", "epochs='three' is not a valid float"),
    "zero epochs": ("epochs", "0", "epochs=0.0 is out of range; it must be > 0"),
    "negative epochs": ("epochs", "-1", "epochs=-1.0 is out of range"),
    "batch size 0": ("train_batch_size", "0", "train_batch_size=0 is out of range; it must be > 0"),
    "learning rate 0": ("learning_rate", "0", "learning_rate=0.0 is out of range; it must be > 0"),
    "negative learning rate": ("learning_rate", "-1e-5", "learning_rate=-1e-05 is out of range"),
    "test size 0": ("test_size", "0", "test_size=0.0 is out of range; it must be between 0 and 1"),
    "test size 1": ("test_size", "1", "test_size=1.0 is out of range"),
    "test size above 1": ("test_size", "1.5", "test_size=1.5 is out of range"),
    "unknown precision": ("precision", "fp8", "precision='fp8' is out of range"),
    "fp16 without a GPU": ("precision", "fp16", "fp16' needs a CUDA GPU"),
    "unknown schedule": ("lr_scheduler", "cosine_annealing", "lr_scheduler='cosine_annealing' is out of range; "
                         "it must be one of linear, cosine"),
    "label smoothing 1": ("label_smoothing", "1", "label_smoothing=1.0 is out of range; it must be 0 (none)"),
    "epochs half a number": ("epochs", "1x", "epochs='1x' is not a valid float"),
    "a fraction of a batch": ("train_batch_size", "16.5", "train_batch_size='16.5' is not a valid int"),
    "stratify maybe": ("stratify", "maybe", "stratify='maybe' is not a valid bool"),
    "negative evaluation batch": ("eval_batch_size", "-1", "eval_batch_size=-1 is out of range; it must be > 0"),
    "validation size 1": ("validation_size", "1", "validation_size=1.0 is out of range; it must be 0 (none) or a"),
    "negative warmup": ("warmup_steps", "-1", "warmup_steps=-1.0 is out of range; it must be >= 0"),
    "negative train rows": ("train_rows", "-5", "train_rows=-5 is out of range; it must be >= 0"),
    "max length 0": ("max_length", "0", "max_length=0 is out of range; it must be > 0"),
}


def write_case(folder, name: str, content) -> str:
    """Write one case's file into `folder` (nothing for a missing file); its path."""
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write_table(path, content)
    return str(path)


# ---------------------------------------------------------------------------------------------- bad data


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_in_python(case, tmp_path, make_settings):
    """`load_split` (which calls `load_data`) raises one line naming the problem, and writes nothing."""
    name, content, overrides, expected = BAD_DATA[case]
    settings = make_settings(data=write_case(tmp_path, name, content), **overrides)
    assert expected in refused(load_split, settings)
    assert files_in(tmp_path / "out") == []


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_on_the_command_line(case, tmp_path, tiny_cache, capsys):
    """`python -m helpers train` ends with exit status 1 and one `error:` line, and leaves no file behind."""
    name, content, overrides, expected = BAD_DATA[case]
    flags = [word for key, value in overrides.items() for word in shlex.split(flag(key, value))]
    status, _, err = run_main("train", "--profile", "tiny", "--data", write_case(tmp_path, name, content),
                         "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tiny_cache), *flags, capsys=capsys)
    assert status == 1 and expected in one_line_error(err)
    assert files_in(tmp_path / "out") == []


def test_load_data_raises_the_same_line(tmp_path, make_settings):
    """`load_data` itself reports a data problem (the split's cases aside) the same way."""
    name, content, overrides, expected = BAD_DATA["float label"]
    with pytest.raises(UserError, match="is not one of the ids"):
        load_data(make_settings(data=write_case(tmp_path, name, content), **overrides))


# ---------------------------------------------------------------------------------------------- bad settings


def bad_setting(case: str) -> tuple[str, str, str]:
    """Case `case` of BAD_SETTINGS; "fp16 without a GPU" is skipped where there is one (fp16 is allowed there)."""
    if case == "fp16 without a GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, where fp16 is allowed (test_hardware fakes the machines without)")
    return BAD_SETTINGS[case]


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_bad_setting_in_python(case):
    """`get_settings(setting=value)` names the setting, the value and what is allowed."""
    name, value, expected = bad_setting(case)
    assert expected in refused(get_settings, **{"profile": "tiny", name: value})


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_bad_setting_from_the_environment(case, monkeypatch):
    """The same value in `TC_<SETTING>` is refused with the same line."""
    name, value, expected = bad_setting(case)
    monkeypatch.setenv(f"TC_{name.upper()}", value)
    assert expected in refused(get_settings, **({} if name == "profile" else {"profile": "tiny"}))


def refused_by_argparse(name: str, value: str) -> bool:
    """True when the parser itself refuses `value` for setting `name`: a value after a switch, a value outside the
    setting's choices, or one not of its type ("three" for a float, "16.5" for an int)."""
    if kind(name) is bool or choices(name):
        return kind(name) is bool or value not in choices(name)
    try:
        kind(name)(value)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_bad_setting_on_the_command_line(case, tmp_path, capsys):
    """The same value as a flag: one `error:` line, nothing written; exit status 2 with argparse's message when the
    value is not of the flag's type or choices (or follows a switch), else 1 with the settings' own line."""
    name, value, expected = bad_setting(case)
    profile = [] if name == "profile" else ["--profile", "tiny"]
    status, _, err = run_main("train", *profile, f"{flag(name)}={value}", "--output-dir", str(tmp_path / "out"),
                              capsys=capsys)
    line = one_line_error(err)
    if refused_by_argparse(name, value):
        assert status == 2 and f"argument {flag(name)}" in line
    else:
        assert status == 1 and expected in line
    assert files_in(tmp_path / "out") == []


def test_unknown_keyword_and_variable(monkeypatch):
    """A misspelt keyword or `TC_` variable is named, with the likely one first and the known ones listed."""
    with pytest.raises(UserError, match=r"unknown setting 'epoch' \(did you mean epochs\?\); known settings: profile"):
        get_settings("tiny", epoch=3)
    with pytest.raises(UserError, match="unknown setting 'zzz'; known settings: profile"):  # nothing close: no guess
        get_settings("tiny", zzz=3)
    monkeypatch.setenv("TC_EPOCH", "3")
    with pytest.raises(UserError, match=r"unknown environment variable TC_EPOCH \(did you mean TC_EPOCHS\?\); "
                                        "known ones: TC_PROFILE"):
        get_settings("tiny")


@pytest.mark.parametrize("argv", [["train", "--epoch", "3"], ["train", "--epochs"], ["train", "--no-such-flag", "1"],
                                  ["trian"], []])
def test_command_line_mistakes(argv, capsys):
    """A misspelt or abbreviated flag, a flag without its value, an unknown command: exit status 2, one line."""
    status, _, err = run_main(*argv, capsys=capsys)
    assert status == 2 and one_line_error(err)
    if argv[1:2] == ["--epoch"]:
        assert "unrecognized arguments: --epoch 3; did you mean --epochs?" in err
    if argv[1:2] == ["--no-such-flag"]:
        assert "did you mean" not in err


@pytest.mark.parametrize("flag, value, message", [
    ("--steps", "2", "--steps 2 is too few"),
    ("--repeat", "0", "--repeat 0 and --predict-rows 640 must both be 1 or more"),
    ("--predict-rows", "0", "--predict-rows 0 must both be 1 or more"),
])
def test_bench_sizes_out_of_range(flag, value, message, tmp_path, tiny_cache, capsys):
    """A benchmark too small to time is refused in one line before anything is loaded, and writes nothing."""
    out = tmp_path / "out"
    status, _, err = run_main("bench", "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out),
                         flag, value, capsys=capsys)
    assert status == 1 and message in one_line_error(err)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- bad models


def test_model_folder_that_does_not_exist(tmp_path, make_settings, capsys):
    """A model folder that is not there is named, in Python and on the command line."""
    message = refused(train, make_settings(model=str(tmp_path / "nowhere")))
    assert re.search("model folder .*nowhere does not exist", message)
    status, _, err = run_main("train", "--profile", "tiny", "--model", str(tmp_path / "nowhere"), "--output-dir",
                         str(tmp_path / "out2"), capsys=capsys)
    assert status == 1 and "does not exist" in one_line_error(err)


def test_model_that_cannot_classify(tmp_path, make_settings):
    """A checkpoint of a kind that has no sequence-classification head is refused before training."""
    folder = tmp_path / "vision"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vit"}))
    assert "is a 'vit' model, which cannot classify sequences" in refused(train, make_settings(model=str(folder)))
    assert not (tmp_path / "out").exists(), "nothing written: the model is checked before the split is saved"


def test_a_folder_without_a_trained_model(tmp_path, capsys):
    """Predicting with a folder that holds no trained model says to train first, in Python and on the command line."""
    assert "train" in refused(load_trained, tmp_path)
    status, _, err = run_main("predict", "--model", str(tmp_path), "a headline", capsys=capsys)
    assert status == 1 and str(tmp_path) in one_line_error(err)


# ---------------------------------------------------------------------------------------------- output folder


@pytest.mark.parametrize("command", ["train", "sweep", "bench"])
@pytest.mark.parametrize("where", ["the folder", "a parent"])
def test_output_dir_that_is_a_file(command, where, tmp_path, tiny_cache, capsys):
    """An --output-dir that is (or lies under) a file ends in one `error:` line naming the file; the file is intact."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("my notes\n")
    out = blocker if where == "the folder" else blocker / "run"
    status, _, err = run_main(command, "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out),
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
