"""Notebook 03's exercises (helpers/exercises/nb03.py): each worked solution passes; plausible wrong answers fail with
a hint that does not give the answer away; hint and solution are the solutions notebook's; the tiny figures
notebook 03 states hold.
"""

from __future__ import annotations

import pytest
import torch
from transformers import DataCollatorWithPadding

from helpers import split, tokenization
from helpers.exercises import nb03

from support import exercise_env, fails, hides, notebook_text, passes, run_solution

KEYS = ("03.1", "03.2", "03.3", "03.4")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """One output folder for the module."""
    return tmp_path_factory.mktemp("nb03")


@pytest.fixture
def env(monkeypatch, out, tiny_cache, tiny_tokenizer):
    """The notebook's namespace on the tiny profile, as its cells leave it."""
    settings = exercise_env(monkeypatch, out, tiny_cache)
    parts = split.load_split(settings)
    return dict(settings=settings, parts=parts, train=parts["train"], tokenizer=tiny_tokenizer, torch=torch,
                DataCollatorWithPadding=DataCollatorWithPadding, korean=nb03.KOREAN)


def test_03_1_unknown(env, capsys):
    """The worked solution passes; a count typed alone (the issue's 0), pieces typed in, the words split on spaces,
    ids for pieces, or every piece counted fail: the count has to come with the tokenizer's own pieces."""
    solved = run_solution("03.1", env)
    tokens, unknown = solved["tokens"], solved["unknown"]
    assert tokens == env["tokenizer"].tokenize(nb03.KOREAN)
    passes(capsys, "03.1", tokens, unknown)
    fails(capsys, "03.1", 0, saying="raised TypeError")
    fails(capsys, "03.1", ..., 0, saying="fill in")
    fails(capsys, "03.1", [], 0, saying="not what this model's tokenizer makes")
    fails(capsys, "03.1", ["[UNK]"] * 3, 3, saying="not what this model's tokenizer makes")
    fails(capsys, "03.1", nb03.KOREAN.split(), 0, saying="words, split on spaces")
    fails(capsys, "03.1", env["tokenizer"](nb03.KOREAN)["input_ids"], 0, saying="ids (numbers)")
    assert unknown != len(tokens), "precondition: not every piece is [UNK]"
    hides(fails(capsys, "03.1", tokens, len(tokens), saying="all tokens"), unknown)
    hides(fails(capsys, "03.1", tokens, unknown + 2, saying="not the number"), unknown)


def test_03_2_padding_ratio(env, capsys):
    """The worked solution passes; upside down, against the unpadded tokens, or 512 over a typical length fail, and
    no hint prints the expected ratio."""
    solved = run_solution("03.2", env)
    ratio = solved["ratio"]
    passes(capsys, "03.2", ratio)
    fails(capsys, "03.2", 1 / ratio, saying="upside down")
    unpadded = sum(len(ids) for ids in env["tokenizer"](solved["texts"], truncation=True)["input_ids"])
    hides(fails(capsys, "03.2", solved["fixed"].numel() / unpadded, saying="unpadded tokens"), ratio)
    hides(fails(capsys, "03.2", 512 / 15, saying="ratio is"), ratio)
    hides(fails(capsys, "03.2", round(ratio, 1), saying="not a number typed in"), ratio)


def test_03_3_truncation(env, capsys):
    """The worked solution passes; all headlines, 0 (counted after truncation), words for tokens, or >= 8 fail, and
    no hint prints the expected count."""
    cut = run_solution("03.3", env)["cut"]
    passes(capsys, "03.3", cut)
    train = env["train"]
    assert 0 < cut < len(train), "precondition: some train headlines, not all, are cut"
    hides(fails(capsys, "03.3", len(train), saying="all train headlines"), cut)
    hides(fails(capsys, "03.3", 0, saying="after truncation"), cut)
    lengths = tokenization.token_lengths(train["sentence"], env["tokenizer"])
    if (lengths >= 8).sum() != cut:
        fails(capsys, "03.3", int((lengths >= 8).sum()), saying="exactly 8 tokens")
    words = int((train["sentence"].str.split().str.len() > 8).sum())
    if words != cut:
        fails(capsys, "03.3", words, saying="counts words")
    hides(fails(capsys, "03.3", cut + 1, saying="not the number"), cut)


def test_03_4_dataset(env, capsys):
    """The worked solution passes and its items batch with the collator; the notebook's dataset over the train rows,
    the tutorial's (padded to 512), items without labels, the class itself, a list, or the starter as shipped fail."""
    solved = run_solution("03.4", env)
    validation_data = solved["validation_data"]
    assert "each the tokenizer's own ids" in passes(capsys, "03.4", validation_data)
    tokenizer, parts = env["tokenizer"], env["parts"]
    assert validation_data[0]["input_ids"] == tokenizer(parts["validation"]["sentence"].iloc[0])["input_ids"]
    from_helpers = tokenization.tokenize(parts["validation"], tokenizer, env["settings"])
    passes(capsys, "03.4", from_helpers)
    fails(capsys, "03.4", tokenization.tokenize(parts["train"], tokenizer, env["settings"]),
          saying="as many as the train rows")
    tutorial = tokenization.TutorialDataset(parts["validation"]["sentence"], parts["validation"]["label"], tokenizer)
    fails(capsys, "03.4", tutorial, saying="padded to the maximum")

    class NoLabels(solved["ValidationHeadlines"]):
        def __getitem__(self, i):
            return {key: value for key, value in super().__getitem__(i).items() if key != "labels"}

    fails(capsys, "03.4", NoLabels(parts["validation"], tokenizer, 128), saying="no 'labels'")

    class Reversed(solved["ValidationHeadlines"]):
        def __getitem__(self, i):
            return super().__getitem__(len(self) - 1 - i)

    fails(capsys, "03.4", Reversed(parts["validation"], tokenizer, 128), saying="not what the tokenizer gives")
    fails(capsys, "03.4", solved["ValidationHeadlines"], saying="the class itself")
    fails(capsys, "03.4", [validation_data[i] for i in range(len(validation_data))], saying="torch Dataset")

    class Starter(torch.utils.data.Dataset):
        def __init__(self, frame, tokenizer, max_length):
            ...

        def __len__(self):
            ...

        def __getitem__(self, i):
            ...

    fails(capsys, "03.4", Starter(parts["validation"], tokenizer, 128), saying="__len__")


def test_tiny_figures_notebook_03_states(env):
    """The deterministic `tiny` figures under notebook 03's key cells are what the tiny profile gives."""
    tokenizer, train = env["tokenizer"], env["train"]
    lengths = tokenization.token_lengths(train["sentence"], tokenizer)
    assert f"a mean of {lengths.mean():.1f} and a longest of {lengths.max()}" in notebook_text("03")
    vocabulary = f"a vocabulary of {tokenizer.vocab_size:,} and at most {tokenizer.model_max_length} tokens"
    assert vocabulary in notebook_text("03")
    items = tokenization.tokenize(train.iloc[:4], tokenizer, env["settings"])
    longest = max(len(items[i]["input_ids"]) for i in range(4))
    assert f"of shape (4, {longest})" in notebook_text("03")
