"""Fine-tuning (`helpers/finetune.py`): metrics from logits, the tutorial's accuracy mistake, the training arguments,
trackers, a short real training run, grouping by length, class weights in the loss, and "did it learn?"."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import DataCollatorWithPadding, EvalPrediction
from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK, get_available_reporting_integrations
from transformers.trainer_pt_utils import LabelSmoother
from transformers.trainer_utils import PredictionOutput

from helpers import finetune, hardware
from helpers.data import label_names
from helpers.finetune import (
    build_trainer,
    check_learned,
    class_weights,
    compute_metrics,
    loss_curves,
    training_arguments,
    weighted_cross_entropy,
)
from helpers.models import load_model, load_tokenizer
from helpers import settings as hs
from helpers.settings import TOPICS_SAMPLE
from helpers.split import load_split
from helpers.tokenization import HeadlineDataset, tokenize

from support import (LABELS, PREDICTED, TOPIC_COLUMNS, another_value, logits_for, one_line_error, run_cli,
                     tiny_settings_for, topic_records)

IMBALANCED = [0] * 40 + [1] * 30 + [2] * 20 + [3] * 10
BALANCED = [0, 1, 2, 3] * 25


def by_hand(labels, predicted) -> tuple[float, float]:
    """Accuracy and binary F1 (class 1 positive), counted one row at a time."""
    right = tp = fp = fn = 0
    for y, p in zip(labels, predicted):
        right += y == p
        tp += y == 1 and p == 1
        fp += y == 0 and p == 1
        fn += y == 1 and p == 0
    return right / len(labels), 2 * tp / (2 * tp + fp + fn)


def test_compute_metrics_uses_the_argmax():
    """Accuracy and F1 are those of the logits' argmax against the labels, as counted by hand."""
    metrics = compute_metrics(EvalPrediction(predictions=logits_for(PREDICTED), label_ids=LABELS))
    accuracy, f1 = by_hand(LABELS, PREDICTED)
    assert metrics["accuracy"] == pytest.approx(accuracy) and metrics["f1"] == pytest.approx(f1)
    assert accuracy == 0.6 and f1 == pytest.approx(2 * 3 / (2 * 3 + 2 + 2))  # 6 of 10 right; tp 3, fp 2, fn 2


def test_compute_metrics_three_classes():
    """With more than two classes F1 is the macro average over the classes."""
    labels = np.array([0, 1, 2, 2, 1, 0])
    predicted = np.array([0, 2, 2, 2, 1, 1])
    metrics = compute_metrics(EvalPrediction(predictions=logits_for(predicted, classes=3), label_ids=labels))
    f1s = []
    for c in range(3):
        tp = sum(1 for y, p in zip(labels, predicted) if y == p == c)
        fp = sum(1 for y, p in zip(labels, predicted) if p == c != y)
        fn = sum(1 for y, p in zip(labels, predicted) if y == c != p)
        f1s.append(2 * tp / (2 * tp + fp + fn))
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["f1"] == pytest.approx(sum(f1s) / 3)


def test_tutorial_accuracy_is_always_perfect():
    """The tutorial's line (labels vs label_ids, as notebook 05 writes it) is 1.0 even for logits that are all wrong;
    the argmax of the logits is not."""
    test = pd.DataFrame({"sentence": [f"t{i}" for i in range(len(LABELS))], "label": LABELS})
    for predicted in (1 - LABELS, PREDICTED):
        predictions = PredictionOutput(predictions=logits_for(predicted), label_ids=LABELS, metrics={})
        assert (test["label"] == predictions.label_ids).mean() == 1.0
        accuracy = (test["label"] == np.argmax(predictions.predictions, axis=-1)).mean()
        assert accuracy == pytest.approx(by_hand(LABELS, predicted)[0]) == compute_metrics(predictions)["accuracy"]
        assert accuracy < 1


def test_training_arguments(tiny_settings):
    """Training evaluates and saves each epoch and ends with the best checkpoint by accuracy."""
    args = training_arguments(tiny_settings)
    assert args.eval_strategy == "epoch" and args.save_strategy == "epoch"
    assert args.load_best_model_at_end and args.metric_for_best_model == "accuracy"
    assert args.num_train_epochs == tiny_settings.epochs
    assert args.per_device_train_batch_size == tiny_settings.train_batch_size
    assert args.learning_rate == tiny_settings.learning_rate
    assert args.weight_decay == tiny_settings.weight_decay and args.seed == tiny_settings.seed
    assert args.output_dir == tiny_settings.output_dir


