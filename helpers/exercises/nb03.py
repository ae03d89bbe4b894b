"""The checks of notebook 03 (tokenize)."""

from __future__ import annotations

import pandas as pd

from .core import _number, _settings, exercise, NotYet


def _tokenizer(settings):
    """The tokenizer of `settings.model`, as notebook 03 loads it."""
    from .. import models

    return models.load_tokenizer(settings)


def _train_rows(settings) -> pd.DataFrame:
    """The train rows of the saved split."""
    from .. import split

    return split.load_split(settings)["train"]


KOREAN = "국회, 교육 예산 법안 통과"


@exercise("03.1", "`unknown`, the number of [UNK] tokens in the Korean headline")
def check_unknown(unknown) -> str:
    """Notebook 03, exercise 1: how many [UNK] tokens the tokenizer makes of a Korean headline."""
    tokenizer = _tokenizer(_settings())
    tokens = tokenizer.tokenize(KOREAN)
    expected = tokens.count(tokenizer.unk_token)
    value = _number(unknown, "unknown")
    if value == len(tokens) and value != expected:
        raise NotYet(f"{value:g} is the number of all tokens", "count only tokenizer.unk_token among them")
    if value != expected:
        raise NotYet(f"unknown is {value:g}, not {expected}",
                     "tokens = tokenizer.tokenize(headline); tokens.count(tokenizer.unk_token)")
    return f"{expected} of {len(tokens)} tokens are [UNK]"


@exercise("03.2", "`ratio`, how many times more tokens the padding='max_length' batch holds")
def check_padding_ratio(ratio) -> str:
    """Notebook 03, exercise 2: tokens in a batch of 16 padded to the maximum, over the same batch padded per batch."""
    from transformers import DataCollatorWithPadding

    settings = _settings()
    tokenizer = _tokenizer(settings)
    texts = _train_rows(settings)["sentence"].tolist()[:16]
    fixed = tokenizer(texts, truncation=True, padding="max_length", return_tensors="pt")["input_ids"]
    items = [{"input_ids": ids} for ids in tokenizer(texts, truncation=True)["input_ids"]]
    dynamic = DataCollatorWithPadding(tokenizer)(items)["input_ids"]
    expected = fixed.numel() / dynamic.numel()
    value = _number(ratio, "ratio")
    if value > 0 and abs(1 / value - expected) < 0.01 * expected:
        raise NotYet(f"{value:.3f} is the ratio upside down", "divide the max_length batch's size by the other's")
    if abs(value - expected) > 0.01 * expected:
        raise NotYet(f"ratio is {value:.2f}, not {expected:.2f}",
                     "the first 16 train headlines; count tokens with .numel() on each batch's input_ids, "
                     f"{tuple(fixed.shape)} against ({len(texts)}, the longest headline)")
    return f"{tuple(fixed.shape)} against {tuple(dynamic.shape)}: {expected:.0f} times more tokens"


@exercise("03.3", "`cut`, how many train headlines max_length=8 cuts")
def check_truncation(cut) -> str:
    """Notebook 03, exercise 3: how many train headlines are longer than 8 tokens."""
    settings = _settings()
    tokenizer = _tokenizer(settings)
    train = _train_rows(settings)
    lengths = [len(ids) for ids in tokenizer(train["sentence"].tolist())["input_ids"]]
    expected = sum(length > 8 for length in lengths)
    value = _number(cut, "cut")
    if value == len(train) and value != expected:
        raise NotYet(f"{value:g} is the number of all train headlines",
                     "count only those the untruncated call makes longer than 8 tokens")
    if value == sum(length >= 8 for length in lengths) and value != expected:
        raise NotYet(f"{value:g} counts headlines of exactly 8 tokens too", "a headline of 8 tokens fits: use > 8")
    if value != expected:
        raise NotYet(f"cut is {value:g}, not {expected}",
                     "tokenize without truncation and count the headlines with more than 8 input_ids "
                     "([CLS] and [SEP] count)")
    return f"{expected} of {len(train)} train headlines are longer than 8 tokens"
