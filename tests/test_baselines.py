"""Baselines: the majority class and TF-IDF with logistic regression, and the "did it learn?" guard built on them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers import baselines
from helpers.finetune import check_learned

from conftest import labelled_frame


def test_majority_is_the_commonest_train_label_scored_on_other_rows():
    """The majority baseline answers the train rows' commonest label; its accuracy is that label's share of the test."""
    train, test = labelled_frame(100, positives=0.7, seed=1), labelled_frame(40, positives=0.25, seed=2)
    assert baselines.majority_label(train["label"]) == 1
    assert baselines.majority_accuracy(train["label"], test["label"]) == pytest.approx(0.25)
    assert baselines.majority_label([2, 0, 2, 0, 1]) == 0, "a tie goes to the smallest id"


def test_tfidf_learns_words_the_majority_cannot():
    """On texts whose label is given by a word, TF-IDF scores near 1 and the majority class its share."""
    rng = np.random.default_rng(0)
    words = ["apple", "pear", "plum", "fig", "kiwi", "lime"]

    def rows(n: int) -> pd.DataFrame:
        labels = rng.integers(0, 2, n)
        texts = [" ".join(rng.choice(words, 4)) + (" onion" if y else " huffpost") for y in labels]
        return pd.DataFrame({"sentence": texts, "label": labels})

    train, test = rows(200), rows(100)
    table = baselines.compare(train, test, num_labels=2)
    assert list(table.index) == ["majority class", "TF-IDF + logistic regression"]
    assert table.loc["TF-IDF + logistic regression", "accuracy"] == 1.0
    majority = baselines.majority_accuracy(train["label"], test["label"])
    assert table.loc["majority class", "accuracy"] == pytest.approx(majority)
    assert (table["train_seconds"] >= 0).all() and table["f1"].between(0, 1).all()


def trainer_with(accuracy: float, train_labels: list[int], eval_labels: list[int], device: str = "cpu"):
    """A stand-in for a trained `Trainer`: what `check_learned` reads (state, datasets, device)."""
    return SimpleNamespace(
        state=SimpleNamespace(best_metric=accuracy),
        train_dataset=SimpleNamespace(labels=train_labels),
        eval_dataset=SimpleNamespace(labels=eval_labels),
        args=SimpleNamespace(device=SimpleNamespace(type=device)),
    )


@pytest.mark.parametrize("accuracy, learned", [(0.55, False), (0.59, False), (0.61, True), (0.95, True)])
def test_did_it_learn_compares_with_the_majority_class(accuracy, learned, capsys):
    """400 evaluation rows, 55 % in the commonest class: the bar is 0.55 plus two standard errors (about 0.60)."""
    train, evaluation = [0] * 60 + [1] * 40, [0] * 220 + [1] * 180
    assert check_learned(trainer_with(accuracy, train, evaluation)) is learned
    err = capsys.readouterr().err
    if learned:
        assert err == ""
    else:
        assert len(err.splitlines()) == 1 and err.startswith("warning: !!! the model did not learn")
        assert "0.550" in err and "learning rate" in err and "device" not in err


def test_did_it_learn_names_a_device_that_is_not_the_cpu(capsys):
    """On a GPU or an Apple GPU, a model that did not learn may be the device's fault: the warning says so."""
    assert not check_learned(trainer_with(0.5, [0, 1, 1], [0, 1] * 50, device="mps"))
    assert "mps device" in capsys.readouterr().err


def test_one_class_of_train_rows_gives_the_majority_class_alone():
    """Train rows of a single class (a tiny file's split) leave TF-IDF out instead of failing inside scikit-learn."""
    train, test = labelled_frame(5, positives=1.0), labelled_frame(10, positives=0.5)
    table = baselines.compare(train, test, num_labels=2)
    assert list(table.index) == ["majority class"] and table.loc["majority class", "accuracy"] == 0.5
