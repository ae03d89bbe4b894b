"""The checks of notebook 05 (helpers/exercises/nb05.py), on the tiny profile as the notebook runs them: each worked
solution (run from the solutions notebook's own cells) passes, plausible wrong answers (those issue 28 lists among
them) fail with a hint that does not give the expected value away, and each exercise's `solution` is the worked
solution's code.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import accuracy_score, precision_score, recall_score
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer
from transformers.trainer_utils import PredictionOutput

from helpers import baselines, predict, split

from support import (LABELS, PREDICTED, exercise_namespace, fails, logits_for, no_value, notebook_cells, notebook_path,
                     notebook_text, passes, with_environment)

KEYS = ("05.1", "05.2", "05.3", "05.4", "05.5")


@pytest.fixture(scope="module")
def worked(tmp_path_factory, tiny_cache):
    """The solutions notebook's setup cell and every worked solution, run once on the tiny profile: their names
    (the notebook's variables) and the environment that runs them (the output folder, the tiny model)."""
    env = {"TC_PROFILE": "tiny", "TC_CACHE_DIR": str(tiny_cache),
           "TC_OUTPUT_DIR": str(tmp_path_factory.mktemp("nb05") / "out")}
    return env, exercise_namespace("05", env)


@pytest.fixture
def names(worked, monkeypatch):
    """The worked solutions' names, with the environment the checks read their profile from."""
    return with_environment(worked, monkeypatch)


@pytest.mark.slow
def test_05_1_untrained(names, capsys):
    """An untrained load passes; the fine-tuned model's predictions or the fine-tuned model itself as "untrained",
    and the tutorial's 1.0 as the accuracy, fail without naming the accuracy."""
    out = passes(capsys, "05.1", names["untrained"], names["untrained_predictions"], names["tutorial"],
                 names["accuracy"])
    right = names["accuracy"]
    assert f"{right:.3f}" in out
    fine_tuned = names["predictions"]  # the notebook's trainer.predict, with the fine-tuned model
    tuned_accuracy = float((np.argmax(fine_tuned.predictions, -1) == fine_tuned.label_ids).mean())
    no_value(fails(capsys, "05.1", names["untrained"], fine_tuned, 1.0, tuned_accuracy,
                   saying="not the untrained model's predictions"), right)
    no_value(fails(capsys, "05.1", names["model"], fine_tuned, 1.0, tuned_accuracy,
                   saying="not the pretrained checkpoint"), right)
    no_value(fails(capsys, "05.1", names["untrained"], names["untrained_predictions"], 1.0, 1.0,
                   saying="the tutorial's mistake"), right)
    no_value(fails(capsys, "05.1", names["untrained"], names["untrained_predictions"], right, right,
                   saying="tutorial is"), right)


@pytest.mark.slow
def test_05_2_fitted_on_the_train_rows(names, capsys):
    """Pipelines fitted on the train rows pass; fitted on the test rows (issue 28: 0.987), on train and test rows,
    or with the n-grams swapped, they fail."""
    words, pairs, train, test = names["words"], names["pairs"], names["train"], names["test"]
    passes(capsys, "05.2", words, pairs)
    on_test = clone(pairs).fit(test["sentence"], test["label"])
    scores = [model.score(test["sentence"], test["label"]) for model in (words, pairs)]
    no_value(fails(capsys, "05.2", words, on_test, saying="not fitted on the train rows"), *scores)
    both = (train.sentence.tolist() + test.sentence.tolist(), train.label.tolist() + test.label.tolist())
    fails(capsys, "05.2", clone(words).fit(*both), pairs, saying="not fitted on the train rows")
    fails(capsys, "05.2", pairs, words, saying="ngram_range")
    fails(capsys, "05.2", words, clone(pairs), saying="not a fitted pipeline")


def _shown(out: str, count: int) -> bool:
    """True when `out` names `count` as a number of its own (a count of 20 rows aside)."""
    return bool(re.search(rf"(?<![\d.]){count}(?![\d.])", out.replace("20 rows", "")))


@pytest.mark.slow
def test_05_3_hardest(names, capsys):
    """The 20 highest-loss rows pass; the easiest rows, the predicted instead of the true label count, and the
    hardest rows of made-up losses fail, without naming the count."""
    rows, hardest, predictions = names["rows"], names["hardest"], names["predictions"]
    expected = int(names["sarcastic"])
    passes(capsys, "05.3", hardest, expected, predictions)
    out = fails(capsys, "05.3", rows.nsmallest(20, "loss"), expected, predictions, saying="easiest")
    predicted = int((hardest["predicted_name"] == names["names"][1]).sum())
    if predicted != expected:
        out = fails(capsys, "05.3", hardest, predicted, predictions, saying="not the count of label 1")
        assert not _shown(out.split("hint:")[1], expected)
    out = fails(capsys, "05.3", hardest, expected + 1, predictions, saying="not the count of label 1")
    assert not _shown(out, expected)
    shuffled = rows.assign(loss=np.random.default_rng(0).permutation(rows["loss"].to_numpy()))
    fails(capsys, "05.3", shuffled.nlargest(20, "loss"), expected, predictions, saying="highest loss")


@pytest.mark.slow
def test_05_4_precision_recall(names, capsys):
    """Precision and recall from the counts pass; swapped, the accuracy, or the other class's precision fail,
    without naming the right values."""
    labels, predicted = names["test"]["label"].to_numpy(), names["predicted"]
    precision, recall = precision_score(labels, predicted), recall_score(labels, predicted)
    passes(capsys, "05.4", names["precision"], names["recall"], names["predictions"])
    if not np.isclose(precision, recall):
        no_value(fails(capsys, "05.4", recall, precision, names["predictions"], saying="swapped"), precision, recall)
    accuracy = accuracy_score(labels, predicted)
    no_value(fails(capsys, "05.4", accuracy, recall, names["predictions"], saying="precision is"), precision, recall)
    other = precision_score(labels, predicted, pos_label=0)
    no_value(fails(capsys, "05.4", other, recall, names["predictions"], saying="precision is"), precision, recall)
    untrained = names["untrained_predictions"]  # the right numbers for the wrong predictions
    fails(capsys, "05.4", precision, recall, untrained, saying="not the fine-tuned model's predictions")


@pytest.mark.slow
def test_05_5_per_row_loss(names, capsys):
    """The hand-written loss and torch's own pass; the mean, the predicted label's loss, probabilities without the
    log and the loss with its sign flipped fail."""
    passes(capsys, "05.5", names["per_row_loss"])
    passes(capsys, "05.5", lambda logits, labels: torch.nn.functional.cross_entropy(logits, labels, reduction="none"))
    fails(capsys, "05.5", lambda logits, labels: torch.nn.functional.cross_entropy(logits, labels),
          saying="that is the mean")
    fails(capsys, "05.5", lambda logits, labels: torch.nn.functional.cross_entropy(logits, logits.argmax(-1),
                                                                                   reduction="none"),
          saying="differs from torch's cross entropy")
    fails(capsys, "05.5", lambda logits, labels: -torch.softmax(logits, -1)[torch.arange(len(labels)), labels],
          saying="differs from torch's cross entropy")
    fails(capsys, "05.5", lambda logits, labels: torch.log_softmax(logits, -1)[torch.arange(len(labels)), labels],
          saying="minus the loss")


@pytest.mark.slow
def test_the_checks_predict_with_the_notebooks_models(names):
    """What the checks recompute is what the notebook computed: the fine-tuned model's logits on the test rows
    (as trainer.predict gave them), and an untrained load differs from the fine-tuned model."""
    from helpers.exercises import nb05

    settings = names["settings"]
    first = names["test"].iloc[:nb05.SAMPLE]
    again = nb05._logits(names["model"], names["tokenizer"], first, settings)
    assert nb05._same_logits(names["predictions"].predictions[:nb05.SAMPLE], again)
    fresh = AutoModelForSequenceClassification.from_pretrained(names["folder"])
    trainer = Trainer(model=fresh, args=names["args"], data_collator=DataCollatorWithPadding(names["tokenizer"]))
    assert np.allclose(trainer.predict(names["test_data"]).predictions, names["predictions"].predictions, atol=1e-5)
    assert not nb05._same_logits(names["untrained_predictions"].predictions, names["predictions"].predictions)


def test_per_row_loss_is_torch_cross_entropy():
    """Notebook 05's claim: `with_predictions`' loss is `cross_entropy(..., reduction="none")`, and its mean the
    model's mean loss."""
    logits = logits_for(PREDICTED, seed=3)
    rows = predict.with_predictions(pd.DataFrame({"label": LABELS}), PredictionOutput(logits, LABELS, {}), ["a", "b"])
    losses = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(LABELS), reduction="none")
    assert np.allclose(rows["loss"], losses.numpy(), atol=1e-5)
    assert np.isclose(losses.mean(), torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(LABELS)))


def test_the_api_stands_in_code_cells():
    """05 writes the per-row loss with cross_entropy, checked against the helpers' loss."""
    code = "\n".join(source for kind, source in notebook_cells(notebook_path("05")) if kind == "code")
    assert 'cross_entropy(logits, labels, reduction="none")' in code and "with_predictions" in code


def test_tiny_figures_the_notebook_states(tiny_settings):
    """The deterministic `tiny` figures under notebook 05's key cells: the test rows and the baselines."""
    parts = split.load_split(tiny_settings)
    table = baselines.compare(parts["train"], parts["test"], 2)
    majority, tfidf = (table.loc[name, "accuracy"] for name in ("majority class", "TF-IDF + logistic regression"))
    assert f"On `tiny`: majority {majority:.3f}, TF-IDF {tfidf:.3f}" in notebook_text("05")
    assert f"of {len(parts['test'])} test rows" in notebook_text("05")
