"""Fine-tune a pretrained model with `transformers.Trainer`, evaluate each epoch, save the best.

Introduced in notebook 04 (fine-tune).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils.class_weight import compute_class_weight
from transformers import (DataCollatorWithPadding, EvalPrediction, PreTrainedModel, PreTrainedTokenizerBase, Trainer,
                          TrainerCallback, TrainingArguments)
from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK, get_available_reporting_integrations
from transformers.trainer_callback import ProgressCallback

from . import hardware
from .baselines import majority_accuracy, scores
from .card import Report, report, write_card
from .data import read_data
from .layout import LOG_HISTORY, run_folder, run_lock, swap_in
from .settings import Settings, UserError, how_to_set, tagged, warn
from .models import (check_classifier, has_weights, is_adapter, is_trained, load_model, load_tokenizer,
                     save_adapter_config, unfinished_model)
from .split import evaluation_rows, load_split
from .tokenization import tokenize


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Accuracy and F1 from the model's logits: the predicted class is their argmax (notebook 04 writes its own)."""
    predicted = np.argmax(prediction.predictions, axis=-1)
    return scores(prediction.label_ids, predicted, prediction.predictions.shape[-1])


# The pip package of a tracker whose name is not its package's (any other: its own name).
PIP_NAMES = {"azure_ml": "azureml-core", "comet_ml": "comet-ml", "flyte": "flytekit", "kubeflow": "kfp"}


def trackers(settings: Settings) -> list[str]:
    """The trackers `settings.report_to` names (none: []), each known to transformers and installed (notebook 04)."""
    names = [name.strip() for name in settings.report_to.split(",") if name.strip() not in ("", "none")]
    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            raise UserError(f"setting report_to={name!r} is not a tracker transformers knows; use none or one of "
                            f"{', '.join(sorted(INTEGRATION_TO_CALLBACK))}")
        if name not in get_available_reporting_integrations():
            raise UserError(f"setting report_to={name!r} needs {name}, which is not installed; "
                            f"pip install {PIP_NAMES.get(name, name)}, or set {how_to_set('report_to', 'none')}")
    return names


# For runs that only train or only predict: no evaluation, no checkpoints.
NO_EVALUATION = dict(eval_strategy="no", save_strategy="no", load_best_model_at_end=False)
# Each setting that is a `TrainingArguments` field, and that field (notebook 04 writes them out, and checks it agrees)
TRAINING_ARGUMENTS = tagged("argument")


def training_arguments(settings: Settings, **changes) -> TrainingArguments:
    """The `TrainingArguments` notebook 04 writes out: the tutorial's, plus evaluation each epoch, keeping the best."""
    values = dict(eval_strategy="epoch", save_strategy="epoch", save_total_limit=2, load_best_model_at_end=True,
                  metric_for_best_model="accuracy", report_to=trackers(settings) or "none",
                  train_sampling_strategy="group_by_length" if settings.group_by_length else "random",
                  # each process's loss is a mean over its rows, and DDP averages the gradients; True would also
                  # multiply the evaluation loss by the number of processes (transformers issue #35078)
                  average_tokens_across_devices=False)
    values |= {argument: getattr(settings, name) for name, argument in TRAINING_ARGUMENTS.items()}
    values |= hardware.training_flags(settings)  # device, pinned memory, bf16/fp16 autocast
    return TrainingArguments(**values | distributed_flags() | changes)


def distributed_flags() -> dict:
    """Under torchrun, `ddp_find_unused_parameters=False`: every weight of a classifier gets a gradient, so DDP need
    not search for unused ones (and warn each step that it found none); one process: nothing (notebook 04's)."""
    return {"ddp_find_unused_parameters": False} if int(os.environ.get("WORLD_SIZE", "1")) > 1 else {}


def class_weights(labels: Sequence[int], num_labels: int) -> torch.Tensor:
    """sklearn's "balanced" weights, rows / (classes * rows of the class): a rare class weighs more (absent: 1)."""
    labels = np.asarray(labels)
    present = np.unique(labels)
    weights = np.ones(num_labels)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels)
    if len(present) < num_labels:
        absent = sorted(set(range(num_labels)) - set(present.tolist()))
        warn(f"classes {absent} have no train rows; their loss weight is 1 (stratify the split to avoid this)")
    return torch.tensor(weights, dtype=torch.float32)


