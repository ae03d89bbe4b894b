"""Notebook 04's exercises (helpers/exercises/nb04.py): each worked solution passes; plausible wrong answers fail with
a hint that does not give the answer away; hint and solution are the solutions notebook's; the tiny figures
notebook 04 states hold.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments,
                          set_seed)

import helpers
from helpers import data, finetune, hardware, models, split, tokenization

from support import exercise_env, fails, hides, notebook_text, passes, run_solution

KEYS = ("04.1", "04.2", "04.3", "04.4", "04.5")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """One output folder for the module."""
    return tmp_path_factory.mktemp("nb04")


def _namespace(settings, tokenizer) -> dict:
    """Notebook 04's namespace after its first cells, on `settings`."""
    parts = split.load_split(settings)
    names = data.label_names(settings)
    return dict(settings=settings, parts=parts, names=names, tokenizer=tokenizer, helpers=helpers, np=np,
                torch=torch, train_data=tokenization.tokenize(parts["train"], tokenizer, settings),
                eval_data=tokenization.tokenize(parts["validation"], tokenizer, settings),
                model=models.load_model(settings, names), hardware=hardware, finetune=finetune, set_seed=set_seed,
                AutoModelForSequenceClassification=AutoModelForSequenceClassification, Trainer=Trainer,
                DataCollatorWithPadding=DataCollatorWithPadding, TrainingArguments=TrainingArguments,
                accuracy_score=accuracy_score, f1_score=f1_score, precision_score=precision_score,
                recall_score=recall_score)


@pytest.fixture
def env(monkeypatch, out, tiny_cache, tiny_tokenizer):
    """The notebook's namespace on the tiny profile (its `model` fresh: the exercises count or reload it)."""
    return _namespace(exercise_env(monkeypatch, out, tiny_cache), tiny_tokenizer)


