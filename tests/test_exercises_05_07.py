"""The checks of notebooks 05-06 (helpers/exercises/nb05.py, nb06.py): a model answer passes, typical wrong answers
get a hint, nothing raises; the deterministic tiny figures the notebooks state hold. Notebook 07's checks:
tests/test_exercises_nb07.py.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.pipeline import make_pipeline
from transformers.trainer_utils import PredictionOutput

from helpers import baselines, predict, split

from support import LABELS, PREDICTED, fails, logits_for, notebook_cells, notebook_path, notebook_text, passes

MINE = ("05", "06")


# ---------------------------------------------------------------------------------------------- notebook 05


def _prediction() -> PredictionOutput:
    """A `trainer.predict` result: logits whose argmax is PREDICTED, and the true labels LABELS."""
    return PredictionOutput(logits_for(PREDICTED), LABELS, {})


def test_05_1_untrained(capsys):
    """The tutorial's 1.0 and the argmax accuracy pass; the tutorial's mistake as the accuracy is named."""
    prediction = _prediction()
    right = accuracy_score(LABELS, PREDICTED)
    out = passes(capsys, "05.1", prediction, 1.0, right)
    assert f"{right:.3f}" in out
    fails(capsys, "05.1", prediction, 1.0, 1.0, saying="the tutorial's mistake")
    fails(capsys, "05.1", prediction, right, right, saying="gives 1.0 for any model")
    fails(capsys, "05.1", prediction, 1.0, right - 0.1, saying="argmax")
    fails(capsys, "05.1", prediction.predictions, 1.0, right, saying="not what trainer.predict returns")


def _tfidf(train: pd.DataFrame, ngrams: tuple[int, int], fit: bool = True):
    """The TF-IDF baseline with `ngrams`, fitted on `train` unless not `fit`."""
    model = make_pipeline(TfidfVectorizer(ngram_range=ngrams), LogisticRegression(max_iter=1000))
    return model.fit(train["sentence"], train["label"]) if fit else model


def test_05_2_word_pairs(tiny_settings, capsys):
    """Words-only and word-pair pipelines pass with their test accuracies; swapped or unfitted ones get a hint."""
    parts = split.load_split(tiny_settings)
    train, test = parts["train"], parts["test"]
    words, pairs = _tfidf(train, (1, 1)), _tfidf(train, (1, 2))
    out = passes(capsys, "05.2", words, pairs, test)
    assert f"{words.score(test['sentence'], test['label']):.4f}" in out
    fails(capsys, "05.2", pairs, words, test, saying="ngram_range=(1, 1)")
    fails(capsys, "05.2", words, words, test, saying="ngram_range=(1, 2)")
    fails(capsys, "05.2", words, _tfidf(train, (1, 2), fit=False), test, saying="not a fitted pipeline")


def _rows(n: int = 40) -> pd.DataFrame:
    """Test rows with a label and a loss each, as notebook 05's `rows`."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"sentence": [f"headline {i}" for i in range(n)], "label": rng.integers(0, 2, n),
                         "loss": rng.exponential(size=n)})


def test_05_3_hardest(capsys):
    """The 20 highest-loss rows and their sarcastic count pass; the easiest rows, a short table or a wrong count fail."""
    rows = _rows()
    hardest = rows.nlargest(20, "loss")
    passes(capsys, "05.3", hardest, int((hardest["label"] == 1).sum()), rows)
    fails(capsys, "05.3", rows.nsmallest(20, "loss"), 3, rows, saying="easiest")
    fails(capsys, "05.3", rows.nlargest(19, "loss"), 3, rows, saying="not 20")
    fails(capsys, "05.3", hardest, int((hardest["label"] == 1).sum()) + 1, rows, saying="label 1")


def test_05_4_precision_recall(capsys):
    """Precision and recall from the counts pass; swapped or computed the wrong way they get a hint."""
    precision, recall = precision_score(LABELS, PREDICTED), recall_score(LABELS, PREDICTED)
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    predicted = np.array([1, 0, 0, 0, 1, 0, 0, 0])  # precision 0.5, recall 0.25
    passes(capsys, "05.4", precision, recall, LABELS, PREDICTED)
    fails(capsys, "05.4", 0.25, 0.5, labels, predicted, saying="swapped")
    fails(capsys, "05.4", 0.4, 0.25, labels, predicted, saying="false positives")
    fails(capsys, "05.4", 0.5, 0.5, labels, predicted, saying="false negatives")


def test_05_per_row_loss_is_torch_cross_entropy():
    """Notebook 05's claim: `with_predictions`' loss is `cross_entropy(..., reduction="none")`, and its mean the
    model's mean loss."""
    logits = logits_for(PREDICTED, seed=3)
    rows = predict.with_predictions(pd.DataFrame({"label": LABELS}), PredictionOutput(logits, LABELS, {}), ["a", "b"])
    losses = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(LABELS), reduction="none")
    assert np.allclose(rows["loss"], losses.numpy(), atol=1e-5)
    assert np.isclose(losses.mean(), torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(LABELS)))


