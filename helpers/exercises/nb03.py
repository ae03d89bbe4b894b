"""The checks of notebook 03 (tokenize)."""

from __future__ import annotations

import pandas as pd

from .core import _number, _settings, exercise, NotYet


def _tokenizer(settings):
    """The tokenizer of `settings.model`, as notebook 03 loads it."""
    from .. import models

    return models.load_tokenizer(settings)


def _parts(settings) -> dict[str, pd.DataFrame | None]:
    """The saved split's parts, as notebook 03 reads them."""
    from .. import split

    return split.load_split(settings)


def _train_rows(settings) -> pd.DataFrame:
    """The train rows of the saved split."""
    return _parts(settings)["train"]


KOREAN = "국회, 교육 예산 법안 통과"

UNKNOWN = '''tokens = tokenizer.tokenize(korean)
unknown = tokens.count(tokenizer.unk_token)
print(tokens)
print(f"{unknown} [UNK] of {len(tokens)} tokens")'''


@exercise("03.1", "`tokens`, the tokenizer's pieces of the Korean headline, and `unknown`, how many are [UNK]",
          hint="tokenizer.tokenize(text) gives the pieces as strings; tokenizer.unk_token is the piece that stands "
               "for anything the vocabulary lacks: count it with list.count",
          solution=UNKNOWN)
def check_unknown(tokens, unknown) -> str:
    """Notebook 03, exercise 1: the pieces the tokenizer makes of a Korean headline, and how many are [UNK]."""
    tokenizer = _tokenizer(_settings())
    expected_tokens = tokenizer.tokenize(KOREAN)
    expected = expected_tokens.count(tokenizer.unk_token)
    if not isinstance(tokens, (list, tuple)) or not all(isinstance(token, str) for token in tokens):
        kind = "ids (numbers)" if isinstance(tokens, (list, tuple)) and tokens else type(tokens).__name__
        raise NotYet(f"tokens should be a list of the tokenizer's pieces (strings), not {kind}",
                     "tokenizer.tokenize(korean) gives the pieces; tokenizer(korean) gives ids")
    if list(tokens) == KOREAN.split():
        raise NotYet("these are the headline's words, split on spaces, not the tokenizer's pieces",
                     "ask the tokenizer: tokenizer.tokenize(korean)")
    if list(tokens) != expected_tokens:
        raise NotYet(f"these {len(tokens)} pieces are not what this model's tokenizer makes of the Korean headline",
                     "tokenize the headline of the starter cell with the notebook's tokenizer (tokenizer.tokenize)")
    value = _number(unknown, "unknown")
    if value == len(tokens) and value != expected:
        raise NotYet(f"{value:g} is the number of all tokens", "count only tokenizer.unk_token among them")
    if value != expected:
        raise NotYet(f"unknown is {value:g}, not the number of [UNK] pieces in your tokens",
                     "count tokenizer.unk_token among the pieces (list.count)")
    return f"{expected} of {len(tokens)} tokens are [UNK]"


PADDING_RATIO = '''texts = train["sentence"].tolist()[:16]
fixed = tokenizer(texts, truncation=True, padding="max_length", return_tensors="pt")["input_ids"]
items = [{"input_ids": ids} for ids in tokenizer(texts, truncation=True)["input_ids"]]
dynamic = DataCollatorWithPadding(tokenizer)(items)["input_ids"]
ratio = fixed.numel() / dynamic.numel()
print(f"padding='max_length': {tuple(fixed.shape)}; per batch: {tuple(dynamic.shape)};",
      f"{ratio:.0f} times more tokens")'''


@exercise("03.2", "`ratio`, how many times more tokens the padding='max_length' batch holds",
          hint="two batches of the same first 16 train headlines: the tokenizer with padding='max_length' and "
               "return_tensors='pt', and DataCollatorWithPadding on the unpadded items; .numel() counts each "
               "batch's input_ids, and the ratio is the first over the second",
          solution=PADDING_RATIO)
