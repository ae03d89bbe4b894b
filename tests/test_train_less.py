"""Training less (notebook 09): which weights learn (`train_layers`), LoRA adapters through peft (`lora_rank`), the
blocks found through each model's own structure, and a LoRA run's saved adapter reloaded, predicted and exported.

`helpers/models.py` holds the functions; decoder-only models (GPT-2, Llama) are in `test_decoder_models.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers.models import (blocks, head_modules, is_adapter, load_adapter, load_model, load_trained, lora_config,
                            train_only, trainable_parameters)

from support import notebook_cells, notebook_path, one_line_error, refused, run_cli, run_main, tiny_settings_for

NAMES = ["not sarcastic", "sarcastic"]


def trained_names(model: torch.nn.Module) -> set[str]:
    """The names of the weights that learn."""
    return {name for name, parameter in model.named_parameters() if parameter.requires_grad}


def bert_classifier():
    """A tiny randomly initialised BERT classifier, built here: its blocks sit in bert.encoder.layer, a pooler after."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=3,
                                                    num_attention_heads=2, intermediate_size=32))


def test_the_blocks_and_the_head_are_found_from_the_structure(make_settings):
    """DistilBERT's blocks are distilbert.transformer.layer and its head pre_classifier and classifier; BERT's are
    bert.encoder.layer and classifier: found from the modules, as many blocks as the config says."""
    model = load_model(make_settings(), NAMES)
    assert blocks(model) is model.distilbert.transformer.layer and len(blocks(model)) == model.config.n_layers
    assert head_modules(model) == ["pre_classifier", "classifier"]
    bert = bert_classifier()
    assert blocks(bert) is bert.bert.encoder.layer and len(blocks(bert)) == 3
    assert head_modules(bert) == ["classifier"]


def test_train_layers_head_leaves_only_the_head_learning(make_settings):
    """head: the classification head's weights learn, nothing of the pretrained body; fewer weights than all."""
    everything = load_model(make_settings(), NAMES)
    head = load_model(make_settings(train_layers="head"), NAMES)
    assert trained_names(head) == {name for name, _ in head.named_parameters()
                                   if name.split(".")[0] in ("pre_classifier", "classifier")}
    assert 0 < trainable_parameters(head) < trainable_parameters(everything) == everything.num_parameters()


def test_train_layers_n_adds_the_last_blocks_and_what_follows_them():
    """N: the last N blocks, what the body holds after them (BERT's pooler) and the head; earlier blocks and the
    embeddings stay as they are."""
    bert = train_only(bert_classifier(), "2")
    names = trained_names(bert)
    assert {name.split(".")[3] for name in names if ".encoder.layer." in name} == {"1", "2"}
    assert any(name.startswith("bert.pooler.") for name in names) and any(n.startswith("classifier.") for n in names)
    assert not any("embeddings" in name or ".layer.0." in name for name in names)
    assert trained_names(train_only(bert, "all")) == {name for name, _ in bert.named_parameters()}


def test_more_blocks_than_the_model_has_is_one_line(make_settings):
    """train_layers above the model's blocks: one line naming how many there are."""
    message = refused(load_model, make_settings(train_layers="5"), NAMES)
    assert "train_layers='5'" in message and "(2)" in message


def test_lora_wraps_every_linear_layer_of_the_blocks_and_trains_the_head(make_settings):
    """lora_rank: peft's adapters on the blocks' Linear layers, and only there; the adapters and the head learn,
    the pretrained weights do not."""
    model = load_model(make_settings(lora_rank=4), NAMES)
    wrapped = {name for name, module in model.named_modules() if hasattr(module, "lora_A")}
    linear = {name for name, module in blocks(load_model(make_settings(), NAMES)).named_modules()
              if isinstance(module, torch.nn.Linear)}
    assert {name.split(".layer.", 1)[1] for name in wrapped} == linear and len(linear) == 12
    learning = trained_names(model)
    assert all("lora_" in name or "modules_to_save" in name for name in learning)
    assert any("classifier.modules_to_save" in name for name in learning)
    assert any("pre_classifier.modules_to_save" in name for name in learning)
    config = lora_config(model.base_model.model, 4, 16)
    assert config.r == 4 and config.lora_alpha == 16 and config.task_type == "SEQ_CLS"