@pytest.fixture(scope="module")
def high(out, tiny_cache, tiny_tokenizer):
    """04.4's worked solution run once for the module: (its namespace, the trained Trainer)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        namespace = run_solution("04.4", _namespace(exercise_env(monkeypatch, out, tiny_cache), tiny_tokenizer))
    return namespace, namespace["high"]


def test_04_1_loss_before(env, capsys):
    """The worked solution passes; the shuffled loss given as the true one (the issue's), labels left in order or
    drawn anew, a model whose head has moved, or other rows fail, and no hint prints the expected loss."""
    solved = run_solution("04.1", env)
    batch, shuffled, true_loss, shuffled_loss = (solved[name] for name in ("batch", "shuffled", "true_loss",
                                                                            "shuffled_loss"))
    assert "both near ln(2)" in passes(capsys, "04.1", batch, shuffled, true_loss, shuffled_loss)
    fails(capsys, "04.1", batch, shuffled, true_loss, true_loss, saying="shuffled_loss equals true_loss")
    fails(capsys, "04.1", batch, batch, true_loss, true_loss, saying="the true labels in the same order")
    ones = {**batch, "labels": torch.ones_like(batch["labels"])}
    fails(capsys, "04.1", batch, ones, true_loss, shuffled_loss, saying="not the batch's labels in another order")
    other = models.load_model(env["settings"], env["names"])
    with torch.no_grad():
        other.classifier.weight[0].add_(0.5)  # a head that has moved: the notebook's model after training
    with torch.no_grad():
        other_loss, other_shuffled = other(**batch).loss.item(), other(**shuffled).loss.item()
    hides(fails(capsys, "04.1", batch, shuffled, other_loss, other_shuffled, saying="not a fresh model's loss"),
          true_loss)
    later = DataCollatorWithPadding(env["tokenizer"])([env["train_data"][i] for i in range(1, 33)])
    fails(capsys, "04.1", later, {**later, "labels": later["labels"].flip(0)}, true_loss, shuffled_loss,
          saying="not the first 32 train items")
    fails(capsys, "04.1", batch, shuffled, true_loss, "0.69", saying="number")


def test_04_2_metrics(env, capsys):
    """The worked solution passes; without precision and recall, with swapped arguments, a macro average, a recall
    off, a list or nothing returned fail, and no hint prints an expected score."""

    def metrics(average="binary", swap=False, keys=("accuracy", "f1", "precision", "recall")):
        def compute_metrics(eval_pred):
            logits, labels = eval_pred
            predictions = np.argmax(logits, axis=-1)
            first, second = (predictions, labels) if swap else (labels, predictions)
            values = {"accuracy": accuracy_score(first, second), "f1": f1_score(first, second, average=average),
                      "precision": precision_score(first, second, average=average),
                      "recall": recall_score(first, second, average=average)}
            return {key: values[key] for key in keys}
        return compute_metrics

    passes(capsys, "04.2", run_solution("04.2", env)["compute_metrics"])
    fails(capsys, "04.2", metrics(keys=("accuracy", "f1")), saying="no 'precision'")
    fails(capsys, "04.2", metrics(keys=("precision", "recall")), saying="no 'accuracy'")
    rng = np.random.default_rng(0)  # the made-up rows the check scores: no hint may print their scores
    logits, labels = rng.normal(size=(40, 2)), rng.integers(0, 2, size=40)
    expected = metrics()((logits, labels))
    hides(fails(capsys, "04.2", metrics(swap=True), saying="swapped"), *expected.values())
    hides(fails(capsys, "04.2", metrics(average="macro"), saying="averaged over both classes"), *expected.values())

    def off_by_one(eval_pred):
        values = metrics()(eval_pred)
        return values | {"recall": values["recall"] - 0.01}

    hides(fails(capsys, "04.2", off_by_one, saying="not what sklearn computes"), *expected.values())
    fails(capsys, "04.2", lambda eval_pred: [0.5, 0.5], saying="not a dict")
    fails(capsys, "04.2", lambda eval_pred: None, saying="returns nothing yet")
    fails(capsys, "04.2", 0.9, saying="should be a function")


def test_04_3_head(env, capsys):
    """The worked solution passes (on the tiny DistilBERT: pre_classifier and classifier); the whole model, a share,
    the classifier alone, or no model fail, and no hint prints the expected count."""
    model = env["model"]
    head = run_solution("04.3", env)["head"]
    named = sum(p.numel() for name, p in model.named_parameters() if name.split(".")[0] in ("pre_classifier",
                                                                                              "classifier"))
    assert named == head
    passes(capsys, "04.3", model, head)
    hides(fails(capsys, "04.3", model, model.num_parameters(), saying="whole model"), head)
    fails(capsys, "04.3", model, head / model.num_parameters(), saying="share")
    classifier = model.classifier.weight.numel() + model.classifier.bias.numel()
    hides(fails(capsys, "04.3", model, classifier, saying="last layer only"), head)
    fails(capsys, "04.3", model.state_dict(), head, saying="classification model")
    fails(capsys, "04.3", model.base_model, head, saying="classification model")


def test_04_4_wrong_trainers(env, capsys):
    """An untrained Trainer at the profile's rate, one writing into the notebook's folder, or not a Trainer fail."""
    settings = env["settings"]
    high_settings = helpers.get_settings(learning_rate=30 * settings.learning_rate,
                                         output_dir=f"{settings.output_dir}-x")

    def trainer(args):
        return Trainer(model=env["model"], args=args, train_dataset=env["train_data"], eval_dataset=env["eval_data"],
                       data_collator=DataCollatorWithPadding(env["tokenizer"]),
                       compute_metrics=finetune.compute_metrics)

    fails(capsys, "04.4", trainer(finetune.training_arguments(settings)), saying="not 30 x")
    fails(capsys, "04.4", trainer(finetune.training_arguments(high_settings, output_dir=settings.output_dir)),
          saying="the notebook's own output folder")
    fails(capsys, "04.4", trainer(finetune.training_arguments(high_settings, num_train_epochs=1)),
          saying="num_train_epochs")
    fails(capsys, "04.4", trainer(finetune.training_arguments(high_settings)), saying="not trained yet")
    fails(capsys, "04.4", "trainer", saying="should be a Trainer")


@pytest.mark.slow
def test_04_4_high_learning_rate(high, env, capsys):
    """The worked solution (a fresh model trained the recipe's steps at 30 times the rate) passes; its trained model
    run again for one step (the issue's wrong answer) fails, on its state and its arguments."""
    namespace, trainer = high
    assert "check_learned says" in passes(capsys, "04.4", trainer)
    again = Trainer(model=trainer.model, args=finetune.training_arguments(namespace["high_settings"], max_steps=1),
                    train_dataset=env["train_data"], eval_dataset=env["eval_data"],
                    data_collator=DataCollatorWithPadding(env["tokenizer"]), compute_metrics=finetune.compute_metrics)
    again.train()
    fails(capsys, "04.4", again, saying="its max_steps is 1")
    again.args.max_steps = -1  # the arguments made to look like the recipe's: the state still tells
    fails(capsys, "04.4", again, saying="it trained 1 steps")


def test_04_5_arguments(env, capsys):
    """The worked solution passes; evaluation by steps, the best by loss, the eval batch size for the train one, a
    max_steps, the notebook's folder, or a dict fail."""
    two_epochs = run_solution("04.5", env)["two_epochs"]
    assert "2 epochs" in passes(capsys, "04.5", two_epochs)
    values = dict(output_dir=two_epochs.output_dir, num_train_epochs=2, per_device_train_batch_size=32,
                  learning_rate=2e-5, eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
                  metric_for_best_model="accuracy", report_to="none")
    passes(capsys, "04.5", TrainingArguments(**values | {"metric_for_best_model": "eval_accuracy"}))
    wrong = {
        "eval_strategy": dict(eval_strategy="steps", save_strategy="steps"),
        "metric_for_best_model": dict(metric_for_best_model="eval_loss"),
        "per_device_train_batch_size": dict(per_device_train_batch_size=8, per_device_eval_batch_size=32),
        "max_steps": dict(max_steps=100),
        "output_dir": dict(output_dir=env["settings"].output_dir),
        "load_best_model_at_end": dict(load_best_model_at_end=False),
        "learning_rate": dict(learning_rate=5e-5),
    }
    for name, changed in wrong.items():
        fails(capsys, "04.5", TrainingArguments(**values | changed), saying=f"its {name} is")
    fails(capsys, "04.5", values, saying="should be a TrainingArguments")


def test_tiny_figures_notebook_04_states(env):
    """The deterministic `tiny` figures under notebook 04's key cells are what the tiny profile gives."""
    parts = env["parts"]
    assert f"{len(parts['train'])} and {len(parts['validation'])} on `tiny`" in notebook_text("04")
    batch = DataCollatorWithPadding(env["tokenizer"])([env["train_data"][i] for i in range(8)])
    with torch.no_grad():
        loss = env["model"](**batch).loss.item()
    assert f"({loss:.3f} on `tiny`)" in notebook_text("04") and abs(loss - math.log(2)) < 0.05
