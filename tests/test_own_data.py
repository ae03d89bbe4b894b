"""Your own data (notebook 07): other column names in CSV, JSON and JSONL, text labels or ids, Korean and emoji,
class weights, and four imbalanced topics trained and predicted end to end on the tiny profile."""

from __future__ import annotations

import json
import re
import unicodedata
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import DataCollatorWithPadding
from transformers.trainer_pt_utils import LabelSmoother

from helpers import load_data
from helpers.data import label_names
from helpers.finetune import (
    build_trainer, class_weights, loss_function, model_dir, train, weighted_cross_entropy,
)
from helpers.models import load_tokenizer
from helpers.predict import classifier, predict, with_predictions
from helpers.settings import TINY_MODEL, TOPICS_SAMPLE
from helpers.split import load_split
from helpers.tiny import BUILT_FROM, build_tiny_model, ensure_tiny_model, is_current
from helpers.tokenization import HeadlineDataset, tokenize

from conftest import remove_tc_env, tiny_settings_for, write_table

TOPICS = ["politics", "sports", "science", "entertainment"]  # largest class first, as generated
COLUMNS = dict(text_column="title", label_column="topic")
HANGUL = re.compile("[\uac00-\ud7a3]")
EMOJI = re.compile("[\u2600-\u27bf\U0001F300-\U0001FAFF]")
FORMATS = (".csv", ".json", ".jsonl")
IMBALANCED = [0] * 40 + [1] * 30 + [2] * 20 + [3] * 10
BALANCED = [0, 1, 2, 3] * 25


def topic_records() -> list[dict]:
    """The rows of the shipped topics sample, as written in the file."""
    return [json.loads(line) for line in TOPICS_SAMPLE.read_text(encoding="utf-8").splitlines()]


def is_special(text: str) -> bool:
    """True for a headline with Korean letters or an emoji."""
    return bool(HANGUL.search(text) or EMOJI.search(text))


# ---------------------------------------------------------------------------------------------- the sample


def test_topics_sample_is_imbalanced_and_multilingual():
    """The topics sample: 240-320 unique headlines, four text topics 40/30/20/10 %, a third Korean, some emoji."""
    records = topic_records()
    assert 240 <= len(records) <= 320
    assert all(set(record) == {"id", "title", "topic"} for record in records)
    assert len({record["title"] for record in records}) == len(records)
    shares = pd.Series([record["topic"] for record in records]).value_counts(normalize=True)
    assert shares.index.tolist() == TOPICS  # largest first: politics, sports, science, entertainment
    assert shares.iloc[0] >= 3 * shares.iloc[-1]
    assert 0.25 <= np.mean([bool(HANGUL.search(record["title"])) for record in records]) <= 0.45
    assert sum(bool(EMOJI.search(record["title"])) for record in records) >= 8


# ---------------------------------------------------------------------------------------------- loading


def test_same_rows_from_csv_json_and_jsonl(tmp_path, make_settings):
    """The same rows written as CSV, JSON and JSONL, with columns title/topic, load to the same frame."""
    records = topic_records()
    shipped = load_data(make_settings(data=str(TOPICS_SAMPLE), **COLUMNS))
    assert list(shipped.columns) == ["sentence", "label"]
    assert shipped["sentence"].tolist() == [record["title"] for record in records]
    for suffix in FORMATS:
        df = load_data(make_settings(data=str(write_table(tmp_path / f"topics{suffix}", records)), **COLUMNS))
        pd.testing.assert_frame_equal(df, shipped)
        assert label_names(df) == label_names(shipped) == sorted(TOPICS)


@pytest.mark.parametrize("suffix", FORMATS)
def test_korean_and_emoji_pass_through_load_data_unchanged(suffix, tmp_path, make_settings):
    """Korean and emoji headlines come out of load_data exactly as written, variation selectors included."""
    records = topic_records()
    df = load_data(make_settings(data=str(write_table(tmp_path / f"topics{suffix}", records)), **COLUMNS))
    special = [(i, record["title"]) for i, record in enumerate(records) if is_special(record["title"])]
    assert len(special) >= 60 and any("\ufe0f" in text for _, text in special)
    assert [df.loc[i, "sentence"] for i, _ in special] == [text for _, text in special]


def test_text_labels_name_themselves_and_ids_take_label_names(tmp_path, make_settings):
    """Text labels keep their names (sorted, or in the order of label_names); ids are named by label_names."""
    records = topic_records()
    ordered = load_data(make_settings(data=str(TOPICS_SAMPLE), label_names=",".join(TOPICS), **COLUMNS))
    assert label_names(ordered) == TOPICS
    assert [TOPICS[i] for i in ordered["label"]] == [record["topic"] for record in records]
    as_ids = [{**record, "topic": TOPICS.index(record["topic"])} for record in records]
    path = write_table(tmp_path / "ids.csv", as_ids)
    by_id = load_data(make_settings(data=str(path), label_names=",".join(TOPICS), **COLUMNS))
    pd.testing.assert_frame_equal(by_id, ordered)
    assert label_names(by_id) == TOPICS


# ---------------------------------------------------------------------------------------------- tiny tokenizer


