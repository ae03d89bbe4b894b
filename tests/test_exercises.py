"""The exercises' checks (helpers/exercises/): a model answer passes, typical wrong answers get a hint, nothing
raises; every exercise of notebooks 01-04 has a starter cell, a check call and an asserted worked solution; the
expected tiny figures the notebooks state hold; every notebook 01-04 (and solution) starts with the install guard.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.model_selection import train_test_split
from transformers import DataCollatorWithPadding, Trainer

import helpers
from helpers import baselines, data, exercises, finetune, models, split, tokenization
from helpers.exercises import nb03

from support import fails, notebook_cells, notebook_path, notebook_text, passes

MINE = ("01", "02", "03", "04")  # the checks tested here; tests/test_exercises_05_07.py, _nb07.py, _nb08.py the rest
EXERCISED = ("01", "02", "03", "04", "05", "06", "07", "08")


@pytest.fixture
def tiny_env(monkeypatch, tmp_path, tiny_cache):
    """The checks read the profile from the environment, as in a notebook: the tiny one, writing into tmp."""
    monkeypatch.setenv("TC_PROFILE", "tiny")
    monkeypatch.setenv("TC_CACHE_DIR", str(tiny_cache))
    monkeypatch.setenv("TC_OUTPUT_DIR", str(tmp_path / "out"))
    return helpers.get_settings()


# ---------------------------------------------------------------------------------------------- the module


def test_every_check_names_itsnotebook_path():
    """Each check is registered as NN.k and has a one-line docstring naming notebook NN and exercise k."""
    assert exercises.EXERCISES
    for key, check in ((key, e.check) for key, e in exercises.EXERCISES.items()):
        notebook, number = re.fullmatch(r"(\d\d)\.(\d)", key).groups()
        doc = check.__doc__.strip()
        assert "\n" not in doc and doc.startswith(f"Notebook {notebook}, exercise {number}:"), (key, doc)
        assert exercises.EXERCISES[key].fill_in


@pytest.mark.parametrize("key", sorted(exercises.EXERCISES))
@pytest.mark.parametrize("placeholder", [..., None])
def test_a_placeholder_asks_to_fill_in(key, placeholder, capsys):
    """A starter cell left as shipped (`...` or None) prints `fill in`, returns a false result, raises nothing."""
    arity = exercises.EXERCISES[key].check.__code__.co_argcount
    out = fails(capsys, key, *[placeholder] * arity, saying="fill in the cell above")
    assert exercises.EXERCISES[key].fill_in in out


def test_unknown_exercise_and_wrong_arity_do_not_raise(capsys):
    """A mistyped key names the known ones; too few or too many answers are a `not yet`, not a TypeError."""
    out = fails(capsys, "01.9", 1)
    assert "no exercise '01.9'" in out and "01.1" in out
    fails(capsys, "04.1", 0.69, 0.69, 0.69, saying="raised TypeError")
    fails(capsys, "04.1", saying="fill in")


def test_an_error_inside_the_learners_code_is_a_hint(capsys):
    """A learner's function that raises gives `not yet` naming the error, and the result is false."""

    def compute_metrics(eval_pred):
        raise KeyError("logits")

    fails(capsys, "04.2", compute_metrics, saying="raised KeyError")


def test_result_is_quiet_in_a_notebook_and_says_itself_elsewhere(capsys):
    """The result is a bool-like object whose notebook display is empty (the printed line says it all)."""
    result = exercises.check("01.1", None)
    capsys.readouterr()
    assert not result and result.message.startswith("not yet") and repr(result) == "Result(passed=False)"
    assert result._ipython_display_() is None


# ---------------------------------------------------------------------------------------------- notebook 01


