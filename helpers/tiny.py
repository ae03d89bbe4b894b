"""A tiny DistilBERT built on this machine, so the series runs offline and in CI.

Introduced in notebook 03 (tokenize): with the `tiny` profile, `load_tokenizer` builds it on first use.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from .data import read_table
from .settings import SAMPLE_DATA, TINY_MODEL, TOPICS_SAMPLE

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SAMPLES = {SAMPLE_DATA: "headline", TOPICS_SAMPLE: "title"}  # the shipped samples and their text columns
BUILT_FROM = "built_from.txt"  # in the model folder: the fingerprint of what it was built from
VOCAB_SIZE, SEED = 1000, 0  # room for English, Korean and emoji; the seed of the random body


def is_tiny(model: str) -> bool:
    """True when `model` names the tiny model's folder."""
    return Path(model).name == TINY_MODEL


def sample_texts() -> list[str]:
    """The headlines of both shipped samples (sarcasm in English; news topics in English and Korean)."""
    return [text for path, column in SAMPLES.items() for text in read_table(path)[column].astype(str)]


def fingerprint(texts: list[str], vocab_size: int, seed: int) -> str:
    """A short hash of what a tiny model is built from: texts, vocabulary size and seed."""
    recipe = json.dumps([vocab_size, seed, texts], ensure_ascii=False)
    return hashlib.sha256(recipe.encode("utf-8")).hexdigest()[:16]


def build_tiny_model(folder: Path, vocab_size: int = VOCAB_SIZE, seed: int = SEED) -> Path:
    """Train a WordPiece tokenizer on both samples' headlines and save it with a small random DistilBERT."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertTokenizer

    texts = sample_texts()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        wordpiece = BertWordPieceTokenizer(lowercase=True)
        wordpiece.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS)
        tokenizer = DistilBertTokenizer(vocab=wordpiece.get_vocab(), model_max_length=512)
        config = DistilBertConfig(
            vocab_size=tokenizer.vocab_size, dim=32, hidden_dim=64, n_layers=2, n_heads=2, max_position_embeddings=512
        )
        torch.manual_seed(seed)
        DistilBertForMaskedLM(config).save_pretrained(f"{tmp}/model")  # a "pretrained" body; no task head yet
        tokenizer.save_pretrained(f"{tmp}/model")
        Path(f"{tmp}/model/{BUILT_FROM}").write_text(fingerprint(texts, vocab_size, seed) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        Path(f"{tmp}/model").rename(folder)
    return folder


def is_current(folder: Path) -> bool:
    """True when the tiny model in `folder` is built, from the samples shipped now (not an older cache)."""
    stamp = folder / BUILT_FROM
    if not (folder / "config.json").is_file() or not stamp.is_file():
        return False
    return stamp.read_text().strip() == fingerprint(sample_texts(), VOCAB_SIZE, SEED)


def ensure_tiny_model(model: str) -> str:
    """Build the tiny model into `model` unless it is already there, built from the current samples; return `model`."""
    if is_tiny(model) and not is_current(Path(model)):
        build_tiny_model(Path(model))
    return model
