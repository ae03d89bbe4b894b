"""The model card: written offline into the model folder, parsed by huggingface_hub, carrying the real metrics."""

from __future__ import annotations

import dataclasses
import json
import shutil

import huggingface_hub.constants
import pytest
from huggingface_hub import ModelCard

from helpers.card import is_sarcasm_data, write_card

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
    card = ModelCard.load(write_card(folder, settings))
    assert card.data.base_model == "distilbert-base-uncased" and "not measured yet" in card.text


def test_the_caveat_is_for_the_sarcasm_data_only(make_settings, tmp_path):
    """Only the sarcasm dataset (its URL or its columns) gets the TheOnion/HuffPost caveat."""
    assert is_sarcasm_data(make_settings())
    other = write_table(tmp_path / "topics.csv", [{"title": "a", "topic": "b"}])
    assert not is_sarcasm_data(make_settings(data=str(other), text_column="title", label_column="topic"))