def test_01_1_split_luck(tiny_env, capsys):
    """The ten seeds' baselines pass; one seed off, a percentage, or too few values get a hint."""
    df = helpers.load_data(tiny_env)
    scores = []
    for seed in range(10):
        train, test = train_test_split(df, test_size=tiny_env.test_size, random_state=seed)
        scores.append(baselines.majority_accuracy(train["label"], test["label"]))
    assert "spread of 17.3 points" in passes(capsys, "01.1", scores)
    fails(capsys, "01.1", scores[:9], saying="ten accuracies")
    fails(capsys, "01.1", [100 * s for s in scores], saying="between 0 and 1")
    fails(capsys, "01.1", [1 - s for s in scores], saying="random_state 0")
    fails(capsys, "01.1", "0.5", saying="list of ten")


def _gap(df: pd.DataFrame) -> pd.Series:
    """The model answer of 01.2, computed another way than the check's: for each headline its set of words, one row
    each, then the share of each label's headlines holding the word (a word a label never uses: 0)."""
    words = df.assign(word=df["sentence"].str.split().map(set)).explode("word")
    held = words.groupby(["word", "label"]).size().unstack(fill_value=0)
    shares = held / df["label"].value_counts()
    return (shares[1] - shares[0]).rename_axis(None)


def test_01_2_word_gap(tiny_env, capsys):
    """The gap passes; the opposite sign, words counted twice, only the top ten, or a list get a hint."""
    df = helpers.load_data(tiny_env)
    gap = _gap(df)
    passes(capsys, "01.2", gap)
    passes(capsys, "01.2", gap.to_dict())
    fails(capsys, "01.2", -gap, saying="opposite sign")
    fails(capsys, "01.2", gap.nlargest(10), saying="every word")
    counted = pd.DataFrame({
        label: pd.Series(Counter(w for text in df.loc[df["label"] == label, "sentence"] for w in text.split()))
        / (df["label"] == label).sum()
        for label in (0, 1)
    }).fillna(0)
    if not np.allclose(counted[1] - counted[0], gap.reindex(counted.index).fillna(0)):
        fails(capsys, "01.2", counted[1] - counted[0], saying="once per headline")
    fails(capsys, "01.2", list(gap), saying="Series")


def test_01_3_own_load(tiny_env, capsys):
    """pandas' three lines pass; unrenamed columns, a reset index or dropped rows get a hint."""
    raw = pd.read_json(data.fetch(tiny_env))
    mine = raw[["headline", "is_sarcastic"]].rename(columns={"headline": "sentence", "is_sarcastic": "label"})
    assert "300 rows" in passes(capsys, "01.3", mine)
    fails(capsys, "01.3", raw, saying="no column 'sentence'")
    fails(capsys, "01.3", mine.iloc[:-1], saying="rows")
    fails(capsys, "01.3", mine.set_axis(mine.index + 1), saying="index")
    fails(capsys, "01.3", mine.assign(label=1 - mine["label"]), saying="label column")
    fails(capsys, "01.3", mine.to_dict(), saying="DataFrame")


# ---------------------------------------------------------------------------------------------- notebook 02


def test_02_1_other_seed(tiny_env, capsys):
    """The share passes; a percentage, a count or the wrong share get a hint."""
    df = helpers.load_data(tiny_env)
    _, test = helpers.split_data(df, tiny_env)
    _, other = helpers.split_data(df, helpers.get_settings(split_seed=124))
    shared = other.index.isin(test.index).mean()
    assert "29.3%" in passes(capsys, "02.1", shared)
    fails(capsys, "02.1", 100 * shared, saying="percentage")
    fails(capsys, "02.1", int(other.index.isin(test.index).sum()), saying="count")
    fails(capsys, "02.1", 0.25, saying="not 0.2933")


def test_02_2_stratified(tiny_env, capsys):
    """train_test_split with stratify passes; without it, or split with another seed, gets a hint."""
    df = helpers.load_data(tiny_env)
    kwargs = dict(test_size=tiny_env.test_size, random_state=tiny_env.split_seed)
    _, s_test = train_test_split(df, stratify=df["label"], **kwargs)
    passes(capsys, "02.2", s_test)
    fails(capsys, "02.2", train_test_split(df, **kwargs)[1], saying="stratify=df['label']")
    fails(capsys, "02.2", train_test_split(df, stratify=df["label"], test_size=0.25, random_state=0)[1],
          saying="not the rows")
    fails(capsys, "02.2", s_test.index, saying="DataFrame")