def weighted_cross_entropy(outputs, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None, *,
                           weights: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy with each row weighted by its class: summed, then divided by the rows of the whole batch.

    The `Trainer` (its `compute_loss_func`) passes `num_items_in_batch`, the rows of all accumulated batches: one
    large batch's loss; with equal weights, the model's own (mean) cross-entropy, or the label-smoothed one.
    """
    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    per_row = torch.nn.functional.cross_entropy(logits.float(), labels, weight=weights.to(logits.device),
                                                reduction="none", label_smoothing=label_smoothing)
    return per_row.sum() / (num_items_in_batch if num_items_in_batch is not None else labels.ne(-100).sum())


def build_trainer(settings: Settings, model: PreTrainedModel | None, tokenizer: PreTrainedTokenizerBase, train_dataset,
                  eval_dataset, announce: bool = True, **options) -> Trainer:
    """A `Trainer` that pads per batch and reports accuracy and F1 at each evaluation; with `settings.class_weights`
    its loss weighs each class by its inverse frequency in `train_dataset`. `announce`: say the device and precision
    as training starts. `options` go to the `Trainer`, e.g. `model_init` (a fresh model per `train()`) and no model.
    """
    loss = None  # the model's own
    if settings.class_weights:  # the classes the model predicts: asked of a fresh one where there is no model
        classes = (model if model is not None else options["model_init"]()).config.num_labels
        loss = functools.partial(weighted_cross_entropy, weights=class_weights(train_dataset.labels, classes),
                                 label_smoothing=settings.label_smoothing)
    trainer = Trainer(model=model, args=training_arguments(settings), train_dataset=train_dataset,
                      eval_dataset=eval_dataset, data_collator=DataCollatorWithPadding(tokenizer),
                      processing_class=tokenizer, compute_metrics=compute_metrics, compute_loss_func=loss, **options)
    if announce:
        trainer.add_callback(Announce(settings))  # which device and precision train, as training starts
    if ProgressCallback in {type(callback) for callback in trainer.callback_handler.callbacks}:  # a terminal's bar
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(EpochLines())
    return trainer


class EpochLines(ProgressCallback):
    """The terminal's progress bar with the latest training loss on it, and a line per evaluation, not one per log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Show a training loss on the bar; write an evaluation, or the run's summary, as one line below it."""
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        if "loss" in logs:
            self.training_bar.set_postfix(loss=f"{logs['loss']:.4g}", refresh=False)
        elif "eval_accuracy" in logs:
            self.training_bar.write(f"epoch {logs.get('epoch', 0):g}: validation accuracy {logs['eval_accuracy']:.4f}, "
                                    f"F1 {logs.get('eval_f1', 0):.4f}, loss {logs.get('eval_loss', 0):.4f}")
        elif "train_runtime" in logs:
            self.training_bar.write(f"trained in {logs['train_runtime']:.1f} s "
                                    f"({logs.get('train_samples_per_second', 0):.1f} rows/s), "
                                    f"mean training loss {logs.get('train_loss', 0):.4f}")


@dataclasses.dataclass(eq=False)
class Announce(TrainerCallback):
    """Prints `hardware.describe(settings)` once as training starts, on process 0 only (notebook 04)."""

    settings: Settings

    def on_train_begin(self, args, state, control, **kwargs):
        """Say the device and precision (and the processes, under torchrun)."""
        if state.is_world_process_zero:
            processes = f", {args.world_size} processes" if args.world_size > 1 else ""
            print(hardware.describe(self.settings) + processes, flush=True)


def checkpoints(settings: Settings) -> list[Path]:
    """The complete checkpoints in the output folder, oldest first: their weights whole, and their trainer_state.json
    (which the Trainer writes last) whole JSON, not just begun."""
    complete = []
    for folder in run_folder(settings).checkpoint_folders():
        with contextlib.suppress(OSError, ValueError):
            json.loads((folder / "trainer_state.json").read_text())
            if has_weights(folder):
                complete.append(folder)
    return complete


def prepare_output(settings: Settings) -> str | None:
    """Make the output folder ready for a run; the checkpoint to resume from, if the settings ask to resume. A trained
    model or an unfinished run already there is an error, unless `overwrite` (start again) or `resume` (continue)."""
    layout = run_folder(settings)
    out = layout.make()
    started, complete = layout.checkpoint_folders(), checkpoints(settings)
    leftovers = [layout.partial, layout.replaced]  # from a save cut short
    if settings.resume:
        if not complete:
            raise UserError(f"nothing to resume in {out}: no complete checkpoint; run again without "
                            f"{how_to_set('resume', True)}")
        for partial in [*set(started) - set(complete), *leftovers]:  # cut short while being written
            shutil.rmtree(partial, ignore_errors=True)
        return str(complete[-1])
    folder = layout.model
    if settings.overwrite:
        for old in [*started, folder, *leftovers]:
            shutil.rmtree(old, ignore_errors=True)
    elif is_trained(folder):
        raise UserError(f"{folder} already holds a trained model; pass {how_to_set('overwrite', True)} to replace it, "
                        f"or choose another {how_to_set('output_dir')}")
    elif folder.exists():
        raise UserError(unfinished_model(folder))
    elif started:
        raise UserError(f"{out} holds the checkpoints of an unfinished run; pass {how_to_set('resume', True)} to "
                        f"continue it, or {how_to_set('overwrite', True)} to start again")
    return None


def save(trainer: Trainer, settings: Settings, run_report: Report | None = None) -> Path:
    """Save the (best) model, its tokenizer, the training log and the model card of `run_report` (given one) into
    the run folder's `model/`: written beside it, renamed into place once complete, so that a save cut short (a full
    disk, a killed kernel) never leaves a `model/` that looks trained. The card is rendered from the report."""
    layout = run_folder(settings)
    folder, partial = layout.model, layout.partial
    first = trainer.is_world_process_zero()
    if first:
        shutil.rmtree(partial, ignore_errors=True)
    trainer.save_model(str(partial))  # safetensors weights, config with id2label, tokenizer files; process 0 only
    if first:
        if is_adapter(partial):  # a LoRA run: peft saved the adapter and head; the labels need the config too
            save_adapter_config(trainer.model, partial)
        (partial / LOG_HISTORY).write_text(json.dumps(trainer.state.log_history, indent=1))
        if run_report is not None:
            write_card(partial, run_report)  # README.md: the model card, test metrics still to come
        swap_in(partial, folder)
    return folder


def loss_curves(log_history: list[dict]) -> pd.DataFrame:
    """Training and evaluation loss by epoch, from a `Trainer`'s log history."""
    rows = [{"epoch": entry["epoch"], "split": split, "loss": entry[key]} for entry in log_history
            for split, key in (("train", "loss"), ("eval", "eval_loss")) if key in entry]
    return pd.DataFrame(rows, columns=["epoch", "split", "loss"])


