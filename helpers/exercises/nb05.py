"""The checks of notebook 05 (predict)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import _close, exercise, NotYet


@exercise("05.1", "`untrained_predictions`, `tutorial`, `accuracy`: an untrained model's predictions, two accuracies")
def check_untrained(predictions, tutorial, accuracy) -> str:
    """Notebook 05, exercise 1: the tutorial's line and the argmax accuracy of an untrained model's predictions."""
    if not hasattr(predictions, "label_ids"):
        raise NotYet(f"untrained_predictions is a {type(predictions).__name__}, not what trainer.predict returns",
                     "untrained_predictions = Trainer(model=untrained, ...).predict(test_data)")
    labels = np.asarray(predictions.label_ids)
    right = float((np.argmax(predictions.predictions, axis=-1) == labels).mean())
    if not _close(tutorial, 1.0):
        raise NotYet(f"tutorial is {float(tutorial):.3f}; the tutorial's line gives 1.0 for any model",
                     "compare the test rows' labels with predictions.label_ids, as the tutorial does")
    if _close(accuracy, 1.0) and not _close(right, 1.0):
        raise NotYet("accuracy is 1.0: that is the tutorial's mistake again (label_ids are the true labels)",
                     "the model's answer is np.argmax(predictions.predictions, axis=-1)")
    if not _close(accuracy, right):
        raise NotYet(f"accuracy is {float(accuracy):.4f}, but the argmax of these predictions scores {right:.4f}",
                     "compare np.argmax(predictions.predictions, axis=-1) with the true labels, then .mean()")
    return f"the tutorial's line says 1.0, the argmax {right:.3f}: the untrained model's real score"


def _ngrams(model) -> tuple | None:
    """The `ngram_range` of a fitted scikit-learn pipeline's TF-IDF step (None: none there, or not fitted)."""
    steps = getattr(model, "steps", [])
    vectorizer = next((step for _, step in steps if hasattr(step, "ngram_range")), None)
    if vectorizer is None or not hasattr(vectorizer, "vocabulary_"):
        return None
    return tuple(vectorizer.ngram_range)


@exercise("05.2", "`words` and `pairs`, two fitted TF-IDF pipelines")
def check_word_pairs(words, pairs, test: pd.DataFrame) -> str:
    """Notebook 05, exercise 2: two fitted TF-IDF pipelines, words only and words with word pairs."""
    for name, value in (("words", words), ("pairs", pairs)):
        if _ngrams(value) is None:
            raise NotYet(f"{name} is not a fitted pipeline with a TfidfVectorizer",
                         "make_pipeline(TfidfVectorizer(ngram_range=...), LogisticRegression(max_iter=1000)), "
                         "then .fit(train['sentence'], train['label'])")
    if _ngrams(words) != (1, 1):
        raise NotYet(f"words uses ngram_range={_ngrams(words)}", "words only: ngram_range=(1, 1)")
    if _ngrams(pairs) != (1, 2):
        raise NotYet(f"pairs uses ngram_range={_ngrams(pairs)}", "words and word pairs: ngram_range=(1, 2)")
    scores = [model.score(test["sentence"], test["label"]) for model in (words, pairs)]
    return (f"words only {scores[0]:.4f}, with word pairs {scores[1]:.4f} on the test rows: "
            f"pairs add {100 * (scores[1] - scores[0]):+.1f} points")


@exercise("05.3", "`hardest`, the 20 rows with the highest loss, and `sarcastic`, how many have label 1")
def check_hardest(hardest: pd.DataFrame, sarcastic, rows: pd.DataFrame) -> str:
    """Notebook 05, exercise 3: the 20 test rows with the highest loss, and how many of them are labelled 1."""
    if not isinstance(hardest, pd.DataFrame) or "loss" not in hardest:
        raise NotYet("hardest is not a table of rows with their loss", "start from rows, the table with a loss column")
    if len(hardest) != 20:
        raise NotYet(f"hardest has {len(hardest)} rows, not 20", "rows.nlargest(20, 'loss')")
    top = np.sort(rows["loss"].to_numpy())[::-1][:20]
    if not np.allclose(np.sort(hardest["loss"].to_numpy())[::-1], top):
        easiest = np.allclose(np.sort(hardest["loss"].to_numpy()), np.sort(rows["loss"].to_numpy())[:20])
        raise NotYet("these are the easiest 20 rows (lowest loss)" if easiest else
                     "these are not the 20 rows with the highest loss", "rows.nlargest(20, 'loss')")
    if int(sarcastic) != int((hardest["label"] == 1).sum()):
        raise NotYet(f"sarcastic is {sarcastic}, but {(hardest['label'] == 1).sum()} of these rows have label 1",
                     "(hardest['label'] == 1).sum()")
    return f"{int(sarcastic)} of the 20 hardest rows are labelled sarcastic; now read them"


@exercise("05.4", "`precision` and `recall` of the class sarcastic (1)")
def check_precision_recall(precision, recall, labels, predicted) -> str:
    """Notebook 05, exercise 4: precision and recall of the class 1 (sarcastic), from the counts."""
    from sklearn.metrics import precision_score, recall_score

    expected = (precision_score(labels, predicted, zero_division=0), recall_score(labels, predicted, zero_division=0))
    if _close(precision, expected[1]) and _close(recall, expected[0]) and not _close(*expected):
        raise NotYet("precision and recall are swapped",
                     "precision: of the rows called sarcastic, the share that are; recall: of the sarcastic rows, "
                     "the share found")
    for name, value, right, hint in (
        ("precision", precision, expected[0], "true positives / (true positives + false positives)"),
        ("recall", recall, expected[1], "true positives / (true positives + false negatives)"),
    ):
        if not _close(value, right):
            raise NotYet(f"{name} is {float(value):.4f}; from these predictions it is {right:.4f}", hint)
    return f"precision {expected[0]:.3f}, recall {expected[1]:.3f}: classification_report's row for class 1"
