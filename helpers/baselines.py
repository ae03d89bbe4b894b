"""What a transformer must beat: always answering the commonest class, and TF-IDF with logistic regression.

Introduced in notebook 01 (the majority baseline) and notebook 05 (the baselines table).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline, make_pipeline


def scores(labels: Sequence[int], predicted: Sequence[int], num_labels: int) -> dict[str, float]:
    """Accuracy and F1 (of label 1 for two classes, macro for more), as `finetune.compute_metrics` reports them."""
    average = "binary" if num_labels == 2 else "macro"
    return {"accuracy": float(accuracy_score(labels, predicted)),
            "f1": float(f1_score(labels, predicted, average=average, zero_division=0))}


def majority_label(train_labels: Sequence[int]) -> int:
    """The commonest label of the train rows (the smallest id on a tie) (notebook 01)."""
    return int(pd.Series(train_labels).value_counts().sort_index().idxmax())


def majority_accuracy(train_labels: Sequence[int], labels: Sequence[int]) -> float:
    """Accuracy on `labels` of always answering the commonest train label, the bar to clear (notebook 01)."""
    return float(np.mean(np.asarray(labels) == majority_label(train_labels)))


def tfidf_classifier() -> Pipeline:
    """TF-IDF of words and word pairs, then logistic regression: the classic text classifier (notebook 05)."""
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=1000))


def compare(train: pd.DataFrame, test: pd.DataFrame, num_labels: int) -> pd.DataFrame:
    """The majority class and TF-IDF with logistic regression, trained on `train`, scored on `test` (notebook 05).
    One row each: accuracy, F1 and the seconds training took; TF-IDF only when the train rows hold two classes."""
    return compare_on(train, {"test": test}, num_labels)["test"]


def compare_on(train: pd.DataFrame, evaluated: dict[str, pd.DataFrame], num_labels: int) -> dict[str, pd.DataFrame]:
    """`compare`'s table for each of several sets of rows, the baselines trained once (notebook 04's model card)."""
    started = time.perf_counter()
    majority = majority_label(train["label"])
    fitted = {"majority class": (lambda rows: np.full(len(rows), majority), time.perf_counter() - started)}
    if train["label"].nunique() >= 2:  # logistic regression needs two classes to learn from
        started = time.perf_counter()
        tfidf = tfidf_classifier().fit(train["sentence"], train["label"])
        fitted["TF-IDF + logistic regression"] = (lambda rows: tfidf.predict(rows["sentence"]),
                                                  time.perf_counter() - started)
    tables = {}
    for name, rows in evaluated.items():
        table = {model: {**scores(rows["label"], guess(rows), num_labels), "train_seconds": seconds}
                 for model, (guess, seconds) in fitted.items()}
        tables[name] = pd.DataFrame.from_dict(table, orient="index").rename_axis("model")
    return tables
