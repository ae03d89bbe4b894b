"""Models: loading a model and its tokenizer (the tiny one built on demand), which weights learn, one-line errors."""

from __future__ import annotations

import dataclasses

import pytest
from transformers import AutoTokenizer

from helpers.models import ensure_model, load_tokenizer

from support import refused


@pytest.mark.slow
def test_ensure_model_builds_the_tiny_model_for_auto_tokenizer(make_settings, tmp_path):
    """Notebook 03's `AutoTokenizer.from_pretrained(settings.model)` works once `ensure_model` built the tiny model."""
    settings = make_settings(cache_dir=tmp_path / "fresh-cache")
    assert ensure_model(settings) == settings.model
    assert AutoTokenizer.from_pretrained(settings.model).get_vocab() == load_tokenizer(settings).get_vocab()


def test_load_tokenizer_gives_the_tiny_tokenizer(tiny_settings, tiny_tokenizer):
    """load_tokenizer on the tiny profile loads the session's tiny model's fast tokenizer."""
    tokenizer = load_tokenizer(tiny_settings)
    assert tokenizer.is_fast
    assert tokenizer.get_vocab() == tiny_tokenizer.get_vocab()


@pytest.mark.parametrize("kind", ["empty folder", "hub name"])  # a missing folder: test_errors
def test_load_tokenizer_errors_are_user_errors(kind, tiny_settings, tmp_path, monkeypatch):
    """A model that cannot be loaded is a one-line UserError naming it, not an OSError."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no minute of retries offline
    (tmp_path / "empty").mkdir()
    model = {"empty folder": str(tmp_path / "empty"),
             "hub name": "no-such-org-xyz/no-such-model-xyz"}[kind]
    assert model in refused(load_tokenizer, dataclasses.replace(tiny_settings, model=model))  # a UserError, no OSError




def test_frozen_embeddings_leave_only_the_table_out(make_settings):
    """`freeze_embeddings` takes the word-embedding table, and only it, out of what training updates."""
    from helpers.models import load_model

    names = ["not sarcastic", "sarcastic"]
    learning = load_model(make_settings(), names)
    frozen = load_model(make_settings(freeze_embeddings=True), names)
    assert all(p.requires_grad for p in learning.parameters())
    still = {name for name, p in frozen.named_parameters() if not p.requires_grad}
    table = {name for name, p in frozen.named_parameters() if p is frozen.get_input_embeddings().weight}
    assert still == table and len(table) == 1


def test_an_adapter_whose_base_model_is_gone_is_one_line(tmp_path):
    """A LoRA run's folder holds only the adapter: when the base model folder it names is gone, loading it says so
    in one line, naming both."""
    import json

    import torch
    from safetensors.torch import save_file

    from helpers.models import load_adapter

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path / "gone")}))
    (folder / "config.json").write_text(json.dumps({"model_type": "distilbert",
                                                    "architectures": ["DistilBertForSequenceClassification"]}))
    save_file({"w": torch.zeros(1)}, folder / "adapter_model.safetensors")
    message = refused(load_adapter, folder)
    assert str(tmp_path / "gone") in message and "goes on the base model" in message
