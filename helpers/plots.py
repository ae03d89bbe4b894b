"""The pictures of the series: each function draws one figure and returns its axes.

Introduced in notebook 01; each function's docstring names the notebook that uses it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import ConfusionMatrixDisplay


def class_balance(labels: pd.Series, names: list[str], title: str = "Headlines per class") -> plt.Axes:
    """Bar chart of how many rows each class has (notebooks 01 and 02)."""
    counts = labels.value_counts().reindex(range(len(names)), fill_value=0)
    ax = plt.figure(figsize=(5, 3)).gca()
    bars = ax.bar(names, counts.to_numpy(), color=["tab:blue", "tab:orange", "tab:green", "tab:red"][: len(names)])
    ax.bar_label(bars, labels=[f"{n:,} ({n / counts.sum():.0%})" for n in counts])
    ax.set(title=title, ylabel="rows")
    ax.margins(y=0.15)  # room for the labels above the bars
    return ax


def length_histogram(lengths: np.ndarray, unit: str, title: str) -> plt.Axes:
    """Histogram of text lengths, with the mean marked (notebooks 01 and 03)."""
    ax = plt.figure(figsize=(6, 3)).gca()
    ax.hist(lengths, bins=range(0, int(np.max(lengths)) + 2), color="tab:blue")
    ax.axvline(np.mean(lengths), color="black", linestyle="--", label=f"mean {np.mean(lengths):.1f}")
    ax.set(title=title, xlabel=unit, ylabel="texts")
    ax.legend()
    return ax


def padding_cost(costs: dict[str, int]) -> plt.Axes:
    """Bars of the tokens a model must process under each padding choice (notebook 03)."""
    ax = plt.figure(figsize=(6, 3)).gca()
    bars = ax.barh(list(costs), list(costs.values()), color="tab:orange")
    ax.bar_label(bars, labels=[f"{v:,}" for v in costs.values()])
    ax.set(title="Tokens fed to the model for one epoch", xlabel="tokens (log scale)", xscale="log")
    return ax


def loss_curves(curves: pd.DataFrame) -> plt.Axes:
    """Training and evaluation loss against epoch (notebook 04)."""
    ax = plt.figure(figsize=(6, 3)).gca()
    for split, rows in curves.groupby("split"):
        ax.plot(rows["epoch"], rows["loss"], marker="o" if split == "eval" else None, label=split)
    ax.set(title="Loss during fine-tuning", xlabel="epoch", ylabel="cross-entropy loss")
    ax.legend()
    return ax


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, names: list[str]) -> plt.Axes:
    """The confusion matrix of a prediction (notebook 05)."""
    ax = plt.figure(figsize=(4, 4)).gca()
    ConfusionMatrixDisplay.from_predictions(labels, predicted, display_labels=names, ax=ax, colorbar=False)
    ax.set_title("Test split: true vs predicted")
    return ax


def metric_by_learning_rate(runs: pd.DataFrame, metric: str = "val_accuracy") -> plt.Axes:
    """One dot per trial of a sweep's table: a validation metric against the learning rate (log scale), the best
    marked (notebook 06). Optuna's slice plot would draw the learning rates of a grid as categories, evenly spaced."""
    ax = plt.figure(figsize=(6, 3)).gca()
    ax.scatter(runs["learning_rate"], runs[metric], color="tab:blue", label="a run")
    ax.scatter(runs["learning_rate"].iloc[:1], runs[metric].iloc[:1], color="tab:orange", marker="*", s=200,
               label="best (first in the table)")
    ax.set(title=f"{metric} by learning rate", xlabel="learning rate (log scale)", ylabel=metric, xscale="log")
    ax.legend()
    return ax


def optimization_history(study) -> plt.Axes:
    """Optuna's history of a study: each trial's validation accuracy in order, and the best so far (notebook 06)."""
    import warnings

    import optuna

    with warnings.catch_warnings(), plt.style.context({}):  # optuna switches the style to ggplot: for this plot only
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # "the interface can change"
        ax = optuna.visualization.matplotlib.plot_optimization_history(study, target_name="validation accuracy")
    ax.set_title("Validation accuracy, trial after trial")
    return ax


def runs_loss_curves(curves: dict[str, pd.DataFrame]) -> plt.Axes:
    """Loss against epoch for several runs, one colour each: validation solid, training dashed (notebook 06)."""
    ax = plt.figure(figsize=(7, 3.5)).gca()
    for i, (name, rows) in enumerate(curves.items()):
        train, evaluation = rows[rows["split"] == "train"], rows[rows["split"] == "eval"]
        ax.plot(train["epoch"], train["loss"], color=f"C{i % 10}", linestyle="--", alpha=0.5)
        ax.plot(evaluation["epoch"], evaluation["loss"], color=f"C{i % 10}", marker="o", label=name)
    ax.set(title="Loss of several runs: validation (solid), training (dashed)", xlabel="epoch",
           ylabel="cross-entropy loss")
    ax.legend(fontsize="small")
    return ax


def baselines(table: pd.DataFrame) -> plt.Axes:
    """Test accuracy of each model in a baselines table, with the seconds its training took (notebook 05)."""
    ax = plt.figure(figsize=(7, 0.6 * len(table) + 1)).gca()
    bars = ax.barh(table.index, table["accuracy"], color=["tab:gray", "tab:blue", "tab:orange", "tab:green"])
    labels = [f"{accuracy:.3f}  ({seconds:,.1f} s to train)"
              for accuracy, seconds in zip(table["accuracy"], table["train_seconds"])]
    ax.bar_label(bars, labels=labels, padding=3)
    ax.set(title="Test accuracy, same train and test rows", xlabel="accuracy", xlim=(0, 1.25))
    ax.invert_yaxis()
    return ax


def inference_paths(rows) -> plt.Axes:
    """Speed against accuracy of each prediction path, dots sized by MB, and the sizes beside (notebook 08)."""
    from .inference import draw

    rows = rows.reset_index().to_dict("records") if isinstance(rows, pd.DataFrame) else rows
    fig = plt.figure(figsize=(11, 3.6))
    draw(rows, fig)
    return fig.axes[0]
