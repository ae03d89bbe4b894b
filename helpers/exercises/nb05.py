"""The checks of notebook 05 (predict).

Each check works from the objects the notebook made (the untrained model, the fitted pipelines, `trainer.predict`'s
output, the learner's loss function) and recomputes what it needs from the rows notebook 05 uses: the saved split's
train and test rows, and the saved model of notebook 04 on the first test rows.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

from .core import _close, _number, _settings, exercise, NotYet

SAMPLE = 32  # the first test rows a check predicts again with a model, to see where a prediction came from


@contextlib.contextmanager
def _quietly():
    """transformers' load report and bars kept out of a check's output (notebook 05 showed them once)."""
    from ..hardware import quiet_transformers

    with quiet_transformers():
        yield


def _test_rows(settings) -> pd.DataFrame:
    """The saved split's test rows, as notebook 05 reads them."""
    from .. import split

    return split.load_split(settings)["test"]


def _logits(model, tokenizer, rows: pd.DataFrame, settings) -> np.ndarray:
    """`model`'s logits on `rows`, in order, as `trainer.predict` gives them (in float32)."""
    from .. import predict, tokenization

    with _quietly():
        return np.asarray(predict.predict(model, tokenizer, tokenization.tokenize(rows, tokenizer, settings),
                                          settings).predictions, dtype=np.float32)


def _same_logits(given: np.ndarray, recomputed: np.ndarray) -> bool:
    """True when two sets of logits are one model's on the same rows (bfloat16 moves them in the second digit)."""
    return given.shape == recomputed.shape and np.allclose(given, recomputed, rtol=0.05, atol=0.05)


def _predictions(predictions, settings, name: str = "predictions") -> np.ndarray:
    """The logits of notebook 05's `predictions` (trainer.predict on the test rows with the fine-tuned model),
    after checking they are that: the test rows' labels, and the saved model's logits on the first rows."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ..layout import run_folder

    if not hasattr(predictions, "label_ids") or not hasattr(predictions, "predictions"):
        raise NotYet(f"{name} is a {type(predictions).__name__}, not what trainer.predict returns",
                     "hand over the PredictionOutput that trainer.predict(test_data) returned in the notebook")
    test = _test_rows(settings)
    logits = np.asarray(predictions.predictions, dtype=np.float32)
    if len(logits) != len(test) or not np.array_equal(np.asarray(predictions.label_ids), test["label"].to_numpy()):
        raise NotYet(f"{name} are not the predictions of the test rows, in their order",
                     "predict test_data, the tokenized test rows of the saved split")
    folder = run_folder(settings).model
    with _quietly():
        model = AutoModelForSequenceClassification.from_pretrained(folder)
    if not _same_logits(logits[:SAMPLE], _logits(model, AutoTokenizer.from_pretrained(folder), test.iloc[:SAMPLE],
                                                 settings)):
        raise NotYet(f"{name} are not the fine-tuned model's predictions (notebook 04's saved model)",
                     "use the predictions of the notebook's trainer, whose model is the one reloaded from `folder`")
    return logits


@exercise("05.1", "`untrained`, `untrained_predictions`, `tutorial` and `accuracy`: an untrained model, its "
                  "predictions of the test rows, two accuracies",
          hint="an untrained model is the pretrained checkpoint (models.ensure_model(settings)) loaded with "
               "AutoModelForSequenceClassification.from_pretrained and a new two-class head, never trained; "
               "predict the test rows with a Trainer around it, and read the tutorial's line and the argmax "
               "(np.argmax over the last axis of .predictions) on those predictions",
          solution="""\
untrained = AutoModelForSequenceClassification.from_pretrained(models.ensure_model(settings), num_labels=2)
untrained_tokenizer = AutoTokenizer.from_pretrained(models.ensure_model(settings))
untrained_args = TrainingArguments(output_dir=f"{settings.output_dir}-untrained", report_to="none",
                                   per_device_eval_batch_size=settings.eval_batch_size,
                                   **hardware.training_flags(settings))
untrained_trainer = Trainer(model=untrained, args=untrained_args,
                            data_collator=DataCollatorWithPadding(untrained_tokenizer))
