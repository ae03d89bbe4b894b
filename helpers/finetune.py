"""Fine-tune a pretrained model with `transformers.Trainer`, evaluate each epoch, save the best.

Introduced in notebook 04 (fine-tune).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score
from transformers import (
    AutoModelForSequenceClassification,
    EvalPrediction,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
    set_seed,
)

from .data import label_names
from .settings import Settings, UserError
from .split import evaluation_rows, load_split
from .tokenization import collator, from_pretrained, load_tokenizer, tokenize


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Accuracy and F1 from the model's logits: the predicted class is their argmax."""
    predicted = np.argmax(prediction.predictions, axis=-1)
    labels = prediction.label_ids
    average = "binary" if prediction.predictions.shape[-1] == 2 else "macro"
    return {"accuracy": accuracy_score(labels, predicted), "f1": f1_score(labels, predicted, average=average)}


def load_model(settings: Settings) -> PreTrainedModel:
    """The pretrained body with a fresh classification head, seeded, its labels named."""
    names = label_names(settings)
    set_seed(settings.seed)  # the new head's weights depend on it
    return from_pretrained(
        AutoModelForSequenceClassification,
        settings.model,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
    )


def cpu_has_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX), as read from /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision(settings: Settings) -> str:
    """`settings.precision`, or for "auto": bf16 on a GPU or CPU that has it, fp16 on older GPUs, else fp32."""
    if settings.precision == "fp16" and not torch.cuda.is_available():
        raise UserError("setting precision='fp16' needs a CUDA GPU; use bf16 or fp32 on a CPU")
    if settings.precision != "auto":
        return settings.precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "fp32"


# For runs that only train or only predict: no evaluation, no checkpoints.
NO_EVALUATION = dict(eval_strategy="no", save_strategy="no", load_best_model_at_end=False)


def training_arguments(settings: Settings, **changes) -> TrainingArguments:
    """The tutorial's `TrainingArguments`, plus evaluation and a checkpoint each epoch, keeping the best."""
    chosen = precision(settings)
    values = dict(
        output_dir=settings.output_dir,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.train_batch_size,
        per_device_eval_batch_size=settings.eval_batch_size,
        learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        logging_steps=settings.logging_steps,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        seed=settings.seed,
        report_to="none",
        dataloader_pin_memory=torch.cuda.is_available(),
        bf16=chosen == "bf16",  # autocast: weights stay float32, matrix products run in bfloat16
        fp16=chosen == "fp16",
        use_cpu=chosen == "bf16" and not torch.cuda.is_available(),  # bf16 on a CPU must be asked for
        train_sampling_strategy="group_by_length" if settings.group_by_length else "random",
    )
    return TrainingArguments(**values | changes)


def build_trainer(
    settings: Settings,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_dataset,
    eval_dataset,
) -> Trainer:
    """A `Trainer` that pads per batch and reports accuracy and F1 at each evaluation."""
    return Trainer(
        model=model,
        args=training_arguments(settings),
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collator(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )


def model_dir(settings: Settings) -> Path:
    """Where the fine-tuned model and its tokenizer are saved."""
    return Path(settings.output_dir) / "model"


def save(trainer: Trainer, settings: Settings) -> Path:
    """Save the (best) model, its tokenizer and the training log into `model_dir(settings)`."""
    folder = model_dir(settings)
    trainer.save_model(str(folder))  # safetensors weights, config with id2label, tokenizer files
    (folder / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1))
    return folder


def loss_curves(log_history: list[dict]) -> pd.DataFrame:
    """Training and evaluation loss by epoch, from a `Trainer`'s log history."""
    rows = [
        {"epoch": entry["epoch"], "split": split, "loss": entry[key]}
        for entry in log_history
        for split, key in (("train", "loss"), ("eval", "eval_loss"))
        if key in entry
    ]
    return pd.DataFrame(rows, columns=["epoch", "split", "loss"])


def train(settings: Settings) -> Trainer:
    """The whole of notebook 04 in one call: split, tokenize, fine-tune, save; returns the trainer."""
    parts = load_split(settings)
    tokenizer = load_tokenizer(settings)
    trainer = build_trainer(
        settings,
        load_model(settings),
        tokenizer,
        tokenize(parts["train"], tokenizer, settings),
        tokenize(evaluation_rows(parts), tokenizer, settings),
    )
    trainer.train()
    save(trainer, settings)
    return trainer


def ensure_trained(settings: Settings) -> Path:
    """The saved model's folder, training it first if it is not there yet."""
    folder = model_dir(settings)
    if not (folder / "config.json").exists():
        train(settings)
    return folder
