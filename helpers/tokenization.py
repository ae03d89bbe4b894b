"""Turn headlines into token ids once, and pad them per batch.

Introduced in notebook 03 (tokenize).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase

from .settings import Settings, UserError, looks_like_path, warn
from .tiny import ensure_tiny_model, is_tiny


def from_pretrained(auto_class, name: str, **kwargs):
    """`auto_class.from_pretrained(name)` with remote code off, failing in one clear line."""
    if looks_like_path(name) and not Path(name).expanduser().is_dir() and not is_tiny(name):
        raise UserError(f"model folder {name} does not exist; set TC_MODEL (or --model) to a model folder or hub name")
    try:
        return auto_class.from_pretrained(ensure_tiny_model(name), trust_remote_code=False, **kwargs)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"cannot load model {name!r} ({first}); set TC_MODEL (or --model) to a hub name you can reach "
            "or a local model folder, or use TC_PROFILE=tiny offline"
        ) from None


def ensure_model(settings: Settings) -> str:
    """`settings.model`, ready for `from_pretrained`: the tiny model built if needed, else one clear line (notebook 03)."""
    from_pretrained(AutoConfig, settings.model)
    return settings.model


def load_tokenizer(settings: Settings) -> PreTrainedTokenizerBase:
    """The fast tokenizer that belongs to `settings.model`, as notebook 03's `AutoTokenizer.from_pretrained`."""
    return from_pretrained(AutoTokenizer, settings.model)


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
    full = [text for text, ids in zip(texts, dataset.encodings["input_ids"]) if len(ids) == limit]
    cut = count_longer(full, tokenizer, limit)
    if cut:
        warn(f"{cut:,} of {len(texts):,} texts are longer than {limit} tokens and were truncated (max_length)")
    return dataset


def count_longer(texts: list[str], tokenizer: PreTrainedTokenizerBase, limit: int) -> int:
    """How many of `texts` are longer than `limit` tokens ([CLS] and [SEP] included)."""
    return sum(len(ids) > limit for ids in tokenizer(texts, verbose=False)["input_ids"]) if texts else 0


def max_length(tokenizer: PreTrainedTokenizerBase, settings: Settings) -> int:
    """`settings.max_length`, or the model's own limit when that is lower (with a warning)."""
    if settings.max_length > tokenizer.model_max_length:
        warn(f"max_length {settings.max_length} is more than model {settings.model!r} takes; "
             f"using {tokenizer.model_max_length}")
    return min(settings.max_length, tokenizer.model_max_length)


def token_lengths(texts: list[str], tokenizer: PreTrainedTokenizerBase) -> np.ndarray:
    """The number of tokens of each text, [CLS] and [SEP] included, without truncation."""
    return np.array([len(ids) for ids in tokenizer(list(texts))["input_ids"]])


def padding_costs(lengths: np.ndarray, batch_size: int, seed: int = 0) -> dict[str, int]:
    """Tokens the model processes in one epoch: padded to 512, padded per random batch, and unpadded."""
    shuffled = np.random.default_rng(seed).permutation(lengths)
    per_batch = sum(batch.max() * len(batch) for batch in np.array_split(shuffled, -(-len(lengths) // batch_size)))
    return {
        "padding='max_length' (512)": 512 * len(lengths),
        f"per batch of {batch_size}": int(per_batch),
        "no padding at all": int(lengths.sum()),
    }