untrained_predictions = untrained_trainer.predict(tokenization.tokenize(test, untrained_tokenizer, settings))
tutorial = (test["label"] == untrained_predictions.label_ids).mean()
accuracy = (test["label"] == np.argmax(untrained_predictions.predictions, axis=-1)).mean()""")
def check_untrained(untrained, predictions, tutorial, accuracy) -> str:
    """Notebook 05, exercise 1: an untrained model, its predictions, the tutorial's line and the argmax accuracy."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .. import models

    settings = _settings()
    if not isinstance(untrained, torch.nn.Module) or not hasattr(untrained, "config"):
        raise NotYet(f"untrained is a {type(untrained).__name__}, not a model",
                     "load it with AutoModelForSequenceClassification.from_pretrained")
    if not hasattr(predictions, "label_ids"):
        raise NotYet(f"untrained_predictions is a {type(predictions).__name__}, not what trainer.predict returns",
                     "predict the test rows with a Trainer around the untrained model")
    pretrained = models.ensure_model(settings)
    with _quietly():
        fresh, loading = AutoModelForSequenceClassification.from_pretrained(pretrained, num_labels=2,
                                                                           output_loading_info=True)
    new = set(loading["missing_keys"])  # the head: drawn at random on each load, so any draw is untrained
    given = dict(untrained.named_parameters())
    for name, weight in fresh.named_parameters():
        if name not in new and (name not in given or given[name].shape != weight.shape
                                or not torch.allclose(given[name].detach().float().cpu(), weight.detach().float())):
            raise NotYet("untrained is not the pretrained checkpoint: its weights have been trained (or come from "
                         "another model)", "load the pretrained model (models.ensure_model(settings)), not the "
                         "fine-tuned folder, and do not train it")
    test = _test_rows(settings)
    logits = np.asarray(predictions.predictions, dtype=np.float32)
    if len(logits) != len(test) or not np.array_equal(np.asarray(predictions.label_ids), test["label"].to_numpy()):
        raise NotYet("untrained_predictions are not the predictions of the test rows, in their order",
                     "predict the tokenized test rows of the saved split")
    if not _same_logits(logits[:SAMPLE], _logits(untrained, AutoTokenizer.from_pretrained(pretrained),
                                                 test.iloc[:SAMPLE], settings)):
        raise NotYet("untrained_predictions are not the untrained model's predictions",
                     "predict with a Trainer whose model is `untrained`, not the notebook's trainer")
    right = float((np.argmax(logits, axis=-1) == test["label"].to_numpy()).mean())
    tutorial, accuracy = _number(tutorial, "tutorial"), _number(accuracy, "accuracy")
    if not _close(tutorial, 1.0):
        raise NotYet("tutorial is not what the tutorial's line prints for any model",
                     "compare the test rows' labels with untrained_predictions.label_ids, as the tutorial does")
    if _close(accuracy, 1.0) and not _close(right, 1.0):
        raise NotYet("accuracy is 1.0: that is the tutorial's mistake again (label_ids are the true labels)",
                     "the model's answer is the argmax of untrained_predictions.predictions over the last axis")
    if not _close(accuracy, right):
        raise NotYet("accuracy is not the argmax accuracy of untrained_predictions",
                     "compare the argmax of untrained_predictions.predictions (axis=-1) with the true labels")
    return f"the tutorial's line says 1.0, the argmax {right:.3f}: the untrained model's real score"


def _vectorizer(model):
    """The fitted TfidfVectorizer of a scikit-learn pipeline (None: none there, or not fitted)."""
    vectorizer = next((step for _, step in getattr(model, "steps", []) if hasattr(step, "ngram_range")), None)
    return vectorizer if vectorizer is not None and hasattr(vectorizer, "vocabulary_") else None