def check_padding_ratio(ratio) -> str:
    """Notebook 03, exercise 2: tokens in a batch of 16 padded to the maximum, over the same batch padded per batch."""
    from transformers import DataCollatorWithPadding

    settings = _settings()
    tokenizer = _tokenizer(settings)
    train = _train_rows(settings)["sentence"].tolist()
    texts = train[:16]
    fixed = tokenizer(texts, truncation=True, padding="max_length", return_tensors="pt")["input_ids"]

    def per_batch(rows: list[str]) -> int:
        """Tokens of `rows` collated with DataCollatorWithPadding."""
        items = [{"input_ids": ids} for ids in tokenizer(rows, truncation=True)["input_ids"]]
        return DataCollatorWithPadding(tokenizer)(items)["input_ids"].numel()

    expected = fixed.numel() / per_batch(texts)
    value = _number(ratio, "ratio")
    relative = 1e-6 * expected
    if value > 0 and abs(1 / value - expected) < relative:
        raise NotYet(f"{value:.3f} is the ratio upside down", "divide the max_length batch's size by the other's")
    unpadded = sum(len(ids) for ids in tokenizer(texts, truncation=True)["input_ids"])
    near_misses = {
        "the ratio to the unpadded tokens, not to a batch padded to its longest headline": fixed.numel() / unpadded,
        "the ratio for all train headlines in one batch, not the first 16": (
            tokenizer.model_max_length * len(train) / per_batch(train)),
    }
    for what, miss in near_misses.items():
        if abs(value - miss) < 1e-6 * miss and abs(value - expected) > relative:
            raise NotYet(f"{value:.3f} is {what}",
                         "collate the 16 unpadded items with DataCollatorWithPadding and count its input_ids")
    if abs(value - expected) > relative:
        raise NotYet(f"ratio is {value:.3f}, not the ratio of those two batches' sizes",
                     "compute it from the two batches (.numel() of each input_ids), not a number typed in: the first "
                     "16 train headlines, padding='max_length' against DataCollatorWithPadding")
    return f"{tuple(fixed.shape)} against (16, {per_batch(texts) // 16}): {expected:.0f} times more tokens"


TRUNCATION = '''short = tokenizer(train["sentence"].tolist(), truncation=True, max_length=8)
full = tokenizer(train["sentence"].tolist())
cut_ids = [ids for ids, whole in zip(short["input_ids"], full["input_ids"]) if len(whole) > 8]
cut = len(cut_ids)
print(f"{cut} of {len(train)} headlines cut at 8 tokens; the first, cut:", tokenizer.convert_ids_to_tokens(cut_ids[0]))
assert all(ids[-1] == tokenizer.sep_token_id for ids in cut_ids), "a cut headline still ends with [SEP]"'''


@exercise("03.3", "`cut`, how many train headlines max_length=8 cuts",
          hint="tokenize the train headlines once without truncation and count those with more than 8 input_ids "
               "([CLS] and [SEP] count, as max_length counts them)",
          solution=TRUNCATION)
def check_truncation(cut) -> str:
    """Notebook 03, exercise 3: how many train headlines are longer than 8 tokens."""
    settings = _settings()
    tokenizer = _tokenizer(settings)
    parts = _parts(settings)
    train = parts["train"]
    lengths = [len(ids) for ids in tokenizer(train["sentence"].tolist())["input_ids"]]
    expected = sum(length > 8 for length in lengths)
    value = _number(cut, "cut")
    if value == len(train) and value != expected:
        raise NotYet(f"{value:g} is the number of all train headlines",
                     "count only those the untruncated call makes longer than 8 tokens")
    if value == sum(length >= 8 for length in lengths) and value != expected:
        raise NotYet(f"{value:g} counts headlines of exactly 8 tokens too", "a headline of 8 tokens fits: use > 8")
    if value == 0 and expected:
        raise NotYet("0: after truncation no headline is longer than 8", "count on the untruncated token ids")
    if value == sum(len(text.split()) > 8 for text in train["sentence"]) and value != expected:
        raise NotYet(f"{value:g} counts words, not tokens", "count the tokenizer's input_ids, not text.split()")
    others = [rows for name, rows in parts.items() if name != "train" and rows is not None]
    if any(value == sum(len(ids) > 8 for ids in tokenizer(rows["sentence"].tolist())["input_ids"])
           for rows in others) and value != expected:
        raise NotYet(f"{value:g} counts the headlines of another split", "count the train rows (parts['train'])")
    if value != expected:
        raise NotYet(f"cut is {value:g}, not the number of train headlines longer than 8 tokens",
                     "tokenize without truncation and count the headlines with more than 8 input_ids "
                     "([CLS] and [SEP] count)")
    return f"{expected} of {len(train)} train headlines are longer than 8 tokens"


