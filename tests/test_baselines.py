"""Baselines: the majority class and TF-IDF with logistic regression, trained and scored on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import baselines

from support import labelled_frame


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


def test_one_class_of_train_rows_gives_the_majority_class_alone():
    """Train rows of a single class (a tiny file's split) leave TF-IDF out instead of failing inside scikit-learn."""
    train, test = labelled_frame(5, positives=1.0), labelled_frame(10, positives=0.5)
    table = baselines.compare(train, test, num_labels=2)
    assert list(table.index) == ["majority class"] and table.loc["majority class", "accuracy"] == 0.5