@exercise("05.2", "`words` and `pairs`, two TF-IDF pipelines fitted on the train rows",
          hint="make_pipeline of a TfidfVectorizer (its ngram_range sets words, or words and word pairs) and a "
               "LogisticRegression(max_iter=1000), each fitted on the train rows' sentences and labels (never the "
               "test rows: the check scores on those)",
          solution="""\
words = make_pipeline(TfidfVectorizer(ngram_range=(1, 1)), LogisticRegression(max_iter=1000))
words.fit(train["sentence"], train["label"])
pairs = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=1000))
pairs.fit(train["sentence"], train["label"])""")
def check_word_pairs(words, pairs) -> str:
    """Notebook 05, exercise 2: two TF-IDF pipelines fitted on the train rows, words only and with word pairs."""
    from sklearn.base import clone

    from .. import split

    parts = split.load_split(_settings())
    train, test = parts["train"], parts["test"]
    for name, value, ngrams in (("words", words, (1, 1)), ("pairs", pairs, (1, 2))):
        vectorizer = _vectorizer(value)
        if vectorizer is None:
            raise NotYet(f"{name} is not a fitted pipeline with a TfidfVectorizer",
                         "make_pipeline(TfidfVectorizer(...), LogisticRegression(...)), then .fit on the train rows")
        if tuple(vectorizer.ngram_range) != ngrams:
            raise NotYet(f"{name} uses ngram_range={tuple(vectorizer.ngram_range)}",
                         "ngram_range=(1, n): n is the longest run of words counted as one feature")
        again = clone(value).fit(train["sentence"], train["label"])  # the same pipeline, fitted on the train rows
        if (vectorizer.vocabulary_ != _vectorizer(again).vocabulary_
                or not np.array_equal(value.predict(test["sentence"]), again.predict(test["sentence"]))):
            raise NotYet(f"{name} was not fitted on the train rows (its words or its answers differ from the same "
                         "pipeline fitted on them)", "fit on train['sentence'] and train['label'] only: rows seen "
                         "in fitting would make the test score promise too much")
    scores = [model.score(test["sentence"], test["label"]) for model in (words, pairs)]
    return (f"words only {scores[0]:.4f}, with word pairs {scores[1]:.4f} on the test rows: "
            f"pairs add {100 * (scores[1] - scores[0]):+.1f} points")


def _losses(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """torch's per-row cross entropy of `logits` against `labels`."""
    import torch

    return torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), reduction="none").numpy()


@exercise("05.3", "`hardest`, the 20 test rows with the highest loss, and `sarcastic`, how many have label 1",
          hint="order `rows` by its loss column, highest first, and keep 20 (pandas has one method for that); "
               "then count the rows of hardest whose label is 1",
          solution="""\
hardest = rows.nlargest(20, "loss")
sarcastic = (hardest["label"] == 1).sum()""")
def check_hardest(hardest, sarcastic, predictions) -> str:
    """Notebook 05, exercise 3: the 20 test rows with the highest loss, and how many of them are labelled 1."""
    settings = _settings()
    logits = _predictions(predictions, settings)
    test = _test_rows(settings)
    losses = pd.Series(_losses(logits, test["label"].to_numpy()), index=test.index)
    if not isinstance(hardest, pd.DataFrame) or "label" not in hardest:
        raise NotYet("hardest is not a table of test rows", "start from rows, the test rows with their loss")
    if len(hardest) != 20:
        raise NotYet(f"hardest has {len(hardest)} rows, not 20", "keep the first 20 rows once ordered")
    if not hardest.index.isin(test.index).all() or hardest.index.has_duplicates:
        raise NotYet("hardest holds rows that are not the test rows", "start from rows, keeping its index")
    top = np.sort(losses.to_numpy())[::-1][:20]
    mine = np.sort(losses[hardest.index].to_numpy())[::-1]
    if not np.allclose(mine, top, atol=1e-4):
        easiest = np.allclose(mine[::-1], np.sort(losses.to_numpy())[:20], atol=1e-4)
        raise NotYet("these are the easiest 20 rows (lowest loss)" if easiest else
                     "these are not the 20 rows with the highest loss", "order by loss, highest first")
    if not np.array_equal(hardest["label"].to_numpy(), test.loc[hardest.index, "label"].to_numpy()):
        raise NotYet("hardest's labels are not the test rows' labels", "keep the label column as it is in rows")
    expected = int((test.loc[hardest.index, "label"] == 1).sum())
    if _number(sarcastic, "sarcastic") != expected:
        predicted = int((np.argmax(logits[test.index.get_indexer(hardest.index)], axis=-1) == 1).sum())
        raise NotYet(f"sarcastic is {sarcastic}, not the count of label 1 among hardest" +
                     (" (that counts the rows predicted sarcastic)" if sarcastic == predicted else ""),
                     "count the rows whose true label (the label column) is 1")
    return f"{expected} of the 20 hardest rows are labelled sarcastic; now read them"


