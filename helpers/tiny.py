"""A tiny DistilBERT built on this machine, so the series runs offline and in CI.

Introduced in notebook 03 (tokenize): with the `tiny` profile, `load_tokenizer` builds it on first use.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .data import read_table
from .settings import SAMPLE_DATA, TINY_MODEL

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def is_tiny(model: str) -> bool:
    """True when `model` names the tiny model's folder."""
    return Path(model).name == TINY_MODEL


def build_tiny_model(folder: Path, vocab_size: int = 600, seed: int = 0) -> Path:
    """Train a WordPiece tokenizer on the sample headlines and save it with a small random DistilBERT."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertTokenizer

    texts = read_table(SAMPLE_DATA)["headline"].tolist()
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
        shutil.rmtree(folder, ignore_errors=True)
        Path(f"{tmp}/model").rename(folder)
    return folder


def ensure_tiny_model(model: str) -> str:
    """Build the tiny model into `model` unless it is already there; return `model`."""
    if is_tiny(model) and not (Path(model) / "config.json").exists():
        build_tiny_model(Path(model))
    return model