def test_02_3_test_size(tiny_env, capsys):
    """60 test rows pass on tiny; the default's 75 and another number get a hint."""
    parts = split.load_split(helpers.get_settings(test_size=0.2))
    passes(capsys, "02.3", len(parts["test"]))
    fails(capsys, "02.3", 75, saying="default test_size")
    fails(capsys, "02.3", 61, saying="not 60")
    fails(capsys, "02.3", "60", saying="number")


# ---------------------------------------------------------------------------------------------- notebook 03


def test_03_1_unknown(tiny_env, capsys, tiny_tokenizer):
    """The tiny vocabulary knows Korean: 0 [UNK] passes; all tokens, or another count, gets a hint."""
    tokens = tiny_tokenizer.tokenize(nb03.KOREAN)
    passes(capsys, "03.1", tokens.count(tiny_tokenizer.unk_token))
    fails(capsys, "03.1", len(tokens), saying="all tokens")
    fails(capsys, "03.1", 3, saying="not 0")


def test_03_2_padding_ratio(tiny_env, capsys, tiny_tokenizer):
    """The ratio of the two batches passes; upside down or far off gets a hint."""
    texts = split.load_split(tiny_env)["train"]["sentence"].tolist()[:16]
    fixed = tiny_tokenizer(texts, truncation=True, padding="max_length", return_tensors="pt")["input_ids"]
    dynamic = DataCollatorWithPadding(tiny_tokenizer)(
        [{"input_ids": ids} for ids in tiny_tokenizer(texts, truncation=True)["input_ids"]])["input_ids"]
    ratio = fixed.numel() / dynamic.numel()
    passes(capsys, "03.2", ratio)
    fails(capsys, "03.2", 1 / ratio, saying="upside down")
    fails(capsys, "03.2", 512 / 15, saying="ratio is")


def test_03_3_truncation(tiny_env, capsys, tiny_tokenizer):
    """The number of headlines over 8 tokens passes; all of them, or >= 8, gets a hint."""
    train = split.load_split(tiny_env)["train"]
    lengths = [len(ids) for ids in tiny_tokenizer(train["sentence"].tolist())["input_ids"]]
    passes(capsys, "03.3", sum(n > 8 for n in lengths))
    fails(capsys, "03.3", len(train), saying="all train headlines")
    at_least = sum(n >= 8 for n in lengths)
    if at_least != sum(n > 8 for n in lengths):
        fails(capsys, "03.3", at_least, saying="exactly 8 tokens")


# ---------------------------------------------------------------------------------------------- notebook 04


def _fresh(settings):
    """Notebook 04's fresh model, tokenizer and tokenized splits on `settings`."""
    parts = split.load_split(settings)
    names = data.label_names(parts["train"])
    tokenizer = models.load_tokenizer(settings)
    return (models.load_model(settings, names), tokenizer, tokenization.tokenize(parts["train"], tokenizer, settings),
            tokenization.tokenize(parts["validation"], tokenizer, settings))


def test_04_1_loss_before(tiny_env, capsys):
    """The first 32 rows' losses pass; a loss from other rows, or a shuffled loss far from ln 2, gets a hint."""
    model, tokenizer, train_data, _ = _fresh(tiny_env)
    batch = DataCollatorWithPadding(tokenizer)([train_data[i] for i in range(32)])
    with torch.no_grad():
        true_loss = model(**batch).loss.item()
        shuffled = model(**{**batch, "labels": batch["labels"].flip(0)}).loss.item()
    passes(capsys, "04.1", true_loss, shuffled)
    fails(capsys, "04.1", true_loss + 0.01, shuffled, saying="first 32 train rows")
    fails(capsys, "04.1", true_loss, 2.5, saying="far from ln(2)")
    fails(capsys, "04.1", true_loss, "0.69", saying="number")


