"""Turn headlines into token ids once, and pad them per batch.

Introduced in notebook 03 (tokenize).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedTokenizerBase

from .settings import Settings, warn, warn_once


class HeadlineDataset(torch.utils.data.Dataset):
    """Headlines tokenized once, in one batch call; items are unpadded (the collator pads each batch)."""

    def __init__(self, texts: list[str], labels: list[int], tokenizer: PreTrainedTokenizerBase, max_length: int):
        self.encodings = tokenizer(texts, truncation=True, max_length=max_length)
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = {key: values[i] for key, values in self.encodings.items()}
        item["labels"] = self.labels[i]
        return item


class TutorialDataset(torch.utils.data.Dataset):
    """The tutorial's dataset, kept for comparison: it tokenizes again on every item and pads to 512."""

    def __init__(self, texts: list[str], labels: list[int], tokenizer: PreTrainedTokenizerBase):
        self.texts, self.labels, self.tokenizer = list(texts), list(labels), tokenizer

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = self.tokenizer(self.texts[i], truncation=True, padding="max_length", return_tensors="pt")
        item = {key: values.squeeze(0) for key, values in item.items()}
        item["labels"] = torch.tensor(self.labels[i])
        return item


def tokenize(df: pd.DataFrame, tokenizer: PreTrainedTokenizerBase, settings: Settings) -> HeadlineDataset:
    """A `HeadlineDataset` of the rows of `df` (columns `sentence` and `label`); texts cut to fit are counted."""
    texts, limit = df["sentence"].tolist(), max_length(tokenizer, settings)
    dataset = HeadlineDataset(texts, df["label"].tolist(), tokenizer, limit)
    full = [text for text, ids in zip(texts, dataset.encodings["input_ids"]) if len(ids) == limit]  # maybe cut
    warn_truncated(full, tokenizer, limit, "max_length", len(texts))
    return dataset


def warn_truncated(texts: list[str], tokenizer: PreTrainedTokenizerBase, limit: int, why: str,
                   total: int | None = None) -> None:
    """Say in one line how many of `texts` (of `total`) are longer than `limit` tokens, [CLS] and [SEP] included
    (`why`), and so were cut (notebooks 03 and 05); nothing when none is."""
    cut = sum(len(ids) > limit for ids in tokenizer(texts, verbose=False)["input_ids"]) if texts else 0
    if cut:
        warn(f"{cut:,} of {total or len(texts):,} texts are longer than {limit} tokens ({why}) and were truncated")


def max_length(tokenizer: PreTrainedTokenizerBase, settings: Settings) -> int:
    """`settings.max_length`, or the model's own limit when that is lower (with a warning, once)."""
    if settings.max_length > tokenizer.model_max_length:
        warn_once(f"max_length {settings.max_length} is more than model {settings.model!r} takes; "
                  f"using {tokenizer.model_max_length}")
    return min(settings.max_length, tokenizer.model_max_length)


def token_lengths(texts: list[str], tokenizer: PreTrainedTokenizerBase) -> np.ndarray:
    """The number of tokens of each text, [CLS] and [SEP] included, without truncation."""
    return np.array([len(ids) for ids in tokenizer(list(texts))["input_ids"]])


def padding_costs(lengths: np.ndarray, batch_size: int, seed: int = 0) -> dict[str, int]:
    """Tokens the model processes in one epoch: padded to 512, padded per random batch, and unpadded."""
    shuffled = np.random.default_rng(seed).permutation(lengths)
    per_batch = sum(batch.max() * len(batch) for batch in np.array_split(shuffled, -(-len(lengths) // batch_size)))
    return {"padding='max_length' (512)": 512 * len(lengths), f"per batch of {batch_size}": int(per_batch),
            "no padding at all": int(lengths.sum())}
