"""Any classification model a learner picks: decoder-only models (GPT-2, Llama) have no padding token; a checkpoint
fine-tuned for other labels is one line.

The tiny GPT-2 and the tiny Llama-style model are built here, from the shipped sample headlines, with a byte-level
BPE tokenizer that has an end-of-text token and no padding token, as the real ones: no download.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.models import blocks, head_modules, load_model, load_tokenizer, load_trained, trainable_parameters
from helpers.tiny import sample_texts

from support import one_line_error, refused, run_cli, run_main

EOS = "<|endoftext|>"


def byte_level_tokenizer(vocab_size: int = 400):
    """A GPT-2-style byte-level BPE tokenizer learned from the sample headlines: an end-of-text token, no padding."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(sample_texts(), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS,
                                   model_max_length=128)


def build_decoder(folder: Path, kind: str, positions: int = 128) -> Path:
    """A tiny randomly initialised GPT-2 or Llama-style language model with its tokenizer, saved in `folder`; its
    position table `positions` long."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = byte_level_tokenizer()
    eos = tokenizer.convert_tokens_to_ids(EOS)
    if kind == "gpt2":
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=32, n_layer=2, n_head=2,
                            bos_token_id=eos, eos_token_id=eos)
        body = GPT2LMHeadModel
    else:
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=positions,
                             bos_token_id=eos, eos_token_id=eos)
        body = LlamaForCausalLM
    torch.manual_seed(0)
    body(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session", params=["gpt2", "llama"])
def decoder(request, tmp_path_factory) -> Path:
    """The folder of a tiny GPT-2 or Llama-style model, built once a session."""
    return build_decoder(tmp_path_factory.mktemp(request.param) / "model", request.param)


def test_the_fixture_models_have_no_padding_token(decoder):
    """As GPT-2 and Llama on the hub: the saved tokenizer has an end-of-text token and no padding token."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(decoder)
    assert tokenizer.pad_token is None and tokenizer.eos_token == EOS
    assert AutoConfig.from_pretrained(decoder).pad_token_id is None


def test_load_tokenizer_and_model_pad_with_the_end_of_text_token(decoder, make_settings):
    """load_tokenizer pads with the end-of-text token and load_model tells the model its id, as notebooks 03 and 04
    do; then a batch of headlines of different lengths gets the same logits as each headline alone."""
    import torch

    settings = make_settings(model=str(decoder))
    tokenizer = load_tokenizer(settings)
    assert tokenizer.pad_token == tokenizer.eos_token == EOS
    model = load_model(settings, ["not sarcastic", "sarcastic"]).eval()
    assert model.config.pad_token_id == tokenizer.pad_token_id == tokenizer.convert_tokens_to_ids(EOS)
    texts = ["area man wins argument with self", "senate passes bill", "local dog elected mayor of small town today"]
    with torch.no_grad():
        batch = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
        alone = torch.cat([model(**tokenizer([text], return_tensors="pt")).logits for text in texts])
    assert torch.allclose(batch, alone, atol=1e-5), "each row classified from its own last real token"


