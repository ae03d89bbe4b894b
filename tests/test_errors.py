"""Every mistake in the data, the settings or the model ends in one clear line through the entry points a user has
(`load_split`/`load_data`, `get_settings`, the command line), and leaves no file behind; warnings are counted."""

from __future__ import annotations

import json

import pytest

from helpers import UserError, get_settings, load_data
from helpers.cli import main
from helpers.split import load_split
from helpers.models import load_tokenizer
from helpers.tokenization import tokenize

from conftest import headline_records, write_table

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
                            "no column 'title' (columns: article_link, headline, is_sarcastic); set TC_TEXT_COLUMN"),
    "label column missing": ("d.csv", headline_records(8), {"label_column": "topic"}, "no column 'topic'"),
    "float label": ("d.json", labelled(0.5), {}, "label 0.5 (row 3) is not one of the ids 0..1"),
    "negative label": ("d.csv", labelled(-1), {}, "label -1 (row 3) is not one of the ids 0..1"),
    "label out of range": ("d.jsonl", labelled(2), {}, "label 2 (row 3) is not one of the ids 0..1"),
    "text among number labels": ("d.json", labelled("yes"), {}, "label 'yes' (row 3) is text"),
    "missing label": ("d.json", labelled(None), {}, "row 3 has no label"),
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
}


def write_case(folder, name: str, content) -> str:
    """Write one case's file into `folder` (nothing for a missing file); its path."""
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write_table(path, content)
    return str(path)


def cli(*argv: str, capsys) -> tuple[int, str]:
    """Run the command line in this process: its exit status and what it wrote to stderr."""
    try:
        status = main(list(argv))
    except SystemExit as exit:
        status = exit.code
    return status, capsys.readouterr().err


def one_line(message: str) -> str:
    """The message, after checking it is one line with no traceback."""
    assert "Traceback" not in message and len(message.strip().splitlines()) == 1, message
    return message.strip()