def test_lora_trains_what_follows_the_blocks_too():
    """BERT's pooler sits in the body after the blocks, on the way to the head: LoRA trains and saves it whole
    (modules_to_save), as train_layers N trains it; the embeddings and the blocks' own weights stay frozen."""
    from peft import get_peft_model

    model = get_peft_model(bert_classifier(), lora_config(bert_classifier(), 4, 16))
    learning = trained_names(model)
    assert any("bert.pooler.modules_to_save" in name for name in learning)
    assert any("classifier.modules_to_save" in name for name in learning)
    assert not any("embeddings" in name for name in learning)
    assert all("lora_" in name or "modules_to_save" in name for name in learning)


def test_lora_and_train_layers_together_is_one_line(make_settings):
    """Both choose which weights learn: asking for both is one line."""
    assert "set one of them" in refused(make_settings, lora_rank=4, train_layers="head")


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_cache) -> Path:
    """`python -m helpers train --lora-rank 4` on the tiny profile, once for this file's tests: its output folder."""
    out = tmp_path_factory.mktemp("lora") / "out"
    done = run_cli("train", "--profile", "tiny", "--lora-rank", "4", "--output-dir", str(out),
                   "--cache-dir", str(tiny_cache), "--max-steps", "8")
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
def test_notebook_05s_reload_takes_a_lora_runs_folder(lora_run, tiny_cache):
    """Notebook 05's reload cell, run on a LoRA run's folder: the base model with the adapter merged in, a plain
    classifier again, with the run's labels, answering as `load_trained` does."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from helpers import data, models

    reload = next(source for kind, source in notebook_cells(notebook_path("05"))
                  if kind == "code" and "AutoModelForSequenceClassification.from_pretrained(folder)" in source)
    namespace = {"AutoModelForSequenceClassification": AutoModelForSequenceClassification, "data": data,
                 "AutoTokenizer": AutoTokenizer, "models": models, "folder": lora_run / "model",
                 "settings": tiny_settings_for(lora_run, tiny_cache, lora_rank=4)}
    exec(compile(reload, "05_predict", "exec"), namespace)  # noqa: S102: our own notebook
    model, tokenizer = namespace["model"], namespace["tokenizer"]
    assert not hasattr(model, "peft_config") and namespace["names"] == NAMES
    batch = tokenizer(["area man wins argument with self", "senate passes budget bill"], padding=True,
                      return_tensors="pt")
    reference, _ = load_trained(lora_run / "model")
    with torch.no_grad():
        assert torch.allclose(model.eval()(**batch).logits, reference.eval()(**batch).logits, atol=1e-5)


@pytest.mark.slow
def test_a_lora_run_saves_an_adapter_on_its_base_and_predicts(lora_run, tiny_model, capsys):
    """The saved folder: peft's adapter and the head, the config (labels), the tokenizer, and a card saying
    "adapter on" its base; no copy of the base weights; metrics.json counts the weights that learned; predict
    labels new headlines from it."""
    folder = lora_run / "model"
    assert is_adapter(folder) and not (folder / "model.safetensors").exists()
    assert json.loads((folder / "config.json").read_text())["id2label"] == {"0": NAMES[0], "1": NAMES[1]}
    assert "A LoRA adapter on the local model folder `tiny-distilbert`" in (folder / "README.md").read_text()
    base_size = (tiny_model / "model.safetensors").stat().st_size
    assert (folder / "adapter_model.safetensors").stat().st_size < base_size / 2
    metrics = json.loads((lora_run / "metrics.json").read_text())
    model, _ = load_trained(folder)
    assert 0 < metrics["trainable_parameters"] < model.num_parameters() / 2
    texts = ["area man wins argument with self", "senate passes budget bill"]
    status, printed, err = run_main("predict", "--model", str(folder), *texts, capsys=capsys)
    assert status == 0, err
    assert [line.split("\t")[2] for line in printed.strip().splitlines()] == texts


@pytest.mark.slow
def test_the_merged_model_answers_as_the_adapter_does(lora_run):
    """load_trained merges the adapter into the base weights (merge_and_unload): a plain model, no LoRA layer left,
    with the same logits as the base model with the adapter on it."""
    from transformers import AutoTokenizer

    folder = lora_run / "model"
    merged, tokenizer = load_trained(folder)
    unmerged = load_adapter(folder, merge=False)
    assert not any(hasattr(module, "lora_A") for module in merged.modules())
    batch = AutoTokenizer.from_pretrained(folder)(["area man wins", "senate passes bill today"], padding=True,
                                                  return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(merged.eval()(**batch).logits, unmerged.eval()(**batch).logits, atol=1e-5)


@pytest.mark.slow
def test_bench_inference_exports_a_lora_run_merged(lora_run, tmp_path, capsys):
    """`bench-inference` on a LoRA run: the merged model exported to ONNX agrees with it in float32."""
    out = tmp_path / "bench"
    status, _, err = run_main("bench-inference", "--profile", "tiny", "--model", str(lora_run / "model"),
                              "--output-dir", str(out), "--cache-dir", str(lora_run.parent.parent / "cache"),
                              capsys=capsys)
    assert status == 0, err
    rows = {row["name"]: row for row in json.loads((out / "bench_inference.json").read_text())["paths"]}
    assert rows["ONNX Runtime float32"]["agreement"] >= 0.98
    assert rows["float32"]["size_mb"] > 0 and (out / "onnx" / "model.onnx").is_file()


@pytest.mark.slow
def test_a_head_only_run_saves_a_whole_model(tmp_path, tiny_cache, capsys):
    """train --train-layers head: a normal saved model (no adapter), and metrics.json counts the head's weights."""
    out = tmp_path / "out"
    status, _, err = run_main("train", "--profile", "tiny", "--train-layers", "head", "--output-dir", str(out),
                              "--cache-dir", str(tiny_cache), "--max-steps", "4", capsys=capsys)
    assert status == 0, err
    assert not is_adapter(out / "model") and (out / "model" / "model.safetensors").is_file()
    model, _ = load_trained(out / "model")
    head = sum(parameter.numel() for name in head_modules(model) for parameter in getattr(model, name).parameters())
    assert json.loads((out / "metrics.json").read_text())["trainable_parameters"] == head


def test_a_wrong_train_layers_flag_is_one_line(capsys):
    """--train-layers takes all, head or a number: anything else is one line before anything loads."""
    _, _, err = run_main("settings", "--profile", "tiny", "--train-layers", "last", capsys=capsys)
    assert "all, head, or a number" in one_line_error(err)


@pytest.mark.slow
def test_training_less_under_torchrun(tmp_path, tiny_cache):
    """Two processes (torchrun, gloo on the CPU) train with LoRA: DDP syncs only the weights that learn (the body is
    frozen, as in a last-blocks run), process 0 saves the adapter once. A last-blocks run saves a whole model, as
    training every weight does under torchrun (test_distributed)."""
    import subprocess
    import sys

    from support import ROOT, clean_env

    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "helpers",
         "train", "--profile", "tiny", "--cache-dir", str(tiny_cache), "--max-steps", "4", "--output-dir", str(out),
         "--lora-rank", "4"], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("model saved in") == 1
    assert is_adapter(out / "model")
    assert json.loads((out / "metrics.json").read_text())["trainable_parameters"] > 0
