"""Checks for the notebooks' exercises: each prints a pass, or what is wrong and a hint, and never raises.

Introduced in notebook 01; each notebook's exercises call `check_NN_K(...)` under their starter cells.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd

PASS, FAIL = "✓ correct", "✗ not yet"


def passed(message: str) -> bool:
    """Print a pass with what the answer shows; True."""
    print(f"{PASS}: {message}")
    return True


def failed(what: str, hint: str) -> bool:
    """Print what is wrong and a hint; False."""
    print(f"{FAIL}: {what}\n  hint: {hint}")
    return False


def never_raises(check: Callable) -> Callable:
    """`check`, returning nothing (a notebook shows no True/False) and printing an unexpected error as a fail."""

    @functools.wraps(check)
    def safe(*args, **kwargs) -> None:
        try:
            check(*args, **kwargs)
        except Exception as error:  # a learner's half-written answer must not end the notebook's run
            failed(f"the check could not read your answer ({type(error).__name__}: {error})",
                          "run the starter cell first, and keep the variable names it gives")

    return safe


def is_todo(value) -> bool:
    """True for a starter cell's placeholder: `...` or None."""
    return value is Ellipsis or value is None


def todo(name: str) -> bool:
    """The fail for an answer not written yet."""
    return failed(f"{name} is not filled in yet", f"replace the ... after {name} = with your code")


def close(a: float, b: float, tolerance: float = 1e-6) -> bool:
    """True when two numbers agree within `tolerance`."""
    return abs(float(a) - float(b)) <= tolerance


# ---------------------------------------------------------------------------------------------------------------
# Notebooks 05-07 (predict, hyperparameters, your own data)
# ---------------------------------------------------------------------------------------------------------------


@never_raises
def check_05_1(predictions, tutorial, accuracy) -> bool:
    """Notebook 05, exercise 1: the tutorial's line and the argmax accuracy of an untrained model's predictions."""
    for name, value in (("untrained_predictions", predictions), ("tutorial", tutorial), ("accuracy", accuracy)):
        if is_todo(value):
            return todo(name)
    if not hasattr(predictions, "label_ids"):
        return failed(f"untrained_predictions is a {type(predictions).__name__}, not what trainer.predict returns",
                      "untrained_predictions = Trainer(model=untrained, ...).predict(test_data)")
    labels = np.asarray(predictions.label_ids)
    right = float((np.argmax(predictions.predictions, axis=-1) == labels).mean())
    if not close(tutorial, 1.0):
        return failed(f"tutorial is {float(tutorial):.3f}; the tutorial's line gives 1.0 for any model",
                      "compare the test rows' labels with predictions.label_ids, as the tutorial does")
    if close(accuracy, 1.0) and not close(right, 1.0):
        return failed("accuracy is 1.0: that is the tutorial's mistake again (label_ids are the true labels)",
                      "the model's answer is np.argmax(predictions.predictions, axis=-1)")
    if not close(accuracy, right):
        return failed(f"accuracy is {float(accuracy):.4f}, but the argmax of these predictions scores {right:.4f}",
                      "compare np.argmax(predictions.predictions, axis=-1) with the true labels, then .mean()")
    return passed(f"the tutorial's line says 1.0, the argmax {right:.3f}: the untrained model's real score")


def _ngrams(model) -> tuple | None:
    """The `ngram_range` of a fitted scikit-learn pipeline's TF-IDF step (None: none there, or not fitted)."""
    steps = getattr(model, "steps", [])
    vectorizer = next((step for _, step in steps if hasattr(step, "ngram_range")), None)
    if vectorizer is None or not hasattr(vectorizer, "vocabulary_"):
        return None
    return tuple(vectorizer.ngram_range)


@never_raises
def check_05_2(words, pairs, test: pd.DataFrame) -> bool:
    """Notebook 05, exercise 2: two fitted TF-IDF pipelines, words only and words with word pairs."""
    for name, value in (("words", words), ("pairs", pairs)):
        if is_todo(value):
            return todo(name)
        if _ngrams(value) is None:
            return failed(f"{name} is not a fitted pipeline with a TfidfVectorizer",
                          "make_pipeline(TfidfVectorizer(ngram_range=...), LogisticRegression(max_iter=1000)), "
                          "then .fit(train['sentence'], train['label'])")
    if _ngrams(words) != (1, 1):
        return failed(f"words uses ngram_range={_ngrams(words)}", "words only: ngram_range=(1, 1)")
    if _ngrams(pairs) != (1, 2):
        return failed(f"pairs uses ngram_range={_ngrams(pairs)}", "words and word pairs: ngram_range=(1, 2)")
    scores = [model.score(test["sentence"], test["label"]) for model in (words, pairs)]
    return passed(f"words only {scores[0]:.4f}, with word pairs {scores[1]:.4f} on the test rows: "
                  f"pairs add {100 * (scores[1] - scores[0]):+.1f} points")