def files_in(folder) -> list[str]:
    """Every file under `folder` (none when it does not exist)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------- bad data


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_in_python(case, tmp_path, make_settings):
    """`load_split` (which calls `load_data`) raises one line naming the problem, and writes nothing."""
    name, content, overrides, expected = BAD_DATA[case]
    settings = make_settings(data=write_case(tmp_path, name, content), **overrides)
    with pytest.raises(UserError) as caught:
        load_split(settings)
    assert expected in one_line(str(caught.value))
    assert files_in(tmp_path / "out") == []


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_on_the_command_line(case, tmp_path, tiny_cache, capsys):
    """`python -m helpers train` ends with exit status 1 and one `error:` line, and leaves no file behind."""
    name, content, overrides, expected = BAD_DATA[case]
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in overrides.items()]
    status, err = cli("train", "--profile", "tiny", "--data", write_case(tmp_path, name, content),
                      "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tiny_cache), *flags, capsys=capsys)
    assert status == 1
    assert one_line(err).startswith("error: ") and expected in err
    assert files_in(tmp_path / "out") == []


def test_load_data_raises_the_same_line(tmp_path, make_settings):
    """`load_data` itself reports a data problem (the split's cases aside) the same way."""
    name, content, overrides, expected = BAD_DATA["float label"]
    with pytest.raises(UserError, match="is not one of the ids"):
        load_data(make_settings(data=write_case(tmp_path, name, content), **overrides))


# ---------------------------------------------------------------------------------------------- warnings


def test_empty_texts_are_dropped_and_counted(tmp_path, make_settings, capsys):
    """Rows whose text is empty, blank or missing are dropped, and one warning says how many."""
    records = headline_records(8)
    records[1]["headline"], records[4]["headline"], records[6]["headline"] = "", "   \t", None
    df = load_data(make_settings(data=write_case(tmp_path, "d.json", records)))
    assert len(df) == 5 and 1 not in df.index and 6 not in df.index
    assert "dropped 3 rows of d.json with an empty or missing text" in one_line(capsys.readouterr().err)


def test_duplicates_are_counted(tmp_path, make_settings, capsys):
    """Duplicate rows are kept and counted in one warning."""
    records = headline_records(6) + headline_records(2)
    df = load_data(make_settings(data=write_case(tmp_path, "d.csv", records)))
    assert len(df) == 8
    assert "2 duplicate rows" in one_line(capsys.readouterr().err)


def test_text_labels_become_ids_with_their_names(tmp_path, make_settings):
    """Labels given as text are mapped to ids 0..n-1, and the names travel with every part of the split."""
    records = [dict(r, is_sarcastic=["satire", "news", "opinion"][i % 3]) for i, r in enumerate(headline_records(12))]
    settings = make_settings(data=write_case(tmp_path, "d.jsonl", records))
    parts = load_split(settings)
    assert parts["train"].attrs["label_names"] == ["news", "opinion", "satire"]
    assert parts["test"].attrs["label_names"] == ["news", "opinion", "satire"]
    df = load_data(settings)
    assert [df.attrs["label_names"][i] for i in df["label"]] == [r["is_sarcastic"] for r in records]


def test_text_labels_follow_the_order_of_label_names(tmp_path, make_settings):
    """When TC_LABEL_NAMES lists every text label, its order decides the ids."""
    records = [dict(r, is_sarcastic=["sarcastic", "not sarcastic"][i % 2]) for i, r in enumerate(headline_records(6))]
    df = load_data(make_settings(data=write_case(tmp_path, "d.csv", records)))
    assert df.attrs["label_names"] == ["not sarcastic", "sarcastic"]
    assert df["label"].tolist() == [1, 0, 1, 0, 1, 0]


def test_long_texts_are_truncated_and_counted(tmp_path, make_settings, capsys):
    """Texts longer than max_length are cut to it, and one warning counts them."""
    records = [{"headline": f"news {i}", "is_sarcastic": i % 2} for i in range(8)]
    records[2]["headline"] = "word " * 50
    records[5]["headline"] = "another word " * 30
    settings = make_settings(data=write_case(tmp_path, "d.json", records), max_length=12)
    df = load_data(settings)
    capsys.readouterr()
    dataset = tokenize(df, load_tokenizer(settings), settings)
    assert max(len(ids) for ids in dataset.encodings["input_ids"]) == 12
    assert "2 of 8 texts are longer than 12 tokens and were truncated" in one_line(capsys.readouterr().err)


def test_max_length_above_the_models_is_capped(make_settings, capsys):
    """A max_length above what the model takes is lowered to the model's limit, with a warning."""
    settings = make_settings(max_length=100_000)
    tokenizer = load_tokenizer(settings)
    tokenize(load_data(settings).head(4), tokenizer, settings)
    assert f"using {tokenizer.model_max_length}" in one_line(capsys.readouterr().err.splitlines()[-1])


def test_other_scripts_go_through_unharmed(tmp_path, make_settings):
    """Korean, accents and emoji are read exactly as written, in every format."""
    texts = ["북한, 미사일 발사 😱", "café owner 🎉 wins award", "日本語のニュース", "plain english"]
    records = [{"headline": t, "is_sarcastic": i % 2} for i, t in enumerate(texts)]
    for suffix in (".json", ".jsonl", ".csv"):
        df = load_data(make_settings(data=write_case(tmp_path, f"d{suffix}", records)))
        assert df["sentence"].tolist() == texts


# ---------------------------------------------------------------------------------------------- bad settings


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_bad_setting_in_python(case):
    """`get_settings(setting=value)` names the setting, the value and what is allowed."""
    name, value, expected = BAD_SETTINGS[case]
    with pytest.raises(UserError) as caught:
        get_settings("tiny", **{name: value}) if name != "profile" else get_settings(value)
    assert expected in one_line(str(caught.value))


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_bad_setting_from_the_environment(case, monkeypatch):
    """The same value in `TC_<SETTING>` is refused with the same line."""
    name, value, expected = BAD_SETTINGS[case]
    monkeypatch.setenv(f"TC_{name.upper()}", value)
    with pytest.raises(UserError) as caught:
        get_settings("tiny") if name != "profile" else get_settings()
    assert expected in one_line(str(caught.value))


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_bad_setting_on_the_command_line(case, tmp_path, capsys):
    """The same value as a flag: exit status 1, one `error:` line, nothing written."""
    name, value, expected = BAD_SETTINGS[case]
    profile = [] if name == "profile" else ["--profile", "tiny"]
    status, err = cli("train", *profile, f"--{name.replace('_', '-')}={value}", "--output-dir", str(tmp_path / "out"),
                      capsys=capsys)
    assert (status, expected in one_line(err), err.startswith("error: ")) == (1, True, True), err
    assert files_in(tmp_path / "out") == []


def test_unknown_keyword_and_variable(monkeypatch):
    """A misspelt keyword or `TC_` variable is named, with the known ones listed."""
    with pytest.raises(UserError, match="unknown setting 'epoch'; known settings: profile"):
        get_settings("tiny", epoch=3)
    monkeypatch.setenv("TC_EPOCH", "3")
    with pytest.raises(UserError, match="unknown environment variable TC_EPOCH; known ones: TC_PROFILE"):
        get_settings("tiny")


@pytest.mark.parametrize("argv", [["train", "--epoch", "3"], ["train", "--epochs"], ["trian"], []])
def test_command_line_mistakes(argv, capsys):
    """A misspelt or abbreviated flag, a flag without its value, an unknown command: exit status 2, one line."""
    status, err = cli(*argv, capsys=capsys)
    assert status == 2 and one_line(err).startswith("error: ")


@pytest.mark.parametrize("flag, value, message", [
    ("--steps", "2", "--steps 2 is too few"),
    ("--repeat", "0", "--repeat 0 and --predict-rows 640 must both be 1 or more"),
    ("--predict-rows", "0", "--predict-rows 0 must both be 1 or more"),
])
def test_bench_sizes_out_of_range(flag, value, message, tmp_path, tiny_cache, capsys):
    """A benchmark too small to time is refused in one line before anything is loaded, and writes nothing."""
    out = tmp_path / "out"
    status, err = cli("bench", "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out),
                      flag, value, capsys=capsys)
    assert status == 1 and message in one_line(err)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- bad models


def test_model_folder_that_does_not_exist(tmp_path, make_settings, capsys):
    """A model folder that is not there is named, in Python and on the command line."""
    from helpers.finetune import train

    with pytest.raises(UserError, match="model folder .*nowhere does not exist"):
        train(make_settings(model=str(tmp_path / "nowhere")))
    status, err = cli("train", "--profile", "tiny", "--model", str(tmp_path / "nowhere"), "--output-dir",
                      str(tmp_path / "out2"), capsys=capsys)
    assert status == 1 and "does not exist" in one_line(err)


def test_model_that_cannot_classify(tmp_path, make_settings):
    """A checkpoint of a kind that has no sequence-classification head is refused before training."""
    from helpers.finetune import train

    folder = tmp_path / "vision"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(UserError) as caught:
        train(make_settings(model=str(folder)))
    assert "is a 'vit' model, which cannot classify sequences" in one_line(str(caught.value))
    assert files_in(tmp_path / "out") == ["split.json"]  # the split is reusable; no checkpoint, no model
