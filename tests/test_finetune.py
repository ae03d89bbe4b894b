"""Fine-tuning: metrics from logits, the tutorial's accuracy mistake, the tiny model, a short real training run."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, EvalPrediction
from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK, get_available_reporting_integrations
from transformers.trainer_utils import PredictionOutput

from helpers import finetune
from helpers.finetune import compute_metrics, loss_curves, model_dir, train, training_arguments
from helpers.models import load_model, load_trained
from helpers.predict import evaluate_test, predict, probabilities, with_predictions
from helpers.split import load_split
from helpers.tokenization import tokenize

from conftest import one_line_error, remove_tc_env, run_cli, tiny_settings_for

LABELS = np.array([1, 1, 1, 0, 0, 0, 1, 0, 1, 0])
PREDICTED = np.array([1, 0, 1, 0, 1, 0, 1, 1, 0, 0])


def logits_for(predicted: np.ndarray, classes: int = 2, seed: int = 0) -> np.ndarray:
    """Random logits whose argmax is `predicted` in every row."""
    logits = np.random.default_rng(seed).normal(size=(len(predicted), classes)).astype(np.float32)
    logits[np.arange(len(predicted)), predicted] = logits.max(axis=1) + 1.0
    return logits


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


def test_probabilities_and_predictions_table():
    """Probabilities are a softmax (rows sum to 1, argmax kept); the table marks right and wrong rows."""
    prediction = PredictionOutput(predictions=logits_for(PREDICTED) * 30, label_ids=LABELS, metrics={})
    probs = probabilities(prediction)
    assert np.allclose(probs.sum(axis=1), 1) and (probs.argmax(axis=1) == PREDICTED).all()
    test = pd.DataFrame({"sentence": [f"t{i}" for i in range(len(LABELS))], "label": LABELS})
    rows = with_predictions(test, prediction, ["not sarcastic", "sarcastic"])
    assert rows["correct"].tolist() == (PREDICTED == LABELS).tolist()
    assert rows["predicted_name"].tolist() == [["not sarcastic", "sarcastic"][p] for p in PREDICTED]
    assert ((rows["confidence"] >= 0.5) & (rows["confidence"] <= 1)).all()
    expected = torch.nn.functional.cross_entropy(torch.tensor(prediction.predictions), torch.tensor(LABELS),
                                                 reduction="none")
    assert np.allclose(rows["loss"], expected.numpy(), rtol=1e-4), "each row's loss is its cross-entropy"
    assert rows.nlargest(4, "loss")["correct"].eq(False).all(), "the highest losses are the mistakes"


def test_tiny_model_loads_and_is_small(tiny_model):
    """The built tiny model loads with the Auto classes and has fewer than 200k parameters."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2)
    assert tokenizer.is_fast and tokenizer("area man")["input_ids"][0] == tokenizer.cls_token_id
    assert sum(p.numel() for p in model.parameters()) < 200_000
    assert sum(f.stat().st_size for f in tiny_model.iterdir()) < 2_000_000
    assert model.config.vocab_size == tokenizer.vocab_size


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


def test_a_missing_tracker_is_one_line(tmp_path):
    """A tracker that is not installed stops `train` in one line saying what to install, before writing anything."""
    missing = next(name for name in ["tensorboard", *sorted(INTEGRATION_TO_CALLBACK)]
                   if name not in get_available_reporting_integrations())
    result = run_cli("train", "--profile", "tiny", "--report-to", missing, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1
    one_line_error(result.stderr)
    assert f"pip install {finetune.PIP_NAMES.get(missing, missing)}" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_cache):
    """The tiny model trained for 10 steps, once for this module: (settings, trainer)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        remove_tc_env(monkeypatch)
        settings = tiny_settings_for(tmp_path_factory.mktemp("trained"), tiny_cache, max_steps=10)
        return settings, train(settings)


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


def test_training_evaluates(trained):
    """The run evaluates accuracy and F1 (every epoch, and at the end) and the loss curves have both splits."""
    _, trainer = trained
    evals = [entry for entry in trainer.state.log_history if "eval_accuracy" in entry]
    assert evals and all(0 <= entry["eval_accuracy"] <= 1 and 0 <= entry["eval_f1"] <= 1 for entry in evals)
    curves = loss_curves(trainer.state.log_history)
    assert set(curves["split"]) == {"train", "eval"} and curves["loss"].notna().all()


def test_saved_model_folder(trained):
    """The saved folder has safetensors weights, the label names, the tokenizer and the training log."""
    settings, _ = trained
    folder = model_dir(settings)
    assert (folder / "model.safetensors").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "not sarcastic", "1": "sarcastic"}
    assert config["label2id"] == {"not sarcastic": 0, "sarcastic": 1}
    assert (folder / "tokenizer_config.json").is_file()
    assert (folder / "tokenizer.json").is_file() or (folder / "vocab.txt").is_file()
    assert json.loads((folder / "log_history.json").read_text())


def test_reloaded_model_predicts_the_same(trained):
    """The model reloaded from disk gives the in-memory model's logits on the test split."""
    settings, trainer = trained
    model, tokenizer = load_trained(model_dir(settings))
    test = tokenize(load_split(settings)["test"], tokenizer, settings)
    reloaded = predict(model, tokenizer, test, settings).predictions
    in_memory = predict(trainer.model, trainer.processing_class, test, settings).predictions
    assert reloaded.shape == (len(test), 2)
    assert np.allclose(reloaded, in_memory, atol=1e-5)


def test_evaluate_test(trained):
    """evaluate_test reports accuracy and F1 of the argmax on the whole test split, with sizes and speeds."""
    settings, trainer = trained
    metrics = evaluate_test(trainer, settings)
    parts = load_split(settings)
    tokenizer = trainer.processing_class
    prediction = predict(trainer.model, tokenizer, tokenize(parts["test"], tokenizer, settings), settings)
    accuracy = float((np.argmax(prediction.predictions, axis=-1) == parts["test"]["label"].to_numpy()).mean())
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert (metrics["train_rows"], metrics["test_rows"]) == (len(parts["train"]), len(parts["test"]))
    assert metrics["eval_loss"] > 0
    assert metrics["train_samples_per_second"] > 0 and metrics["predict_samples_per_second"] > 0


