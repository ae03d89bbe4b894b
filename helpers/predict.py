"""Reload a fine-tuned model, predict, and measure it correctly.

Introduced in notebook 05 (predict).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import log_softmax, softmax
from transformers import (DataCollatorWithPadding, Pipeline, PreTrainedModel, TextClassificationPipeline, Trainer,
                          pipeline)
from transformers.trainer_utils import PredictionOutput

from .data import label_names
from .finetune import NO_EVALUATION, compute_metrics, training_arguments
from .layout import run_folder
from .models import load_trained, token_limit, trainable_parameters
from .settings import Settings
from .split import load_split
from .tokenization import HeadlineDataset, tokenize, warn_truncated


# Predicting only: no evaluation or checkpoints, and rows in the order given (grouping by length would shuffle them).
PREDICT_ONLY = NO_EVALUATION | dict(train_sampling_strategy="sequential")


def prediction_trainer(model: PreTrainedModel, tokenizer, settings: Settings) -> Trainer:
    """A `Trainer` used only to predict: batches of `eval_batch_size`, padded per batch, same precision."""
    args = training_arguments(settings, **PREDICT_ONLY)
    return Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)


def predict(model: PreTrainedModel, tokenizer, dataset: HeadlineDataset, settings: Settings) -> PredictionOutput:
    """`Trainer.predict` on `dataset`, in batches sorted by length when `settings.sort_predictions`."""
    trainer = prediction_trainer(model, tokenizer, settings)
    if not settings.sort_predictions:
        return trainer.predict(dataset)
    order = np.argsort([len(ids) for ids in dataset.encodings["input_ids"]], kind="stable")
    result = trainer.predict(torch.utils.data.Subset(dataset, order))
    back = np.argsort(order)  # where each original row sits in the sorted order
    return PredictionOutput(result.predictions[back], result.label_ids[back], result.metrics)


def probabilities(prediction: PredictionOutput) -> np.ndarray:
    """Softmax of the logits: one row of class probabilities per text."""
    return softmax(prediction.predictions, axis=-1)


def with_predictions(test: pd.DataFrame, prediction: PredictionOutput, names: list[str]) -> pd.DataFrame:
    """The test rows with the predicted label, its name, the model's confidence in it and each row's loss (notebook 05).
    The loss is the row's cross-entropy, -log of the probability given to the true label: high for a confident mistake,
    near 0 for a confident right answer."""
    probs = probabilities(prediction)
    predicted = probs.argmax(axis=-1)
    labels = test["label"].to_numpy()
    log_probs = log_softmax(prediction.predictions, axis=-1)
    return test.assign(predicted=predicted, predicted_name=[names[i] for i in predicted], confidence=probs.max(axis=-1),
                       correct=predicted == labels, loss=-log_probs[np.arange(len(labels)), labels])


def test_metrics(model: PreTrainedModel, tokenizer, settings: Settings,
                 test: pd.DataFrame | None = None) -> dict[str, float]:
    """The model's accuracy, F1 and loss on the test split, its size and the prediction speed (notebooks 05, 06).
    The one measure of test rows: `python -m helpers train` reports it, notebook 05 puts it in its baselines table, and
    notebook 06 calls it on a sweep trial's saved model (`saved_test_metrics`). `test`: the split's test rows, when the
    caller has loaded them already."""
    test = load_split(settings)["test"] if test is None else test
    prediction = predict(model, tokenizer, tokenize(test, tokenizer, settings), settings)
    return {**compute_metrics(prediction), "eval_loss": prediction.metrics["test_loss"], "test_rows": len(test),
            "predict_samples_per_second": prediction.metrics["test_samples_per_second"]}


def saved_test_metrics(settings: Settings) -> dict[str, float]:
    """`test_metrics` of the model saved in the settings' output folder (notebook 06: a chosen trial's)."""
    model, tokenizer = load_trained(run_folder(settings).model, label_names(settings), settings.attention)
    return test_metrics(model, tokenizer, settings)


def evaluate_test(trainer: Trainer, settings: Settings,
                  parts: dict[str, pd.DataFrame | None] | None = None) -> dict[str, float]:
    """`test_metrics` of `trainer`'s model, with the kept epoch's validation accuracy, the split sizes and speeds.
    `parts`: the split the trainer was trained on, when the caller has it (`finetune.run`); else it is loaded."""
    parts = load_split(settings) if parts is None else parts
    test = test_metrics(trainer.model, trainer.processing_class, settings, parts["test"])
    trained = next(entry for entry in reversed(trainer.state.log_history) if "train_samples_per_second" in entry)
    return {
        **{name: test[name] for name in ("accuracy", "f1", "eval_loss")},
        "validation_accuracy": trainer.state.best_metric,  # None without a validation split (the tutorial's setup)
        "train_rows": len(parts["train"]),
        "validation_rows": 0 if parts["validation"] is None else len(parts["validation"]),
        "test_rows": test["test_rows"],
        "train_samples_per_second": trained["train_samples_per_second"],
        "predict_samples_per_second": test["predict_samples_per_second"],
        "trainable_parameters": trainable_parameters(trainer.model),  # the weights a step updated (notebook 09)
    }


BATCH = 64  # texts the pipeline pads into one batch (its default, 1, runs the model once per text)


class TruncatingPipeline(TextClassificationPipeline):
    """The text-classification pipeline, cutting texts to the model's `token_limit` and saying how many it cut."""

    def __call__(self, inputs, **kwargs):
        texts = [inputs] if isinstance(inputs, str) else inputs
        limit = token_limit(self.tokenizer, self.model.config)
        if isinstance(texts, list) and all(isinstance(text, str) for text in texts):
            warn_truncated(texts, self.tokenizer, limit, "the most this model takes")
        return super().__call__(inputs, **{"truncation": True, "max_length": limit, "batch_size": BATCH, **kwargs})


def saved_pipeline(folder: str | Path) -> Pipeline:
    """A `pipeline("text-classification")` on the saved model, for new texts; longer texts are cut to fit
    (notebook 05)."""
    model, tokenizer = load_trained(folder)
    return pipeline("text-classification", model=model, tokenizer=tokenizer, pipeline_class=TruncatingPipeline)