@exercise("05.4", "`precision` and `recall` of the class sarcastic (1)",
          hint="precision: true positives / (true positives + false positives); recall: true positives / "
               "(true positives + false negatives), with `predicted` and the test rows' labels",
          solution="""\
labelled = test["label"].to_numpy()
true_positives = ((predicted == 1) & (labelled == 1)).sum()
false_positives = ((predicted == 1) & (labelled == 0)).sum()
false_negatives = ((predicted == 0) & (labelled == 1)).sum()
precision = true_positives / (true_positives + false_positives)
recall = true_positives / (true_positives + false_negatives)""")
def check_precision_recall(precision, recall, predictions) -> str:
    """Notebook 05, exercise 4: precision and recall of the class 1 (sarcastic), from the counts."""
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    settings = _settings()
    predicted = np.argmax(_predictions(predictions, settings), axis=-1)
    labels = _test_rows(settings)["label"].to_numpy()
    expected = (precision_score(labels, predicted, zero_division=0), recall_score(labels, predicted, zero_division=0))
    precision, recall = _number(precision, "precision"), _number(recall, "recall")
    if _close(precision, expected[1]) and _close(recall, expected[0]) and not _close(*expected):
        raise NotYet("precision and recall are swapped",
                     "precision: of the rows called sarcastic, the share that are; recall: of the sarcastic rows, "
                     "the share found")
    near = {"the accuracy": accuracy_score(labels, predicted),
            "the class not sarcastic (0)'s": precision_score(labels, predicted, pos_label=0, zero_division=0),
            "the class not sarcastic (0)'s recall": recall_score(labels, predicted, pos_label=0, zero_division=0)}
    for name, value, right, hint in (
        ("precision", precision, expected[0], "true positives / (true positives + false positives)"),
        ("recall", recall, expected[1], "true positives / (true positives + false negatives)"),
    ):
        if not _close(value, right):
            slip = next((what for what, other in near.items() if _close(value, other) and not _close(other, right)),
                        None)
            raise NotYet(f"{name} is not the {name} of the class sarcastic (1)"
                         + (f": that is {slip}" if slip else ""), hint)
    return f"precision {expected[0]:.3f}, recall {expected[1]:.3f}: classification_report's row for class 1"


@exercise("05.5", "`per_row_loss`, a function of logits and labels (torch tensors) returning one loss per row",
          hint="the loss of a row is minus the log of the probability the model gives its true label: "
               "torch.log_softmax over the last dimension, then each row's entry at its label (gather, or "
               "indexing with torch.arange), negated; one number per row, not their mean",
          solution="""\
def per_row_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    \"\"\"Cross entropy of each row: minus the log of the probability the model gives its true label.\"\"\"
    log_probabilities = torch.log_softmax(logits, dim=-1)
    return -log_probabilities.gather(1, labels.unsqueeze(1)).squeeze(1)""")
def check_per_row_loss(per_row_loss) -> str:
    """Notebook 05, exercise 5: a per-row cross entropy of logits and labels, checked against torch's own."""
    import torch

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ..layout import run_folder

    if not callable(per_row_loss):
        raise NotYet(f"per_row_loss should be a function, not {type(per_row_loss).__name__}",
                     "def per_row_loss(logits, labels): ... return the losses")
    settings = _settings()
    test = _test_rows(settings).iloc[:SAMPLE]
    folder = run_folder(settings).model
    with _quietly():
        model = AutoModelForSequenceClassification.from_pretrained(folder)
    logits = _logits(model, AutoTokenizer.from_pretrained(folder), test, settings)
    labels = test["label"].to_numpy()
    for case, rows_labels in (("their true labels", labels), ("the other label", 1 - labels)):
        expected = _losses(logits, rows_labels)
        result = per_row_loss(torch.tensor(logits), torch.tensor(rows_labels))
        if result is None:
            raise NotYet("per_row_loss returns nothing yet", "end it with return, one loss per row")
        result = torch.as_tensor(result).detach().float().cpu().numpy()
        where = f"on the notebook's first {len(test)} test rows with {case}"
        if result.shape != expected.shape:
            raise NotYet(f"per_row_loss gives shape {tuple(result.shape)}, not one loss per row ({len(test)},) {where}"
                         + (": that is the mean" if result.size == 1 and np.isclose(result.item(), expected.mean(),
                                                                                      atol=1e-4) else ""),
                         "keep one number per row: no mean, no sum")
        if np.allclose(result, -expected, atol=1e-4):
            raise NotYet(f"per_row_loss gives minus the loss {where}", "the loss is minus the log-probability")
        if not np.allclose(result, expected, atol=1e-4):
            raise NotYet(f"per_row_loss differs from torch's cross entropy {where}",
                         "use each row's true label (the labels given, not the predicted class), and log-probabilities "
                         "(log_softmax), not probabilities")
    return (f"the same as cross_entropy(logits, labels, reduction=\"none\") on {len(test)} test rows; their mean is "
            "the test_loss trainer.predict reports")