DATASET = '''class ValidationHeadlines(torch.utils.data.Dataset):
    """Rows of a DataFrame (sentence, label), tokenized once; item i: input_ids, attention_mask and labels."""

    def __init__(self, frame, tokenizer, max_length):
        self.encodings = tokenizer(frame["sentence"].tolist(), truncation=True, max_length=max_length)
        self.labels = frame["label"].tolist()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.encodings["input_ids"][i], "attention_mask": self.encodings["attention_mask"][i],
                "labels": self.labels[i]}


validation_data = ValidationHeadlines(parts["validation"], tokenizer, settings.max_length)
print(len(validation_data), "items; item 0:", validation_data[0])'''


@exercise("03.4", "`validation_data`, an instance of your torch Dataset over the validation rows",
          hint="a subclass of torch.utils.data.Dataset: __init__ tokenizes every text in one batched call "
               "(truncation=True, max_length), __len__ gives the number of rows, __getitem__(i) a dict of row i's "
               "input_ids, attention_mask (unpadded lists) and its label under the key 'labels'",
          solution=DATASET)
def check_dataset(validation_data) -> str:
    """Notebook 03, exercise 4: a torch `Dataset` of the validation rows that the collator and the `Trainer` read."""
    import torch
    from transformers import DataCollatorWithPadding

    settings = _settings()
    tokenizer = _tokenizer(settings)
    parts = _parts(settings)
    rows = parts["validation"] if parts["validation"] is not None else parts["test"]
    if isinstance(validation_data, type):
        raise NotYet("this is the class itself", "make an instance: validation_data = YourClass(parts['validation'], "
                     "...)")
    if not isinstance(validation_data, torch.utils.data.Dataset):
        raise NotYet(f"validation_data should be a torch Dataset, not {type(validation_data).__name__}",
                     "write a class that subclasses torch.utils.data.Dataset and make an instance of it")
    try:
        size = len(validation_data)
    except TypeError:
        raise NotYet("len(validation_data) does not give a number", "write __len__: return the number of rows")
    if size == len(parts["train"]) and size != len(rows):
        raise NotYet(f"it has {size} items, as many as the train rows", "build it on parts['validation']")
    if size != len(rows):
        raise NotYet(f"it has {size} items; the validation split has {len(rows)} rows",
                     "__len__ should return the number of rows the dataset was built on")
    encodings = tokenizer(rows["sentence"].tolist(), truncation=True, max_length=settings.max_length)
    labels = rows["label"].tolist()
    for i in range(size):
        item = validation_data[i]
        if not isinstance(item, dict):
            raise NotYet(f"item {i} is a {type(item).__name__}, not a dict", "__getitem__ should return a dict of "
                         "input_ids, attention_mask and labels")
        missing = [key for key in ("input_ids", "attention_mask", "labels") if key not in item]
        if missing:
            raise NotYet(f"item {i} has no {missing[0]!r} (keys: {', '.join(map(str, item))})",
                         "the model reads input_ids and attention_mask, and its loss reads 'labels' (plural)")
        ids = item["input_ids"].tolist() if isinstance(item["input_ids"], torch.Tensor) else list(item["input_ids"])
        if len(ids) != len(encodings["input_ids"][i]) and len(ids) >= tokenizer.model_max_length:
            raise NotYet(f"item {i} holds {len(ids)} token ids: it is padded to the maximum",
                         "leave the items unpadded: DataCollatorWithPadding pads each batch to its longest")
        if ids != encodings["input_ids"][i]:
            raise NotYet(f"item {i}'s input_ids are not what the tokenizer gives for validation row {i}",
                         "tokenize the rows in their order, with truncation=True and max_length=settings.max_length")
        mask = item["attention_mask"]
        if (mask.tolist() if isinstance(mask, torch.Tensor) else list(mask)) != encodings["attention_mask"][i]:
            raise NotYet(f"item {i}'s attention_mask is not the tokenizer's", "return the tokenizer's attention_mask")
        label = item["labels"].item() if isinstance(item["labels"], torch.Tensor) else item["labels"]
        if label != labels[i]:
            raise NotYet(f"item {i}'s label is not validation row {i}'s", "keep the labels in the rows' order")
    loader = torch.utils.data.DataLoader(validation_data, batch_size=8, collate_fn=DataCollatorWithPadding(tokenizer))
    batches = list(loader)  # what the Trainer does with an eval_dataset
    shapes = {tuple(batch["input_ids"].shape) for batch in batches[:2]}
    return (f"{size} items, each the tokenizer's own ids; a DataLoader with DataCollatorWithPadding, as the Trainer "
            f"builds it, makes {len(batches)} batches (the first: {', '.join(map(str, sorted(shapes)))})")