@never_raises
def check_05_3(hardest: pd.DataFrame, sarcastic, rows: pd.DataFrame) -> bool:
    """Notebook 05, exercise 3: the 20 test rows with the highest loss, and how many of them are labelled 1."""
    for name, value in (("hardest", hardest), ("sarcastic", sarcastic)):
        if is_todo(value):
            return todo(name)
    if not isinstance(hardest, pd.DataFrame) or "loss" not in hardest:
        return failed("hardest is not a table of rows with their loss", "start from rows, the table with a loss column")
    if len(hardest) != 20:
        return failed(f"hardest has {len(hardest)} rows, not 20", "rows.nlargest(20, 'loss')")
    top = np.sort(rows["loss"].to_numpy())[::-1][:20]
    if not np.allclose(np.sort(hardest["loss"].to_numpy())[::-1], top):
        easiest = np.allclose(np.sort(hardest["loss"].to_numpy()), np.sort(rows["loss"].to_numpy())[:20])
        return failed("these are the easiest 20 rows (lowest loss)" if easiest else
                      "these are not the 20 rows with the highest loss", "rows.nlargest(20, 'loss')")
    if int(sarcastic) != int((hardest["label"] == 1).sum()):
        return failed(f"sarcastic is {sarcastic}, but {(hardest['label'] == 1).sum()} of these rows have label 1",
                      "(hardest['label'] == 1).sum()")
    return passed(f"{int(sarcastic)} of the 20 hardest rows are labelled sarcastic; now read them")


@never_raises
def check_05_4(precision, recall, labels, predicted) -> bool:
    """Notebook 05, exercise 4: precision and recall of the class 1 (sarcastic), from the counts."""
    from sklearn.metrics import precision_score, recall_score

    for name, value in (("precision", precision), ("recall", recall)):
        if is_todo(value):
            return todo(name)
    expected = (precision_score(labels, predicted, zero_division=0), recall_score(labels, predicted, zero_division=0))
    if close(precision, expected[1]) and close(recall, expected[0]) and not close(*expected):
        return failed("precision and recall are swapped",
                      "precision: of the rows called sarcastic, the share that are; recall: of the sarcastic rows, "
                      "the share found")
    for name, value, right, hint in (
        ("precision", precision, expected[0], "true positives / (true positives + false positives)"),
        ("recall", recall, expected[1], "true positives / (true positives + false negatives)"),
    ):
        if not close(value, right):
            return failed(f"{name} is {float(value):.4f}; from these predictions it is {right:.4f}", hint)
    return passed(f"precision {expected[0]:.3f}, recall {expected[1]:.3f}: classification_report's row for class 1")


@never_raises
def check_06_1(schedules: dict, runs: pd.DataFrame) -> bool:
    """Notebook 06, exercise 1: the validation accuracy of the linear and the cosine schedule, from the search."""
    if is_todo(schedules):
        return todo("schedules")
    if not isinstance(schedules, dict) or set(schedules) != {"linear", "cosine"}:
        return failed(f"schedules should map 'linear' and 'cosine' to an accuracy, not {schedules!r}",
                      "{name: accuracy for each lr_scheduler in the grid}")
    if "lr_scheduler" not in runs:
        return failed("runs has no lr_scheduler column: the search did not search it",
                      "sweep.search(settings, {'learning_rate': [lr], 'lr_scheduler': ['linear', 'cosine']}, "
                      "search='grid')")
    for name, score in schedules.items():
        found = runs.loc[runs["lr_scheduler"] == name, "val_accuracy"]
        if not any(close(score, value) for value in found):
            return failed(f"schedules[{name!r}] = {score} is no trial's validation accuracy with that schedule",
                          "read val_accuracy from the rows of runs with lr_scheduler == name")
    winner = max(schedules, key=schedules.get)
    gap = abs(schedules["linear"] - schedules["cosine"])
    return passed(f"{winner} wins by {100 * gap:.1f} points of validation accuracy" if gap else "a tie")


@never_raises
def check_06_2(recipe, spread, best_two, gap, gap_is_larger) -> bool:
    """Notebook 06, exercise 2: the seed spread of the recipe against the gap between the search's best two settings."""
    names = ("recipe", "spread", "best_two", "gap", "gap_is_larger")
    for name, value in zip(names, (recipe, spread, best_two, gap, gap_is_larger)):
        if is_todo(value):
            return todo(name)
    recipe, best_two = [float(value) for value in recipe], [float(value) for value in best_two]
    if len(recipe) != 3:
        return failed(f"recipe holds {len(recipe)} scores", "three seeds, three validation accuracies")
    if not close(spread, max(recipe) - min(recipe)):
        return failed(f"spread is {float(spread):.4f}; the seeds' highest minus lowest is {max(recipe) - min(recipe):.4f}",
                      "max(recipe) - min(recipe)")
    if len(best_two) != 2 or best_two[0] < best_two[1]:
        return failed("best_two should be the two best settings' accuracies, best first",
                      "the first two rows of sweep.by_setting(runs)['val_accuracy']")
    if not close(gap, best_two[0] - best_two[1]):
        return failed(f"gap is {float(gap):.4f}; the best two differ by {best_two[0] - best_two[1]:.4f}",
                      "best_two[0] - best_two[1]")
    if bool(gap_is_larger) != (gap > spread):
        return failed(f"gap_is_larger is {gap_is_larger}, but the gap is {gap:.4f} and the spread {spread:.4f}",
                      "gap > spread")
    verdict = ("the gap is larger than the seed noise: worth a second look with more seeds" if gap > spread else
               "the gap is within the seed noise: not a finding")
    return passed(f"spread {spread:.4f}, gap {gap:.4f}: {verdict}")