def test_korean_and_emoji_tokenize_to_known_tokens(tiny_tokenizer):
    """The tiny vocabulary covers the sample's Korean and emoji: no [UNK], and the tokens give the text back."""
    texts = [record["title"] for record in topic_records() if is_special(record["title"])]
    texts += ["화성 탐사선 발사 성공", "한강 파랑새, 아시아 컵 우승 차지 🏆"]  # new headlines, known letters
    rows = tiny_tokenizer(texts)["input_ids"]
    assert all(tiny_tokenizer.unk_token_id not in row for row in rows)
    for text, row in zip(texts, rows):
        decoded = unicodedata.normalize("NFC", tiny_tokenizer.decode(row, skip_special_tokens=True))
        assert decoded.replace(" ", "") == text.lower().replace(" ", "").replace("\ufe0f", ""), text
    assert {mark for text in texts for mark in EMOJI.findall(text)} <= set(tiny_tokenizer.get_vocab())


def test_a_tiny_model_built_from_other_samples_is_rebuilt(tmp_path):
    """A cached tiny model whose fingerprint is not the current samples' is built again; a current one is kept."""
    folder = build_tiny_model(tmp_path / TINY_MODEL)
    assert is_current(folder)
    built = (folder / "config.json").stat().st_mtime_ns
    ensure_tiny_model(str(folder))
    assert (folder / "config.json").stat().st_mtime_ns == built
    (folder / BUILT_FROM).write_text("an older sample\n")
    assert not is_current(folder)
    ensure_tiny_model(str(folder))
    assert is_current(folder)


# ---------------------------------------------------------------------------------------------- class weights


def test_class_weights_are_inverse_class_frequency():
    """Weights are rows / (classes * rows of the class): each class weighs the same in total; balanced is all 1."""
    counts = np.bincount(IMBALANCED)
    weights = class_weights(IMBALANCED, 4)
    assert torch.allclose(weights, torch.tensor(len(IMBALANCED) / (4 * counts), dtype=torch.float32))
    assert np.allclose(weights.numpy() * counts, len(IMBALANCED) / 4)
    assert weights.argmax() == 3 and weights.argmin() == 0  # the rarest class weighs most
    assert torch.equal(class_weights(BALANCED, 4), torch.ones(4))


def test_a_class_without_train_rows_weighs_one(capsys):
    """A class missing from the train labels gets weight 1, and a warning says which."""
    weights = class_weights([0, 0, 0, 1], 3)
    assert weights[2] == 1 and weights[0] < weights[1]
    assert "[2] have no train rows" in capsys.readouterr().err


def outputs_for(trainer, labels: list[int]):
    """A trained model's outputs (with its own loss) for sample headlines given `labels` (its logits differ by
    class; a fresh head's are all about equal, and so would be any weighting of them)."""
    tokenizer = trainer.processing_class
    texts = [record["title"] for record in topic_records()][: len(labels)]
    dataset = HeadlineDataset(texts, labels, tokenizer, max_length=64)
    batch = DataCollatorWithPadding(tokenizer)([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        return trainer.model.eval()(**batch.to(trainer.model.device)), batch["labels"]


@pytest.mark.parametrize("labels, balanced", [(IMBALANCED, False), (BALANCED, True)], ids=["imbalanced", "balanced"])
def test_weighted_loss_differs_only_on_imbalanced_labels(labels, balanced, topics_run):
    """Weighted cross-entropy is sum(w[y] * nll) / rows: the model's own loss on balanced labels, not on imbalanced."""
    outputs, tensor = outputs_for(topics_run[1], labels)
    weights = class_weights(labels, 4)
    weighted = weighted_cross_entropy(outputs, tensor, weights=weights)
    nll = -torch.log_softmax(outputs.logits, dim=-1)[torch.arange(len(labels)), tensor]
    assert torch.isclose(weighted, (weights[tensor] * nll).sum() / len(labels))
    assert torch.isclose(weighted, outputs.loss, rtol=0, atol=1e-6) == balanced
    if not balanced:
        assert abs(weighted - outputs.loss) > 1e-3


def test_weighted_loss_of_accumulated_batches_is_one_batch(topics_run):
    """Two halves, each divided by all rows (the Trainer's num_items_in_batch), add up to the whole batch's loss."""
    outputs, labels = outputs_for(topics_run[1], IMBALANCED)
    weights = class_weights(IMBALANCED, 4)
    halves = [slice(0, 37), slice(37, None)]
    parts = [weighted_cross_entropy({"logits": outputs.logits[half]}, labels[half], len(labels), weights=weights)
             for half in halves]
    assert torch.isclose(sum(parts), weighted_cross_entropy(outputs, labels, weights=weights))


def test_weighted_loss_smooths_labels_as_the_trainer_does(topics_run):
    """With equal weights and label smoothing the weighted loss is the Trainer's label-smoothed loss."""
    outputs, labels = outputs_for(topics_run[1], IMBALANCED)
    smoothed = LabelSmoother(epsilon=0.1)(outputs, labels, shift_labels=False)
    weighted = weighted_cross_entropy(outputs, labels, weights=torch.ones(4), label_smoothing=0.1)
    assert torch.isclose(weighted, smoothed)
    assert abs(weighted - weighted_cross_entropy(outputs, labels, weights=torch.ones(4))) > 1e-3


def test_class_weights_keep_label_smoothing(make_settings):
    """The weighted loss that replaces the Trainer's own still smooths the labels when label_smoothing is set."""
    labels, logits = torch.tensor([0, 0, 0, 1]), torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0], [0.0, 3.0]])
    settings = make_settings(class_weights=True, label_smoothing=0.1)
    loss = loss_function(settings, lambda: 2, SimpleNamespace(labels=labels))
    weights = class_weights(labels, 2)
    smoothed = weighted_cross_entropy({"logits": logits}, labels, weights=weights, label_smoothing=0.1)
    assert torch.isclose(loss({"logits": logits}, labels), smoothed)
    assert not torch.isclose(smoothed, weighted_cross_entropy({"logits": logits}, labels, weights=weights))