def test_schedule_and_label_smoothing_reach_the_trainer(tiny_settings):
    """The tutorial's linear schedule and no smoothing by default; each setting becomes its training argument."""
    args = training_arguments(tiny_settings)
    assert args.lr_scheduler_type == "linear" and args.label_smoothing_factor == 0
    args = training_arguments(dataclasses.replace(tiny_settings, lr_scheduler="cosine", label_smoothing=0.1))
    assert args.lr_scheduler_type == "cosine" and args.label_smoothing_factor == 0.1


def test_report_to_reaches_the_training_arguments(tiny_settings, monkeypatch):
    """No tracker by default; a tracker that is installed (here: made to look installed) reaches `report_to`."""
    assert training_arguments(tiny_settings).report_to == []
    monkeypatch.setattr(finetune, "get_available_reporting_integrations", lambda: ["tensorboard"])
    assert training_arguments(dataclasses.replace(tiny_settings, report_to="tensorboard")).report_to == ["tensorboard"]


@pytest.mark.slow
def test_a_missing_tracker_is_one_line(tmp_path):
    """A tracker that is not installed stops `train` in one line saying what to install, before writing anything."""
    missing = next(name for name in ["tensorboard", *sorted(INTEGRATION_TO_CALLBACK)]
                   if name not in get_available_reporting_integrations())
    result = run_cli("train", "--profile", "tiny", "--report-to", missing, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1
    one_line_error(result.stderr)
    assert f"pip install {finetune.PIP_NAMES.get(missing, missing)}" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_training_changes_the_weights(trained):
    """After training the weights differ from the same seeded starting model, and the loss was logged."""
    settings, trainer = trained
    start = load_model(settings, list(trainer.model.config.id2label.values())).state_dict()
    end = trainer.model.state_dict()
    assert start.keys() == end.keys()
    changed = [name for name in start if not torch.equal(start[name], end[name].to(start[name].device))]
    assert changed, "no weight changed during training"
    assert any("classifier" in name for name in changed)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) >= 2 and all(math.isfinite(loss) and loss > 0 for loss in losses)
    assert trainer.state.global_step == settings.max_steps


@pytest.mark.slow
def test_training_evaluates(trained):
    """The run evaluates accuracy and F1 (every epoch, and at the end) and the loss curves have both splits."""
    _, trainer = trained
    evals = [entry for entry in trainer.state.log_history if "eval_accuracy" in entry]
    assert evals and all(0 <= entry["eval_accuracy"] <= 1 and 0 <= entry["eval_f1"] <= 1 for entry in evals)
    curves = loss_curves(trainer.state.log_history)
    assert set(curves["split"]) == {"train", "eval"} and curves["loss"].notna().all()


@pytest.mark.slow
def test_saved_model_folder(trained):
    """The saved folder has safetensors weights, the label names, the tokenizer and the training log."""
    settings, _ = trained
    folder = finetune.run_folder(settings).model
    assert (folder / "model.safetensors").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "not sarcastic", "1": "sarcastic"}
    assert config["label2id"] == {"not sarcastic": 0, "sarcastic": 1}
    assert (folder / "tokenizer_config.json").is_file()
    assert (folder / "tokenizer.json").is_file() or (folder / "vocab.txt").is_file()
    assert json.loads((folder / "log_history.json").read_text())


def test_group_by_length_batches_similar_lengths(make_settings):
    """With group_by_length every row is still seen once an epoch, and batches hold similar lengths."""
    settings = make_settings(group_by_length=True)
    tokenizer = load_tokenizer(settings)
    rows = load_split(settings)["train"]
    train = tokenize(rows, tokenizer, settings)
    trainer = finetune.build_trainer(settings, load_model(settings, label_names(settings)), tokenizer, train, train)
    order = list(trainer._get_train_sampler(train))
    assert sorted(order) == list(range(len(train)))
    lengths = np.array([len(ids) for ids in train.encodings["input_ids"]])
    size = settings.train_batch_size

    def padding(indices):
        batches = [lengths[indices[i:i + size]] for i in range(0, len(indices), size)]
        return sum(b.max() * len(b) - b.sum() for b in batches)

    shuffled = np.random.default_rng(0).permutation(len(train))
    assert padding(order) < padding(shuffled)


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