@never_raises
def check_06_3(study) -> bool:
    """Notebook 06, exercise 3: an optuna study whose objective also suggests the epochs with `suggest_int`."""
    import optuna

    if is_todo(study):
        return todo("study")
    if not isinstance(study, optuna.Study):
        return failed(f"study is a {type(study).__name__}", "study = optuna.create_study(direction='maximize')")
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        return failed("the study minimises: it would pick the worst accuracy",
                      "optuna.create_study(direction='maximize')")
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 2:
        return failed(f"the study has {len(done)} complete trials", "study.optimize(objective, n_trials=2)")
    for trial in done:
        epochs = trial.distributions.get("num_train_epochs")
        if not isinstance(epochs, optuna.distributions.IntDistribution):
            return failed(f"trial {trial.number} did not suggest num_train_epochs as a whole number",
                          "trial.suggest_int('num_train_epochs', 1, 2) in the objective")
        if not 0 <= trial.value <= 1:
            return failed(f"trial {trial.number} returned {trial.value}, not an accuracy",
                          "return trainer.state.best_metric (the kept epoch's validation accuracy)")
    best = study.best_trial
    return passed(f"{len(done)} trials; the best, {best.params}, scored {best.value:.4f} on validation")


@never_raises
def check_07_1(labels, predicted_off, predicted_on, f1_off, f1_on) -> bool:
    """Notebook 07, exercise 1: macro F1 on the test rows without and with class weights."""
    from sklearn.metrics import accuracy_score, f1_score

    values = (predicted_off, predicted_on, f1_off, f1_on)
    for name, value in zip(("predicted_off", "predicted_on", "f1_off", "f1_on"), values):
        if is_todo(value):
            return todo(name)
    for name, predicted, score in (("off", predicted_off, f1_off), ("on", predicted_on, f1_on)):
        macro = f1_score(labels, predicted, average="macro")
        if not close(score, macro):
            what = ("the accuracy (micro F1)" if close(score, accuracy_score(labels, predicted)) else
                    "the weighted F1" if close(score, f1_score(labels, predicted, average="weighted")) else "")
            return failed(f"f1_{name} is {float(score):.4f}{', ' + what if what else ''}; macro F1 is {macro:.4f}",
                          "f1_score(labels, predicted, average='macro'): each class counts the same")
    return passed(f"macro F1 {f1_off:.3f} without class weights, {f1_on:.3f} with them")


@never_raises
def check_07_2(count, settings) -> bool:
    """Notebook 07, exercise 2: the entertainment headlines among the validation rows of an unstratified split."""
    import dataclasses

    from .data import label_names, load_data
    from .split import split_data, split_validation

    if is_todo(count):
        return todo("count")
    unstratified = dataclasses.replace(settings, stratify=False)
    rows = load_data(unstratified)
    train, _ = split_data(rows, unstratified)
    _, validation = split_validation(train, unstratified)  # the split load_split makes, without saving it
    names = label_names(rows)
    expected = int((validation["label"] == names.index("entertainment")).sum())
    if int(count) != expected:
        return failed(f"count is {count}; the unstratified split has {expected} entertainment validation rows",
                      "load_split(dataclasses.replace(settings, stratify=False))['validation'], then count the "
                      "rows whose label is names.index('entertainment')")
    return passed(f"{expected} entertainment headlines among {len(validation)} validation rows")


@never_raises
def check_07_3(answers, names, headlines) -> bool:
    """Notebook 07, exercise 3: every topic's probability for each headline, from `pipeline(..., top_k=None)`."""
    if is_todo(answers):
        return todo("answers")
    if len(answers) != len(headlines):
        return failed(f"{len(answers)} answers for {len(headlines)} headlines", "classify(my_headlines, top_k=None)")
    for headline, answer in zip(headlines, answers):
        if isinstance(answer, dict):
            return failed("each headline got only its best topic",
                          "top_k=None returns every class's score: classify(my_headlines, top_k=None)")
        if sorted(entry["label"] for entry in answer) != sorted(names):
            return failed(f"the answer for {headline!r} does not name each topic once", "top_k=None")
        total = sum(entry["score"] for entry in answer)
        if not close(total, 1.0, 1e-3):
            return failed(f"the scores for {headline!r} add up to {total:.3f}, not 1",
                          "the pipeline's default softmax gives probabilities; do not change function_to_apply")
    second = answers[0][1]
    return passed(f"every topic's probability, best first; the first headline's second guess: "
                  f"{second['label']} ({second['score']:.2f})")
