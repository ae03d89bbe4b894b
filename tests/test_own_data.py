"""Your own data (notebook 07), end to end: four imbalanced topics, in English and Korean, split with stratify, trained
with class weights on the tiny profile, and predicted by name (each step's own tests are in its module's file)."""

from __future__ import annotations

import json

import pytest

from helpers.data import label_names
from helpers.layout import run_folder
from helpers.predict import predict, saved_pipeline, with_predictions
from helpers.split import load_split
from helpers.tokenization import tokenize

from support import TOPICS

# ---------------------------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_stratified_split_keeps_every_topic_everywhere(topics_run):
    """With stratify and a validation split, each of train, validation and test holds all four topics."""
    settings, _ = topics_run
    parts = load_split(settings)
    assert all(set(part["label"]) == {0, 1, 2, 3} for part in parts.values())


@pytest.mark.slow
def test_trained_model_is_named_by_the_topics(topics_run):
    """The saved model has four outputs named by the topic strings, and it trained with the weighted loss."""
    settings, trainer = topics_run
    config = json.loads((run_folder(settings).model / "config.json").read_text())
    assert config["id2label"] == {str(i): name for i, name in enumerate(sorted(TOPICS))}
    assert trainer.compute_loss_func is not None
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[-1] < losses[0]


@pytest.mark.slow
def test_test_predictions_are_topic_names_and_beat_chance(topics_run):
    """On the test rows, every prediction is a topic name, and accuracy is well above always answering the
    largest class (let alone chance, 1/4)."""
    settings, trainer = topics_run
    test = load_split(settings)["test"]
    tokenizer = trainer.processing_class
    prediction = predict(trainer.model, tokenizer, tokenize(test, tokenizer, settings), settings)
    rows = with_predictions(test, prediction, label_names(settings))
    assert set(rows["predicted_name"]) <= set(TOPICS) and rows["predicted"].nunique() >= 3
    largest = test["label"].value_counts(normalize=True).max()
    assert rows["correct"].mean() > largest + 0.2 > 0.25 + 0.2


@pytest.mark.slow
def test_new_headlines_in_korean_and_english_get_topic_names(topics_run):
    """The saved model in a pipeline labels new Korean and English headlines with topic names, mostly the right ones."""
    settings, _ = topics_run
    headlines = {"국회, 교육 예산 법안 통과": "politics",
                 "riverside rovers beat harbour city 2-1 in cup final": "sports",
                 "연구진, 북극 얼음에서 새 효소 발견 🔬": "science",
                 "kai summers announces world tour 🎤": "entertainment"}
    answers = saved_pipeline(run_folder(settings).model)(list(headlines))
    assert len(answers) == len(headlines) and all(answer["label"] in TOPICS for answer in answers)
    assert sum(answer["label"] == topic for answer, topic in zip(answers, headlines.values())) >= 3