def test_04_2_metrics(capsys):
    """A compute_metrics with precision and recall passes; without them, with swapped arguments, a wrong average,
    or returning a list, gets a hint."""

    def metrics(average="binary", swap=False, keys=("accuracy", "f1", "precision", "recall")):
        def compute_metrics(eval_pred):
            logits, labels = eval_pred
            predictions = np.argmax(logits, axis=-1)
            first, second = (predictions, labels) if swap else (labels, predictions)
            values = {"accuracy": accuracy_score(first, second), "f1": f1_score(first, second, average=average),
                      "precision": precision_score(first, second, average=average),
                      "recall": recall_score(first, second, average=average)}
            return {key: values[key] for key in keys}
        return compute_metrics

    passes(capsys, "04.2", metrics())
    fails(capsys, "04.2", metrics(keys=("accuracy", "f1")), saying="no 'precision'")
    fails(capsys, "04.2", metrics(keys=("precision", "recall")), saying="no 'accuracy'")
    fails(capsys, "04.2", metrics(swap=True), saying="labels first")
    fails(capsys, "04.2", metrics(average="macro"), saying="average='binary'")
    fails(capsys, "04.2", lambda eval_pred: [0.5, 0.5], saying="not a dict")
    fails(capsys, "04.2", lambda eval_pred: None, saying="returns nothing yet")
    fails(capsys, "04.2", 0.9, saying="should be a function")


def test_04_3_head(tiny_env, capsys):
    """The weights outside the body pass (on the tiny DistilBERT: pre_classifier and classifier); the whole model,
    a share, or the classifier alone get a hint."""
    model, *_ = _fresh(tiny_env)
    head = model.num_parameters() - model.base_model.num_parameters()
    head_names = ("pre_classifier", "classifier")
    named = sum(p.numel() for name, p in model.named_parameters() if name.split(".")[0] in head_names)
    assert named == head
    passes(capsys, "04.3", head)
    fails(capsys, "04.3", model.num_parameters(), saying="whole model")
    fails(capsys, "04.3", head / model.num_parameters(), saying="share")
    fails(capsys, "04.3", model.classifier.weight.numel() + model.classifier.bias.numel(), saying="head is")


def _trainer(settings, train: bool) -> Trainer:
    """A Trainer as notebook 04 builds it, on `settings`; trained when `train`."""
    model, tokenizer, train_data, eval_data = _fresh(settings)
    trainer = Trainer(model=model, args=finetune.training_arguments(settings), train_dataset=train_data,
                      eval_dataset=eval_data, data_collator=DataCollatorWithPadding(tokenizer),
                      processing_class=tokenizer, compute_metrics=finetune.compute_metrics)
    if train:
        trainer.train()
    return trainer


def test_04_4_wrong_trainers_get_a_hint(tiny_env, capsys):
    """The profile's own learning rate, an untrained Trainer, or not a Trainer, each get a hint."""
    fails(capsys, "04.4", _trainer(tiny_env, train=False), saying="not 30 x")
    high = helpers.get_settings(learning_rate=30 * tiny_env.learning_rate)
    fails(capsys, "04.4", _trainer(high, train=False), saying="not trained yet")
    fails(capsys, "04.4", "trainer", saying="should be a Trainer")


@pytest.mark.slow
def test_04_4_high_learning_rate(tiny_env, capsys):
    """Trained with 30 times tiny's learning rate, the Trainer passes and check_learned says it did not learn;
    without evaluation (no best epoch kept), the check says what to keep."""
    high = helpers.get_settings(learning_rate=30 * tiny_env.learning_rate)
    out = passes(capsys, "04.4", _trainer(high, train=True))
    assert "check_learned says False" in out
    model, tokenizer, train_data, eval_data = _fresh(high)
    plain = Trainer(model=model, args=finetune.training_arguments(high, **finetune.NO_EVALUATION),
                    train_dataset=train_data, eval_dataset=eval_data, data_collator=DataCollatorWithPadding(tokenizer))
    plain.train()
    fails(capsys, "04.4", plain, saying="kept no best epoch")