def test_class_weights_keep_label_smoothing(make_settings):
    """The weighted loss that replaces the Trainer's own still smooths the labels when label_smoothing is set (its
    classes asked of `model_init`'s model where no model is given)."""
    labels, logits = torch.tensor([0, 0, 0, 1]), torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0], [0.0, 3.0]])
    settings = make_settings(class_weights=True, label_smoothing=0.1)
    tokenizer = load_tokenizer(settings)
    rows = HeadlineDataset(["a", "b", "c", "d"], labels.tolist(), tokenizer, max_length=8)
    loss = build_trainer(settings, None, tokenizer, rows, rows, announce=False, model_init=lambda: load_model(
        settings, ["not sarcastic", "sarcastic"])).compute_loss_func
    weights = class_weights(labels, 2)
    smoothed = weighted_cross_entropy({"logits": logits}, labels, weights=weights, label_smoothing=0.1)
    assert torch.isclose(loss({"logits": logits}, labels), smoothed)
    assert not torch.isclose(smoothed, weighted_cross_entropy({"logits": logits}, labels, weights=weights))


def outputs_for(trainer, labels: list[int]):
    """A trained model's outputs (with its own loss) for sample headlines given `labels` (its logits differ by
    class; a fresh head's are all about equal, and so would be any weighting of them)."""
    tokenizer = trainer.processing_class
    texts = [record["title"] for record in topic_records()][: len(labels)]
    dataset = HeadlineDataset(texts, labels, tokenizer, max_length=64)
    batch = DataCollatorWithPadding(tokenizer)([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        return trainer.model.eval()(**batch.to(trainer.model.device)), batch["labels"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_weighted_loss_of_accumulated_batches_is_one_batch(topics_run):
    """Two halves, each divided by all rows (the Trainer's num_items_in_batch), add up to the whole batch's loss."""
    outputs, labels = outputs_for(topics_run[1], IMBALANCED)
    weights = class_weights(IMBALANCED, 4)
    halves = [slice(0, 37), slice(37, None)]
    parts = [weighted_cross_entropy({"logits": outputs.logits[half]}, labels[half], len(labels), weights=weights)
             for half in halves]
    assert torch.isclose(sum(parts), weighted_cross_entropy(outputs, labels, weights=weights))


@pytest.mark.slow
def test_weighted_loss_smooths_labels_as_the_trainer_does(topics_run):
    """With equal weights and label smoothing the weighted loss is the Trainer's label-smoothed loss."""
    outputs, labels = outputs_for(topics_run[1], IMBALANCED)
    smoothed = LabelSmoother(epsilon=0.1)(outputs, labels, shift_labels=False)
    weighted = weighted_cross_entropy(outputs, labels, weights=torch.ones(4), label_smoothing=0.1)
    assert torch.isclose(weighted, smoothed)
    assert abs(weighted - weighted_cross_entropy(outputs, labels, weights=torch.ones(4))) > 1e-3


@pytest.mark.slow
def test_build_trainer_weights_the_loss_only_when_asked(make_settings, topics_run):
    """class_weights=True hands the Trainer a weighted loss from the train labels; False keeps the model's own."""
    model = topics_run[1].model.eval()  # trained: its logits differ by class
    trainers = {}
    for flag in (False, True):
        settings = make_settings(data=str(TOPICS_SAMPLE), **TOPIC_COLUMNS, class_weights=flag, precision="fp32")
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


# ---------------------------------------------------------------------------------------------- did it learn?


def trainer_with(accuracy: float, train_labels: list[int], eval_labels: list[int], device: str = "cpu"):
    """A stand-in for a trained `Trainer`: what `check_learned` reads (state, datasets, device)."""
    return SimpleNamespace(
        state=SimpleNamespace(best_metric=accuracy),
        train_dataset=SimpleNamespace(labels=train_labels),
        eval_dataset=SimpleNamespace(labels=eval_labels),
        args=SimpleNamespace(device=SimpleNamespace(type=device)),
    )


@pytest.mark.parametrize("accuracy, learned", [(0.55, False), (0.59, False), (0.61, True), (0.95, True)])
def test_did_it_learn_compares_with_the_majority_class(accuracy, learned, capsys):
    """400 evaluation rows, 55 % in the commonest class: the bar is 0.55 plus two standard errors (about 0.60)."""
    train, evaluation = [0] * 60 + [1] * 40, [0] * 220 + [1] * 180
    assert check_learned(trainer_with(accuracy, train, evaluation)) is learned
    err = capsys.readouterr().err
    if learned:
        assert err == ""
    else:
        assert len(err.splitlines()) == 1 and err.startswith("warning: !!! the model did not learn")
        assert "0.550" in err and "learning rate" in err and "device" not in err


def test_did_it_learn_names_a_device_that_is_not_the_cpu(capsys):
    """On a GPU or an Apple GPU, a model that did not learn may be the device's fault: the warning says so."""
    assert not check_learned(trainer_with(0.5, [0, 1, 1], [0, 1] * 50, device="mps"))
    assert "mps device" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- checkpoints


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True])
def test_checkpoints_go_once_the_model_is_saved_unless_kept(keep, make_settings):
    """A finished run's checkpoints are removed (the saved model is what stays), unless keep_checkpoints asks."""
    settings = make_settings(epochs=1, train_rows=32, keep_checkpoints=keep)
    finetune.train(settings)
    left = sorted(path.name for path in Path(settings.output_dir).glob("checkpoint-*"))
    assert left == (["checkpoint-2"] if keep else []), left
    assert (Path(settings.output_dir) / "model" / "config.json").is_file()


def test_under_torchrun_ddp_does_not_search_for_unused_weights(tiny_settings, monkeypatch):
    """Every weight of a classifier gets a gradient: under torchrun DDP is told so (no warning each step); a
    single process, and so notebook 04's arguments, are left as transformers makes them."""
    assert finetune.training_arguments(tiny_settings).ddp_find_unused_parameters is None
    assert finetune.distributed_flags() == {}
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it (TrainingArguments would then start a process group)
    assert finetune.distributed_flags() == {"ddp_find_unused_parameters": False}


def test_the_did_not_learn_warning_names_both_directions(capsys):
    """The warning names a learning rate too high or too low: a sweep on the tiny profile with 2e-5 learns
    nothing because the rate is far too low."""
    check_learned(trainer_with(0.5, [0, 1, 1], [0, 1] * 50))
    err = capsys.readouterr().err
    assert "a learning rate too high or too low (TC_LEARNING_RATE)" in err


def test_training_arguments_come_from_one_mapping(tmp_path):
    """Each setting in finetune.TRAINING_ARGUMENTS reaches its TrainingArguments argument as it is: changed, the
    argument changes with it."""
    import transformers

    arguments = {f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    assert set(finetune.TRAINING_ARGUMENTS) <= set(hs.FIELDS) and set(finetune.TRAINING_ARGUMENTS.values()) <= arguments
    base = tiny_settings_for(tmp_path / "out", tmp_path)
    for name, argument in finetune.TRAINING_ARGUMENTS.items():
        value = hs.coerce(name, another_value(name)) if name != "output_dir" else str(tmp_path / "other")
        args = finetune.training_arguments(dataclasses.replace(base, **{name: value}))
        assert getattr(args, argument) == value != getattr(base, name), (name, argument)


def test_the_choice_is_printed_once_by_process_zero(make_settings, capsys):
    """Every Trainer built for training says, as training starts, the device and precision; only process 0."""
    settings = make_settings()
    announce = finetune.Announce(settings)
    announce.on_train_begin(SimpleNamespace(world_size=2), SimpleNamespace(is_world_process_zero=False), None)
    assert capsys.readouterr().out == ""
    announce.on_train_begin(SimpleNamespace(world_size=2), SimpleNamespace(is_world_process_zero=True), None)
    assert capsys.readouterr().out == hardware.describe(settings) + ", 2 processes\n"
    trainer = build_trainer(settings, None, None, [], [], model_init=lambda: load_model(
        settings, ["not sarcastic", "sarcastic"]))
    assert sum(isinstance(c, finetune.Announce) for c in trainer.callback_handler.callbacks) == 1
