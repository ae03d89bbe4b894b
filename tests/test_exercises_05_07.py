"""The checks of notebook 07 (helpers/exercises/nb07.py): a model answer passes, typical wrong answers get a hint,
nothing raises; the deterministic tiny figures the notebook states hold. Notebooks 05 and 06 have their own files,
tests/test_exercises_nb05.py and tests/test_exercises_nb06.py.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from helpers import data, predict, split

from support import TOPICS_SAMPLE, fails, notebook_cells, notebook_path, notebook_text, passes, tiny_settings_for


# ---------------------------------------------------------------------------------------------- notebook 07


def test_07_1_class_weights(capsys):
    """Macro F1 of both runs passes; the accuracy or the weighted F1 in its place is named."""
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    off = np.array([0, 0, 0, 0, 0, 0, 0, 0, 2, 0])
    on = np.array([0, 0, 0, 1, 1, 0, 1, 0, 2, 0])
    macro = [f1_score(labels, predicted, average="macro") for predicted in (off, on)]
    passes(capsys, "07.1", labels, off, on, *macro)
    fails(capsys, "07.1", labels, off, on, accuracy_score(labels, off), macro[1], saying="the accuracy")
    fails(capsys, "07.1", labels, off, on, macro[0], f1_score(labels, on, average="weighted"), saying="weighted F1")


def test_07_2_unstratified(tmp_path, tiny_cache, capsys):
    """The unstratified split's entertainment count passes, another fails, and the check writes no split."""
    settings = tiny_settings_for(tmp_path / "out", tiny_cache, data=str(TOPICS_SAMPLE), text_column="title",
                                 label_column="topic", stratify=True)
    elsewhere = dataclasses.replace(settings, stratify=False, output_dir=str(tmp_path / "unstratified"))
    validation = split.load_split(elsewhere)["validation"]
    count = int((validation["label"] == data.label_names(validation).index("entertainment")).sum())
    passes(capsys, "07.2", count, settings)
    fails(capsys, "07.2", count + 1, settings, saying="entertainment validation rows")
    assert not (tmp_path / "out").exists()


def test_07_3_top_k(capsys):
    """Every topic's probability per headline passes; only the best one, or scores not adding to 1, get a hint."""
    names = ["a", "b", "c"]
    every = [[{"label": "b", "score": 0.7}, {"label": "a", "score": 0.2}, {"label": "c", "score": 0.1}]] * 2
    assert "a (0.20)" in passes(capsys, "07.3", every, names, ["one", "two"])
    fails(capsys, "07.3", [entry[0] for entry in every], names, ["one", "two"], saying="top_k=None")
    fails(capsys, "07.3", [entry[:2] for entry in every], names, ["one", "two"], saying="each topic once")
    halved = [[{**answer, "score": answer["score"] / 2} for answer in entry] for entry in every]
    fails(capsys, "07.3", halved, names, ["one", "two"], saying="add up to")
    fails(capsys, "07.3", every, names, ["one"], saying="2 answers for 1 headlines")


# ---------------------------------------------------------------------------------------------- the notebooks


def test_the_api_stands_in_codenotebook_cells():
    """07 writes the weighted loss as the Trainer's compute_loss_func, checked against the helpers; it loads the
    pretrained model once."""
    code = "\n".join(source for kind, source in notebook_cells(notebook_path("07")) if kind == "code")
    assert "compute_loss_func=weighted_loss" in code and "reduction=\"none\"" in code
    assert code.count("models.load_model(") == 1 and "finetune.train(" not in code


def test_tiny_figures_the_notebooks_state(tmp_path, tiny_cache):
    """The deterministic `tiny` figures under notebook 07's key cells: the topics' test rows."""
    topics = tiny_settings_for(tmp_path / "topics", tiny_cache, data=str(TOPICS_SAMPLE), text_column="title",
                               label_column="topic", stratify=True)
    assert f"on `tiny` ({len(split.load_split(topics)['test'])} test rows)" in notebook_text("07")


@pytest.mark.slow
def test_07_tiny_accuracy_as_stated(topics_run):
    """Notebook 07's tiny accuracy ("about 0.87", 70 test rows), from the same training (class weights, 20 epochs),
    within three rows: one torch thread here, two in a notebook, so bfloat16 sums may differ a little."""
    settings, trainer = topics_run
    stated = float(re.search(r"Expect about (0\.\d+) on `tiny` \(70 test rows\)", notebook_text("07")).group(1))
    test = split.load_split(settings)["test"]
    accuracy = predict.test_metrics(trainer.model, trainer.processing_class, settings, test)["accuracy"]
    assert abs(accuracy - stated) <= 3 / 70
