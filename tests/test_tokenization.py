"""Tokenization: unpadded items, padding per batch, the tutorial's fixed padding, lengths, truncation."""

from __future__ import annotations

import pandas as pd
from transformers import DataCollatorWithPadding

from helpers.tokenization import HeadlineDataset, TutorialDataset, token_lengths, tokenize

from support import warnings_in

TEXTS = [
    "area man wins argument with self in shower",
    "senator delays climate bill",
    "what voters need to know about remote work, sleep and coffee this holiday season",
]
LABELS = [1, 0, 0]
LONG = " ".join(["nation's dads declare brunch a human right"] * 100)  # longer than any model takes


def test_items_are_unpadded(tiny_tokenizer):
    """HeadlineDataset items are plain lists, each as long as its own text, with no padding tokens."""
    dataset = HeadlineDataset(TEXTS, LABELS, tiny_tokenizer, max_length=128)
    items = [dataset[i] for i in range(len(dataset))]
    lengths = [len(item["input_ids"]) for item in items]
    assert all(isinstance(item["input_ids"], list) for item in items)
    assert len(set(lengths)) == len(lengths)
    assert lengths == token_lengths(TEXTS, tiny_tokenizer).tolist()
    assert all(tiny_tokenizer.pad_token_id not in item["input_ids"] for item in items)
    assert all(sum(item["attention_mask"]) == len(item["input_ids"]) for item in items)
    assert [item["labels"] for item in items] == LABELS and len(dataset) == 3


def test_collator_pads_to_the_longest_in_the_batch(tiny_tokenizer):
    """The collator pads a batch to its own longest item (not 512), with mask 0 and [PAD] on the padding."""
    dataset = HeadlineDataset(TEXTS, LABELS, tiny_tokenizer, max_length=128)
    items = [dataset[i] for i in range(len(dataset))]
    lengths = [len(item["input_ids"]) for item in items]
    batch = DataCollatorWithPadding(tiny_tokenizer)(items)
    assert tuple(batch["input_ids"].shape) == (3, max(lengths))
    assert max(lengths) < 512 and max(lengths) < tiny_tokenizer.model_max_length
    for row, n in enumerate(lengths):
        assert batch["attention_mask"][row, :n].tolist() == [1] * n
        assert batch["attention_mask"][row, n:].tolist() == [0] * (max(lengths) - n)
        assert batch["input_ids"][row, :n].tolist() == items[row]["input_ids"]
        assert set(batch["input_ids"][row, n:].tolist()) <= {tiny_tokenizer.pad_token_id}
    assert batch["labels"].tolist() == LABELS


def test_tutorial_dataset_pads_to_model_max_length(tiny_tokenizer):
    """The tutorial's dataset pads every item to the tokenizer's model_max_length, whatever the text."""
    dataset = TutorialDataset(TEXTS, LABELS, tiny_tokenizer)
    for i, text in enumerate(TEXTS):
        item = dataset[i]
        assert tuple(item["input_ids"].shape) == (tiny_tokenizer.model_max_length,)
        n = token_lengths([text], tiny_tokenizer)[0]
        assert int(item["attention_mask"].sum()) == n
        assert int(item["labels"]) == LABELS[i]


def test_token_lengths_count_special_tokens(tiny_tokenizer):
    """token_lengths counts [CLS] and [SEP] besides the word pieces, and does not truncate."""
    lengths = token_lengths(TEXTS + [LONG], tiny_tokenizer)
    assert lengths.tolist() == [len(tiny_tokenizer.tokenize(t)) + 2 for t in TEXTS + [LONG]]
    assert lengths[-1] > tiny_tokenizer.model_max_length
    ids = tiny_tokenizer(TEXTS[0])["input_ids"]
    assert ids[0] == tiny_tokenizer.cls_token_id and ids[-1] == tiny_tokenizer.sep_token_id


def test_truncation_at_max_length(tiny_tokenizer, make_settings, capsys):
    """tokenize cuts texts to settings.max_length tokens, keeping [SEP] at the end, and one warning counts them;
    short texts are untouched."""
    settings = make_settings(max_length=8)
    df = pd.DataFrame({"sentence": [LONG, "senator", LONG], "label": [1, 0, 1]})
    dataset = tokenize(df, tiny_tokenizer, settings)
    long_ids, short_ids = dataset[0]["input_ids"], dataset[1]["input_ids"]
    assert len(long_ids) == 8 and long_ids[-1] == tiny_tokenizer.sep_token_id
    assert len(short_ids) == token_lengths(["senator"], tiny_tokenizer)[0] < 8
    assert warnings_in(capsys.readouterr().err) == [
        "warning: 2 of 3 texts are longer than 8 tokens (max_length) and were truncated"]


def test_max_length_above_the_models_is_capped(tiny_tokenizer, make_settings, capsys):
    """A max_length above what the model takes is lowered to the model's limit, with a warning."""
    dataset = tokenize(pd.DataFrame({"sentence": [LONG], "label": [1]}), tiny_tokenizer,
                       make_settings(max_length=100_000))
    assert len(dataset[0]["input_ids"]) == tiny_tokenizer.model_max_length
    assert f"using {tiny_tokenizer.model_max_length}" in warnings_in(capsys.readouterr().err)[0]