def check_learned(trainer: Trainer) -> bool:
    """Warn loudly unless the kept model's evaluation accuracy beats always answering the commonest class by more
    than two standard errors of that baseline on the evaluation rows (notebook 04)."""
    accuracy, rows = trainer.state.best_metric, trainer.eval_dataset.labels
    majority = majority_accuracy(trainer.train_dataset.labels, rows)
    if accuracy is None or accuracy > majority + 2 * math.sqrt(majority * (1 - majority) / len(rows)):
        return True
    device = trainer.args.device.type
    wrong = f", or the {device} device computing wrongly (try {how_to_set('precision', 'fp32')}, or the CPU)"
    warn(f"!!! the model did not learn: evaluation accuracy {accuracy:.3f} is no better than always answering the "
         f"commonest class ({majority:.3f} on {len(rows):,} rows). Usual causes: a learning rate too high or too low "
         f"({how_to_set('learning_rate')}), labels shuffled or in the wrong column ({how_to_set('label_column')}), "
         f"too few rows or epochs{wrong if device != 'cpu' else ''} !!!")
    return False


# transformers' notes a learner need not read during a run: the table of weights loaded and new (`train` says it in
# one line), the checkpoints' mtime; and transformers.modeling_utils checks a tensor-parallel plan when its own logger
# is quiet, whose logger then names every weight of a model that has a plan (DistilBERT's) as "not sharded"
QUIET = ("transformers.modeling_utils", "transformers.trainer_utils", "transformers.distributed.tensor_parallel")


def run(settings: Settings, announce: bool = True) -> tuple[Trainer, dict[str, pd.DataFrame | None], Report | None]:
    """`train`, handing back the split's parts and the run's report (process 0's) too: `python -m helpers train`
    measures the test rows with them and writes them into the card, without reading the data or fitting the
    baselines again. The caller holds the output folder (`run_lock`)."""
    trackers(settings)  # a tracker that is not installed stops here, before anything is written
    hardware.reuse_memory(settings.reuse_memory)  # the allocator, for the whole process: set once, as training starts
    data = read_data(settings)  # read once: the labels checked here, then split
    # and so does a model that cannot be loaded, classify, or learn the data's labels, and its tokenizer
    check_classifier(settings.model, data.label_names)
    tokenizer = load_tokenizer(settings)
    resume_from = prepare_output(settings)  # before anything slow: a finished model is not overwritten by mistake
    parts = load_split(settings, data)
    names = data.label_names
    first = int(os.environ.get("RANK", "0")) == 0
    with hardware.quiet_transformers(*QUIET):
        model = load_model(settings, names, tokenizer)
        if first and announce:
            print(f"model: {settings.model}, with a classification head for {len(names)} classes "
                  f"({', '.join(names)}) to fine-tune", flush=True)
        trainer = build_trainer(settings, model, tokenizer, tokenize(parts["train"], tokenizer, settings),
                                tokenize(evaluation_rows(parts), tokenizer, settings), announce=announce)
        trainer.train(resume_from_checkpoint=resume_from)
        # the card's facts, once: process 0 writes the card, and a baseline that cannot be fitted never stops the save
        run_report = report(settings, parts, trainer.state.log_history) if trainer.is_world_process_zero() else None
        save(trainer, settings, run_report)
    if trainer.is_world_process_zero():  # under torchrun: one warning, not one per process
        if not settings.keep_checkpoints:  # the model is saved: a resume needs them no more
            for folder in run_folder(settings).checkpoint_folders():
                shutil.rmtree(folder, ignore_errors=True)
        check_learned(trainer)
    return trainer, parts, run_report


def train(settings: Settings, announce: bool = True) -> Trainer:
    """The whole of notebook 04 in one call: split, tokenize, fine-tune, save with the model card; returns the trainer.
    `announce`: say the model, device and precision as training starts (off for a sweep's trials, notebook 06)."""
    with run_lock(settings):
        return run(settings, announce)[0]


def ensure_trained(settings: Settings) -> Path:
    """The saved model's folder, training it first if it is not there yet."""
    folder = run_folder(settings).model
    if not is_trained(folder):
        train(settings)
    return folder