def test_a_tokenizer_without_padding_or_end_token_is_one_line(decoder, make_settings, tmp_path):
    """A tokenizer with neither a padding nor an end-of-text token cannot pad a batch: one line saying so."""
    from transformers import AutoTokenizer

    folder = tmp_path / "no-eos"
    build_decoder(folder, "gpt2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.eos_token = tokenizer.bos_token = tokenizer.unk_token = None
    tokenizer.save_pretrained(folder)
    message = refused(load_tokenizer, make_settings(model=str(folder)))
    assert "neither a padding token nor an end-of-text token" in message and str(folder) in message


@pytest.mark.slow
def test_a_decoder_only_model_trains_and_predicts_on_the_command_line(decoder, tmp_path, capsys):
    """`python -m helpers train --model DIR` (its `main`, in this process) fine-tunes the tiny GPT-2 or Llama-style
    model, saves it with its padding token, and `python -m helpers predict` labels new headlines with it."""
    out = tmp_path / "out"
    status, _, err = run_main("train", "--profile", "tiny", "--model", str(decoder), "--output-dir", str(out),
                              "--cache-dir", str(tmp_path / "cache"), "--max-steps", "6", capsys=capsys)
    assert status == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1 and metrics["test_rows"] > 0
    model, tokenizer = load_trained(out / "model")
    assert tokenizer.pad_token == EOS and model.config.pad_token_id == tokenizer.pad_token_id
    assert json.loads((out / "model" / "config.json").read_text())["pad_token_id"] == tokenizer.pad_token_id
    texts = ["area man wins argument with self", "scientists discover new species of frog in the amazon"]
    status, printed, err = run_main("predict", "--model", str(out / "model"), *texts, capsys=capsys)
    assert status == 0, err
    rows = [line.split("\t") for line in printed.strip().splitlines()]
    assert [row[2] for row in rows] == texts
    assert all(row[0] in ("not sarcastic", "sarcastic") and 0.5 <= float(row[1]) <= 1 for row in rows), rows


def three_class_checkpoint(folder: Path, tiny_model: Path) -> Path:
    """The tiny model with a 3-class head named a, b, c, saved as a fine-tuned checkpoint would be."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    names = ["a", "b", "c"]
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model, num_labels=3, id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder)
    return folder


def test_a_head_that_does_not_fit_the_labels_is_one_error_line(tiny_model, tmp_path, capsys):
    """Fine-tuning a 3-class checkpoint on the 2-class sarcasm sample ends in one line naming both label sets."""
    checkpoint = three_class_checkpoint(tmp_path / "three", tiny_model)
    status, _, err = run_main("train", "--profile", "tiny", "--model", str(checkpoint), "--output-dir",
                              str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--max-steps", "2",
                              capsys=capsys)
    assert status != 0
    line = one_line_error(err)
    assert "fine-tuned for the labels ['a', 'b', 'c']" in line and "['not sarcastic', 'sarcastic']" in line
    assert not (tmp_path / "out" / "model").exists()


def test_a_head_that_does_not_fit_is_refused_before_loading(tiny_model, tmp_path, make_settings):
    """load_model checks the head against the labels first: a 3-class checkpoint for 2 labels is one UserError."""
    checkpoint = three_class_checkpoint(tmp_path / "three", tiny_model)
    message = refused(load_model, make_settings(model=str(checkpoint)), ["not sarcastic", "sarcastic"])
    assert "['a', 'b', 'c']" in message and "use a model trained on this data" in message


def test_a_half_precision_checkpoint_is_fine_tuned_in_float32(tmp_path, make_settings):
    """Many decoder-only models are saved in bfloat16 (transformers 5 loads a checkpoint in its own dtype): the
    model to fine-tune comes in float32, for the Trainer's mixed precision to keep float32 weights."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = build_decoder(tmp_path / "bf16", "llama")
    AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).save_pretrained(folder)
    assert AutoModelForCausalLM.from_pretrained(folder).dtype == torch.bfloat16, "saved in bfloat16"
    model = load_model(make_settings(model=str(folder)), ["not sarcastic", "sarcastic"])
    assert {parameter.dtype for parameter in model.parameters()} == {torch.float32}


def test_blocks_and_head_of_a_decoder_are_found_from_its_structure(decoder, make_settings):
    """GPT-2's blocks are transformer.h, Llama's model.layers; the head reading the last real token is score: found
    from the modules, so head-only training leaves exactly the score layer learning (notebook 09)."""
    model = load_model(make_settings(model=str(decoder), train_layers="head"), ["not sarcastic", "sarcastic"])
    assert len(blocks(model)) == model.config.num_hidden_layers == 2
    assert blocks(model) is (model.transformer.h if model.config.model_type == "gpt2" else model.model.layers)
    assert head_modules(model) == ["score"]
    assert trainable_parameters(model) == model.score.weight.numel()


def test_max_length_is_capped_at_the_model_positions(tmp_path, make_settings):
    """A GPT-2 with 64 positions and the series' max_length 128: the tokenizer takes at most 64 tokens, and the
    longest headline, cut there, is classified instead of indexing past the position table."""
    import torch

    from helpers.tokenization import max_length

    folder = build_decoder(tmp_path / "short", "gpt2", positions=64)
    settings = make_settings(model=str(folder))
    tokenizer = load_tokenizer(settings)
    assert tokenizer.model_max_length == 64 and max_length(tokenizer, settings) == 64
    model = load_model(settings, ["not sarcastic", "sarcastic"]).eval()
    long = tokenizer(" ".join(["area man wins argument with self"] * 20), truncation=True,
                     max_length=max_length(tokenizer, settings), return_tensors="pt")
    with torch.no_grad():
        assert model(**long).logits.shape == (1, 2)


@pytest.mark.slow
@pytest.mark.parametrize("flags", [("--lora-rank", "4"), ("--train-layers", "head")], ids=["lora", "head"])
def test_a_64_position_gpt2_trains_less_and_predicts(flags, tmp_path, capsys):
    """The issue's GPT-2 with 64 positions (max_length is 128) trains with LoRA rank 4 and head-only on the tiny
    profile, says once that max_length is lowered, and predicts new headlines."""
    folder = build_decoder(tmp_path / "short", "gpt2", positions=64)
    out = tmp_path / "out"
    trained = run_cli("train", "--profile", "tiny", "--model", str(folder), "--output-dir", str(out),
                      "--cache-dir", str(tmp_path / "cache"), "--max-steps", "6", *flags)
    assert trained.returncode == 0, trained.stderr
    assert trained.stderr.count("max_length 128 is more than model") == 1, trained.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 < metrics["trainable_parameters"] and metrics["test_rows"] > 0
    status, printed, err = run_main("predict", "--model", str(out / "model"), "area man wins argument", capsys=capsys)
    assert status == 0, err
    assert printed.split("\t")[0] in ("not sarcastic", "sarcastic")