def test_build_trainer_weights_the_loss_only_when_asked(make_settings, topics_run):
    """class_weights=True hands the Trainer a weighted loss from the train labels; False keeps the model's own."""
    model = topics_run[1].model.eval()  # trained: its logits differ by class
    trainers = {}
    for flag in (False, True):
        settings = make_settings(data=str(TOPICS_SAMPLE), **COLUMNS, class_weights=flag, precision="fp32")
        parts, tokenizer = load_split(settings), load_tokenizer(settings)
        train_data = tokenize(parts["train"], tokenizer, settings)
        test_data = tokenize(parts["test"], tokenizer, settings)
        trainers[flag] = build_trainer(settings, model, tokenizer, train_data, test_data)
    assert trainers[False].compute_loss_func is None
    weights = trainers[True].compute_loss_func.keywords["weights"]
    assert torch.equal(weights, class_weights(parts["train"]["label"].tolist(), 4))
    batch = DataCollatorWithPadding(tokenizer)([train_data[i] for i in range(32)])
    with torch.no_grad():
        own = trainers[False].model(**batch).loss
        losses = {flag: trainer.compute_loss(trainer.model, dict(batch)) for flag, trainer in trainers.items()}
    assert torch.isclose(losses[False], own)
    assert torch.isclose(losses[True], weighted_cross_entropy(trainers[True].model(**batch), batch["labels"],
                                                              weights=weights))
    assert abs(losses[True] - losses[False]) > 1e-3


# ---------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def topics_run(tmp_path_factory, tiny_cache):
    """The tiny model fine-tuned on the topics sample as notebook 07 does it, once for this module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        remove_tc_env(monkeypatch)
        settings = tiny_settings_for(
            tmp_path_factory.mktemp("topics"), tiny_cache, data=str(TOPICS_SAMPLE), **COLUMNS,
            stratify=True, validation_size=0.1, class_weights=True, epochs=20,
        )
        return settings, train(settings)


def test_stratified_split_keeps_every_topic_everywhere(topics_run):
    """With stratify and a validation split, each of train, validation and test holds all four topics."""
    settings, _ = topics_run
    parts = load_split(settings)
    assert all(set(part["label"]) == {0, 1, 2, 3} for part in parts.values())


def test_trained_model_is_named_by_the_topics(topics_run):
    """The saved model has four outputs named by the topic strings, and it trained with the weighted loss."""
    settings, trainer = topics_run
    config = json.loads((model_dir(settings) / "config.json").read_text())
    assert config["id2label"] == {str(i): name for i, name in enumerate(sorted(TOPICS))}
    assert trainer.compute_loss_func is not None
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[-1] < losses[0]


def test_test_predictions_are_topic_names_and_beat_chance(topics_run):
    """On the test rows, every prediction is a topic name, and accuracy is well above always answering the
    largest class (let alone chance, 1/4)."""
    settings, trainer = topics_run
    test = load_split(settings)["test"]
    tokenizer = trainer.processing_class
    prediction = predict(trainer.model, tokenizer, tokenize(test, tokenizer, settings), settings)
    rows = with_predictions(test, prediction, label_names(test))
    assert set(rows["predicted_name"]) <= set(TOPICS) and rows["predicted"].nunique() >= 3
    largest = test["label"].value_counts(normalize=True).max()
    assert rows["correct"].mean() > largest + 0.2 > 0.25 + 0.2


def test_new_headlines_in_korean_and_english_get_topic_names(topics_run):
    """The saved model in a pipeline labels new Korean and English headlines with topic names, mostly the right ones."""
    settings, _ = topics_run
    headlines = {"국회, 교육 예산 법안 통과": "politics", "riverside rovers beat harbour city 2-1 in cup final": "sports",
                 "연구진, 북극 얼음에서 새 효소 발견 🔬": "science", "kai summers announces world tour 🎤": "entertainment"}
    answers = classifier(model_dir(settings))(list(headlines))
    assert len(answers) == len(headlines) and all(answer["label"] in TOPICS for answer in answers)
    assert sum(answer["label"] == topic for answer, topic in zip(answers, headlines.values())) >= 3
