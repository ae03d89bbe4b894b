"""Split: the tutorial's 75/25 split, reproducibility, stratification, validation, subsets, the saved split, and the
warning about too few train rows."""

from __future__ import annotations

import json
import math

import pytest

from helpers import load_data, split_data
from helpers.layout import run_folder
from helpers.split import evaluation_rows, load_split, split_validation

from support import (
    REAL_DATA,
    headline_records,
    labelled_frame,
    needs_real_data,
    run_main,
    tiny_settings_for,
    warnings_in,
    write_table,
)


def positive_share(df) -> float:
    """The fraction of rows labelled 1."""
    return float(df["label"].mean())


def test_default_split_is_75_25_and_a_partition(tiny_settings):
    """By default a quarter of the rows is held out; train and test are disjoint and cover every row."""
    df = labelled_frame(400)
    train, test = split_data(df, tiny_settings)
    assert (len(train), len(test)) == (300, 100)
    assert set(train.index).isdisjoint(test.index)
    assert set(train.index) | set(test.index) == set(df.index)
    assert train.equals(df.loc[train.index]) and test.equals(df.loc[test.index])


def test_test_size_rounds_up(make_settings):
    """An uneven split gives the test part ceil(test_size * rows), as scikit-learn does."""
    df = labelled_frame(301)
    train, test = split_data(df, make_settings(test_size=0.1))
    assert len(test) == math.ceil(0.1 * 301) and len(train) + len(test) == 301


def test_split_is_reproducible(make_settings):
    """The same settings give the very same rows in the same order; another seed gives others."""
    df = labelled_frame(500)
    first = [part.index.tolist() for part in split_data(df, make_settings())]
    again = [part.index.tolist() for part in split_data(df, make_settings())]
    other = [part.index.tolist() for part in split_data(df, make_settings(split_seed=7))]
    assert first == again
    assert first != other


def test_stratify_keeps_the_class_ratio(make_settings):
    """With stratify, train and test each keep the overall share of sarcastic rows to within 1 point."""
    df = labelled_frame(1000, positives=0.3)
    train, test = split_data(df, make_settings(stratify=True))
    for part in (train, test):
        assert abs(positive_share(part) - positive_share(df)) <= 0.01


def test_split_validation(make_settings):
    """A validation share takes that fraction of the train rows, disjoint from the rest; 0 means none."""
    df = labelled_frame(400)
    settings = make_settings(validation_size=0.2)
    train, _ = split_data(df, settings)
    rest, validation = split_validation(train, settings)
    assert len(validation) == math.ceil(0.2 * len(train))
    assert set(rest.index).isdisjoint(validation.index)
    assert set(rest.index) | set(validation.index) == set(train.index)
    same, none = split_validation(train, make_settings(validation_size=0))
    assert none is None and same is train


def test_evaluation_rows():
    """Training evaluates on the validation rows when there are some, on the test rows otherwise."""
    df = labelled_frame(20)
    a, b, c = df.iloc[:10], df.iloc[10:15], df.iloc[15:]
    assert evaluation_rows({"train": a, "validation": b, "test": c}) is b
    assert evaluation_rows({"train": a, "validation": None, "test": c}) is c


def test_row_subsets(make_settings):
    """train_rows/test_rows pick that many rows out of the full split's parts; more than there are means all."""
    df = labelled_frame(400)
    full_train, full_test = split_data(df, make_settings())
    train, test = split_data(df, make_settings(train_rows=50, test_rows=20))
    assert (len(train), len(test)) == (50, 20)
    assert set(train.index) <= set(full_train.index) and set(test.index) <= set(full_test.index)
    train, test = split_data(df, make_settings(train_rows=10_000, test_rows=10_000))
    assert train.index.tolist() == full_train.index.tolist() and test.index.tolist() == full_test.index.tolist()


def test_load_split_saves_and_reuses(make_settings):
    """load_split writes split.json with each part's original row indices, and later calls read it back."""
    settings = make_settings()
    parts = load_split(settings)
    path = run_folder(settings).split
    saved = json.loads(path.read_text())
    assert saved["train"] == parts["train"].index.tolist()
    assert saved["test"] == parts["test"].index.tolist()
    assert saved["validation"] == parts["validation"].index.tolist(), "a validation split by default"
    df = load_data(settings)
    assert parts["train"].equals(df.loc[saved["train"]])

    saved["train"] = saved["train"][:5]  # a saved split with the same recipe is used as it is
    path.write_text(json.dumps(saved))
    assert load_split(settings)["train"].index.tolist() == saved["train"]


def test_load_split_redoes_a_stale_split(make_settings):
    """When the recipe changes (here test_size), load_split splits again and overwrites split.json."""
    before = load_split(make_settings())
    after = load_split(make_settings(test_size=0.5, validation_size=0.2))
    saved = json.loads(run_folder(make_settings()).split.read_text())
    assert saved["recipe"]["test_size"] == 0.5
    total = sum(len(after[name]) for name in ("train", "validation", "test"))
    assert total == sum(len(before[name]) for name in ("train", "validation", "test"))
    assert len(after["test"]) == math.ceil(0.5 * total)
    assert saved["validation"] == after["validation"].index.tolist()


@needs_real_data
def test_real_data_gives_the_tutorials_split(make_settings):
    """On the real data, the default split is the one printed in the tutorial."""
    settings = make_settings(data=str(REAL_DATA), text_column="text", label_column="type")
    train, test = split_data(load_data(settings), settings)
    assert train.index[:5].tolist() == [7917, 23206, 4611, 11937, 9334]
    assert test.index[:5].tolist() == [22288, 16228, 4905, 8947, 3706]
    assert (len(train), len(test)) == (20031, 6678)
    parts = load_split(settings)  # the default keeps a validation split, carved out of the train rows only
    assert parts["test"].index.equals(test.index), "the tutorial's test rows, unchanged"
    assert (len(parts["train"]), len(parts["validation"])) == (18027, 2004)
    assert set(parts["train"].index) | set(parts["validation"].index) == set(train.index)


@pytest.mark.slow
def test_too_few_train_rows_per_class_warns(tmp_path, tiny_cache, capsys):
    """A file of three rows trains (one row, with one for validation and one for test), and one warning names the rows
    of each class; enough rows: no warning."""
    data = write_table(tmp_path / "three.json", headline_records(3))
    status, _, err = run_main("train", "--profile", "tiny", "--data", str(data), "--epochs", "1", "--cache-dir",
                         str(tiny_cache), "--output-dir", str(tmp_path / "out"), capsys=capsys)
    assert status == 0, err
    train = json.loads((tmp_path / "out" / "split.json").read_text())["train"]
    sarcastic = sum(headline_records(3)[i]["is_sarcastic"] for i in train)
    few = [line for line in warnings_in(err) if "train split" in line]
    assert few == [f"warning: the train split has only 1 rows ({1 - sarcastic} of 'not sarcastic', {sarcastic} of "
                   "'sarcastic'), fewer than 10 of a class: a model trained on so few means little; use more data, "
                   "or a smaller --test-size or --validation-size"]

    enough = tiny_settings_for(tmp_path / "enough", tiny_cache, data=str(
        write_table(tmp_path / "forty.json", headline_records(40))))
    load_split(enough)
    assert not [line for line in warnings_in(capsys.readouterr().err) if "train split" in line]
