"""Plots: each figure shows the numbers it is given (read back from what it drew), labelled as the notebooks say."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from helpers import plots

NAMES = ["not sarcastic", "sarcastic"]


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test's figures are closed after it, as a notebook's are when its cell is run again."""
    yield
    plt.close("all")


def curves(epochs: int, start: float) -> pd.DataFrame:
    """Loss curves in the shape `finetune.loss_curves` gives: a falling training loss and an evaluation loss."""
    rows = [{"epoch": e / 2, "split": "train", "loss": start / (1 + e)} for e in range(1, 2 * epochs + 1)]
    rows += [{"epoch": float(e), "split": "eval", "loss": start / (1 + e) + 0.1} for e in range(1, epochs + 1)]
    return pd.DataFrame(rows)


def test_class_balance_counts_every_class():
    """One bar per class, as tall as its rows (a class without rows has a bar of 0), labelled with count and share."""
    ax = plots.class_balance(pd.Series([0, 0, 0, 1]), NAMES + ["ironic"])
    assert [bar.get_height() for bar in ax.patches] == [3, 1, 0]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == NAMES + ["ironic"]
    assert [text.get_text() for text in ax.texts] == ["3 (75%)", "1 (25%)", "0 (0%)"]


def test_length_histogram_counts_each_length_and_marks_the_mean():
    """Every text falls in the bin of its length; the dashed line stands at the mean."""
    lengths = np.array([3, 5, 5, 9])
    ax = plots.length_histogram(lengths, "words", "Words per headline")
    heights = {round(bar.get_x()): bar.get_height() for bar in ax.patches}
    assert sum(heights.values()) == len(lengths) and heights[5] == 2
    assert ax.lines[0].get_xdata()[0] == pytest.approx(5.5) and ax.get_xlabel() == "words"


def test_padding_cost_bars_are_the_token_counts():
    """One bar per padding choice, its length the tokens, on a log axis."""
    costs = {"pad to 512": 512_000, "pad per batch": 21_000}
    ax = plots.padding_cost(costs)
    assert [bar.get_width() for bar in ax.patches] == list(costs.values())
    assert ax.get_xscale() == "log" and [text.get_text() for text in ax.texts] == ["512,000", "21,000"]


def test_loss_curves_draw_each_split():
    """One line per split, each through that split's losses."""
    data = curves(3, 0.7)
    ax = plots.loss_curves(data)
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == {"train", "eval"}
    for split, line in lines.items():
        assert list(line.get_ydata()) == data[data["split"] == split]["loss"].tolist()


def test_confusion_matrix_shows_the_counts():
    """The numbers in the cells are scikit-learn's confusion matrix, row by true label."""
    labels, predicted = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0])
    ax = plots.confusion_matrix(labels, predicted, NAMES)
    shown = [int(text.get_text()) for text in ax.texts]
    assert shown == confusion_matrix(labels, predicted).ravel().tolist()


def test_metric_by_learning_rate_marks_the_first_row_best():
    """A dot per run at its learning rate (log axis); the star is the table's first row, the best."""
    runs = pd.DataFrame({"learning_rate": [3e-5, 1e-4, 5e-5], "val_accuracy": [0.92, 0.90, 0.91]})
    ax = plots.metric_by_learning_rate(runs)
    dots, best = ax.collections
    assert dots.get_offsets().tolist() == runs[["learning_rate", "val_accuracy"]].to_numpy().tolist()
    assert best.get_offsets().tolist() == [[3e-5, 0.92]] and ax.get_xscale() == "log"


def test_optimization_history_is_optunas():
    """Optuna's own plot of a study: a point per trial, keeping the series' style for the plots after it."""
    style = dict(plt.rcParams)
    study = optuna.create_study(direction="maximize")
    for value in (0.80, 0.85, 0.83):
        study.add_trial(optuna.trial.create_trial(value=value, params={}, distributions={}))
    ax = plots.optimization_history(study)
    points = ax.collections[0].get_offsets()
    assert points[:, 1].tolist() == pytest.approx([0.80, 0.85, 0.83])
    assert ax.get_title() == "Validation accuracy, trial after trial"
    assert dict(plt.rcParams) == style, "optuna's ggplot style stays inside this plot"


def test_runs_loss_curves_give_each_run_a_colour():
    """Two lines per run (training dashed, validation solid) in the run's own colour, labelled by its name."""
    ax = plots.runs_loss_curves({"lr 3e-5": curves(2, 0.7), "lr 1e-4": curves(2, 0.9)})
    assert [line.get_label() for line in ax.lines if not line.get_label().startswith("_")] == ["lr 3e-5", "lr 1e-4"]
    assert [line.get_linestyle() for line in ax.lines] == ["--", "-", "--", "-"]
    assert ax.lines[0].get_color() == ax.lines[1].get_color() != ax.lines[2].get_color()


def test_baselines_show_accuracy_and_training_time():
    """One bar per model, in the table's order from the top, labelled with its accuracy and training time."""
    table = pd.DataFrame({"accuracy": [0.563, 0.810, 0.894], "f1": [0.0, 0.779, 0.874],
                          "train_seconds": [0.0, 1.5, 78.0]}, index=["majority", "TF-IDF", "transformer"])
    ax = plots.baselines(table)
    assert [bar.get_width() for bar in ax.patches] == table["accuracy"].tolist()
    assert [text.get_text() for text in ax.texts] == ["0.563  (0.0 s to train)", "0.810  (1.5 s to train)",
                                                      "0.894  (78.0 s to train)"]
    assert ax.yaxis_inverted()