# ---------------------------------------------------------------------------------------------- the notebooks


@pytest.mark.parametrize("number", EXERCISED)
def test_each_exercise_has_a_starter_a_check_and_an_asserted_solution(number):
    """Notebook NN: at least three exercises; each check call follows a starter holding `...` (the cell before, or
    earlier in its own cell); its solutions assert every check passes (so nbval fails on a wrong worked solution)."""
    keys = sorted(key for key in exercises.EXERCISES if key.startswith(f"{number}."))
    assert len(keys) >= 3
    starter = notebook_cells(notebook_path(number))
    solved = "\n".join(source for kind, source in notebook_cells(notebook_path(number, solutions=True))
                       if kind == "code")
    for key in keys:
        call = f'exercises.check("{key}"'
        calls = [i for i, (kind, source) in enumerate(starter) if kind == "code" and call in source]
        assert len(calls) == 1, key
        before, previous = starter[calls[0]][1].split(call)[0], starter[calls[0] - 1]
        assert "..." in before or (previous[0] == "code" and "..." in previous[1]), key
        assert re.search(rf'assert exercises\.check\("{re.escape(key)}"', solved), key
    assert set(re.findall(r'exercises\.check\("(\d\d\.\d)"', solved)) == set(keys)


GUARDED = [notebook_path("00")] + [notebook_path(n, s) for n in EXERCISED for s in (False, True)]


@pytest.mark.parametrize("path", GUARDED, ids=lambda p: p.name)
def test_first_code_cell_guards_the_helpers_import(path):
    """The first code cell begins with the try/except around `import helpers` (the hosted-notebook guard)."""
    first = next(source for kind, source in notebook_cells(path) if kind == "code")
    assert first.startswith("try:\n    import helpers\nexcept ModuleNotFoundError:")
    assert "raise SystemExit(" in first.split("\n\n")[0] and "git+<this repository" in first


def test_tiny_figures_the_notebooks_state(tiny_env, tiny_tokenizer):
    """The deterministic `tiny` figures under notebooks 01-04's key cells are what the tiny profile gives."""
    df = helpers.load_data(tiny_env)
    train, test = helpers.split_data(df, tiny_env)
    parts = split.load_split(tiny_env)
    majority = baselines.majority_accuracy(train["label"], test["label"])
    seen = test["sentence"].isin(set(train["sentence"])).sum()
    assert f"{len(df)} on `tiny`" in notebook_text("01")
    assert f"{majority:.3f} on {len(test)} test rows on `tiny`" in notebook_text("01")
    assert f"{seen} of {len(test)} on `tiny`" in notebook_text("01")
    sizes = f"{len(parts['train'])} / {len(parts['validation'])} / {len(parts['test'])} on `tiny`"
    assert sizes in notebook_text("02") and f"{len(train)} train and {len(test)} test rows" in notebook_text("02")
    assert "first test rows " + ", ".join(map(str, test.index[:3])) in notebook_text("02")
    lengths = tokenization.token_lengths(parts["train"]["sentence"], tiny_tokenizer)
    assert f"a mean of {lengths.mean():.1f} and a longest of {lengths.max()}" in notebook_text("03")
    vocabulary = f"a vocabulary of {tiny_tokenizer.vocab_size:,} and at most {tiny_tokenizer.model_max_length} tokens"
    assert vocabulary in notebook_text("03")
    items = tokenization.tokenize(parts["train"].iloc[:4], tiny_tokenizer, tiny_env)
    longest = max(len(items[i]["input_ids"]) for i in range(4))
    assert f"of shape (4, {longest})" in notebook_text("03")
    assert f"{len(parts['train'])} and {len(parts['validation'])} on `tiny`" in notebook_text("04")
    model, tokenizer, train_data, _ = _fresh(tiny_env)
    with torch.no_grad():
        loss = model(**DataCollatorWithPadding(tokenizer)([train_data[i] for i in range(8)])).loss.item()
    assert f"({loss:.3f} on `tiny`)" in notebook_text("04") and abs(loss - math.log(2)) < 0.05
