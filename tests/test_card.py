"""The model card: written offline into the model folder, parsed by huggingface_hub, carrying the real metrics."""

from __future__ import annotations

import dataclasses
import json
import shutil

import huggingface_hub.constants
import pytest
from huggingface_hub import ModelCard

from helpers.card import Report, is_sarcasm_data, render, report, write_card
from helpers.data import read_data
from helpers.split import load_split

from support import run_cli, write_table


@pytest.fixture(scope="module")
def trained_by_cli(tmp_path_factory, tiny_cache):
    """A tiny model trained by `python -m helpers train` with the hub offline: its output folder."""
    out = tmp_path_factory.mktemp("card") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        result = run_cli("train", "--profile", "tiny", "--max-steps", "10", "--output-dir", str(out),
                         "--cache-dir", str(tiny_cache))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_card_carries_the_real_metrics(trained_by_cli):
    """The card parses, and shows the validation and test accuracy metrics.json holds, beside the baselines."""
    card = ModelCard.load(trained_by_cli / "model" / "README.md")
    metrics = json.loads((trained_by_cli / "metrics.json").read_text())
    assert card.data.pipeline_tag == "text-classification" and card.data.base_model is None  # the tiny model is local
    assert f"| validation | this model | {metrics['validation_accuracy']:.3f} |" in card.text
    assert f"| test | this model | {metrics['accuracy']:.3f} | {metrics['f1']:.3f} |" in card.text
    assert "| test | TF-IDF + logistic regression |" in card.text and "| test | majority class |" in card.text
    rows = f"{metrics['train_rows']} train, {metrics['validation_rows']} validation, {metrics['test_rows']} test"
    assert rows in card.text
    assert "TheOnion" in card.text and "not measured yet" not in card.text


@pytest.mark.slow
def test_card_renders_offline_and_names_a_hub_base_model(trained_by_cli, tiny_settings, monkeypatch, tmp_path):
    """With the hub offline, a card for a hub base model renders with it in the metadata, test metrics still to come."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    folder = shutil.copytree(trained_by_cli / "model", tmp_path / "model")
    settings = dataclasses.replace(tiny_settings, model="distilbert-base-uncased", output_dir=str(trained_by_cli))
    log_history = json.loads((folder / "log_history.json").read_text())
    card = ModelCard.load(write_card(folder, report(settings, load_split(settings), log_history)))
    assert card.data.base_model == "distilbert-base-uncased" and "not measured yet" in card.text


def test_the_caveat_is_for_the_sarcasm_data_only(make_settings, tmp_path):
    """Only the sarcasm dataset (its URL or its columns) gets the TheOnion/HuffPost caveat."""
    sarcasm = make_settings()
    assert is_sarcasm_data(sarcasm, read_data(sarcasm).columns)  # the file's own columns, read with its rows
    other = write_table(tmp_path / "topics.csv", [{"title": "a", "topic": "b"}, {"title": "c", "topic": "d"}])
    settings = make_settings(data=str(other), text_column="title", label_column="topic")
    assert not is_sarcasm_data(settings, read_data(settings).columns)


def a_report(**changes) -> Report:
    """A report written out by hand, as a run would compute it."""
    values = dict(
        model="distilbert-base-uncased", hub_model=True, data="headlines.json", text_column="headline",
        label_column="is_sarcastic", labels=["not sarcastic", "sarcastic"], train_rows=80, validation_rows=10,
        test_rows=30, split_seed=123, sarcasm=False, hyperparameters={"epochs": 3, "learning_rate": 5e-5},
        evaluated="validation", validation={"accuracy": 0.81234, "f1": 0.7},
        baselines={"validation": {"majority class": {"accuracy": 0.6, "f1": 0.0}},
                   "test": {"majority class": {"accuracy": 0.5, "f1": 0.0},
                            "TF-IDF + logistic regression": {"accuracy": 0.7, "f1": 0.65}}},
    )
    return Report(**values | changes)


def test_render_shows_the_report_and_nothing_else(monkeypatch):
    """The card is the report's numbers, rounded: the test rows only once measured; rendering fits nothing."""
    def no_fitting(*args, **kwargs):
        raise AssertionError("render fitted a baseline")

    monkeypatch.setattr("sklearn.pipeline.Pipeline.fit", no_fitting)
    untested = render(a_report()).text
    assert "| validation | this model | 0.812 | 0.700 |" in untested
    assert "| validation | majority class | 0.600 | 0.000 |" in untested
    assert "| test |" not in untested and "not measured yet" in untested and "TheOnion" not in untested
    assert "80 train, 10 validation, 30 test (split seed 123)" in untested and "| learning_rate | 5e-05 |" in untested
    tested = render(a_report(test={"accuracy": 0.75, "f1": 0.5}, sarcasm=True)).text
    assert "| test | this model | 0.750 | 0.500 |" in tested
    assert "| test | TF-IDF + logistic regression | 0.700 | 0.650 |" in tested
    assert "not measured yet" not in tested and "TheOnion" in tested


def test_the_baselines_are_fitted_once_for_every_set_of_rows(make_settings, monkeypatch):
    """The report scores the baselines on the validation and the test rows, training TF-IDF once."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = make_settings()
    parts = load_split(settings)
    fits = []
    real = TfidfVectorizer.fit_transform
    monkeypatch.setattr(TfidfVectorizer, "fit_transform", lambda self, *a, **k: fits.append(1) or real(self, *a, **k))
    made = report(settings, parts, [{"eval_accuracy": 0.5, "eval_f1": 0.4}, {"eval_accuracy": 0.75, "eval_f1": 0.6}])
    assert len(fits) == 1
    assert set(made.baselines) == {"validation", "test"}
    assert all("TF-IDF + logistic regression" in table for table in made.baselines.values())
    assert made.validation == {"accuracy": 0.75, "f1": 0.6}  # the kept epoch: the best accuracy
    assert (made.train_rows, made.validation_rows, made.test_rows) == tuple(len(parts[name]) for name in
                                                                            ("train", "validation", "test"))


def test_a_baseline_that_cannot_be_fitted_leaves_the_card_without_baselines(make_settings, monkeypatch, capsys):
    """scikit-learn failing on the baselines is a line said, and a report (so a saved model) all the same."""
    def broken(*args, **kwargs):
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")

    monkeypatch.setattr("sklearn.pipeline.Pipeline.fit", broken)
    settings = make_settings()
    made = report(settings, load_split(settings), [{"eval_accuracy": 0.75, "eval_f1": 0.6}])
    assert made.baselines == {}
    assert "no baselines" in capsys.readouterr().err
    text = render(made).text
    assert "| validation | this model | 0.750 | 0.600 |" in text and "majority class |" not in text