# ---------------------------------------------------------------------------------------------- notebook 06


def _runs() -> pd.DataFrame:
    """A sweep's runs table: the recipe (not searching lr_scheduler: linear by default) and a cosine point."""
    return pd.DataFrame({"id": ["a", "b", "c"], "val_accuracy": [0.9, 0.85, 0.8],
                         "lr_scheduler": [np.nan, "cosine", np.nan], "learning_rate": [5e-5, 5e-5, 1e-4]})


def test_06_1_schedules(capsys):
    """The two schedules' accuracies pass (a run without lr_scheduler is the default, linear); others fail."""
    runs = _runs()
    out = passes(capsys, "06.1", {"linear": 0.9, "cosine": 0.85}, runs)
    assert "linear wins by 5.0 points" in out
    fails(capsys, "06.1", {"linear": 0.9, "cosine": 0.9}, runs, saying="schedules['cosine']")
    fails(capsys, "06.1", {"linear": 0.9}, runs, saying="'linear' and 'cosine'")
    fails(capsys, "06.1", {"linear": 0.9, "cosine": 0.85}, runs.drop(columns="lr_scheduler"), saying="did not search")


def test_06_2_seed_noise(capsys):
    """Spread, gap and the comparison pass when consistent; each inconsistency is named."""
    recipe = [0.90, 0.92, 0.91]
    out = passes(capsys, "06.2", recipe, 0.02, [0.93, 0.92], 0.01, False)
    assert "within the seed noise" in out
    assert "larger than the seed noise" in passes(capsys, "06.2", recipe, 0.02, [0.95, 0.92], 0.03, True)
    fails(capsys, "06.2", recipe, 0.01, [0.93, 0.92], 0.01, False, saying="highest minus lowest")
    fails(capsys, "06.2", recipe, 0.02, [0.92, 0.93], -0.01, False, saying="best first")
    fails(capsys, "06.2", recipe, 0.02, [0.93, 0.92], 0.01, True, saying="gap > spread")
    fails(capsys, "06.2", recipe[:2], 0.02, [0.93, 0.92], 0.01, False, saying="three seeds")


def _study(direction: str = "maximize", trials: int = 2, whole: bool = True, score: float = 0.8) -> optuna.Study:
    """An in-memory study whose objective suggests the epochs (a whole number unless not `whole`), training nothing."""

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("learning_rate", 1e-5, 1e-4, log=True)
        if whole:
            trial.suggest_int("num_train_epochs", 1, 2)
        else:
            trial.suggest_float("num_train_epochs", 1, 2)
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=trials)
    return study


def test_06_3_objective(capsys):
    """A maximising study of two trials suggesting whole epochs passes; each typical slip gets its hint."""
    assert "2 trials" in passes(capsys, "06.3", _study())
    fails(capsys, "06.3", _study(direction="minimize"), saying="direction='maximize'")
    fails(capsys, "06.3", _study(trials=1), saying="n_trials=2")
    fails(capsys, "06.3", _study(whole=False), saying="suggest_int")
    fails(capsys, "06.3", _study(score=3.0), saying="not an accuracy")
    fails(capsys, "06.3", "study", saying="create_study")


# ---------------------------------------------------------------------------------------------- the notebooks


def test_the_api_stands_in_codenotebook_cells():
    """05 writes the per-row loss with cross_entropy, 06 an optuna study around the Trainer, each checked against the
    helpers (07's weighted loss: tests/test_exercises_nb07.py)."""
    code = {number: "\n".join(source for kind, source in notebook_cells(notebook_path(number)) if kind == "code")
            for number in MINE}
    assert 'cross_entropy(logits, labels, reduction="none")' in code["05"] and "with_predictions" in code["05"]
    for call in ("optuna.create_study(", "trial.suggest_float(", "trial.suggest_categorical(", ".optimize(",
                 "Trainer(", "sweep.search("):
        assert call in code["06"], call
    assert "README's tuning table" not in notebook_text("06")


def test_tiny_figures_the_notebooks_state(tiny_settings):
    """The deterministic `tiny` figures under notebooks 05-06's key cells: the test rows, the baselines and the
    validation rows of 06 (07's: tests/test_exercises_nb07.py)."""
    parts = split.load_split(tiny_settings)
    table = baselines.compare(parts["train"], parts["test"], 2)
    majority, tfidf = (table.loc[name, "accuracy"] for name in ("majority class", "TF-IDF + logistic regression"))
    assert f"On `tiny`: majority {majority:.3f}, TF-IDF {tfidf:.3f}" in notebook_text("05")
    assert f"of {len(parts['test'])} test rows" in notebook_text("05")
    assert f"of {len(parts['validation'])} validation rows)" in notebook_text("06")
