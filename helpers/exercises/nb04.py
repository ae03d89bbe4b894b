"""The checks of notebook 04 (fine-tune)."""

from __future__ import annotations

import math

import numpy as np

from .core import _number, _settings, exercise, NotYet
from .nb03 import _tokenizer
from .nb03 import _train_rows


def _fresh_model(settings):
    """The seeded model of notebook 04 and the label names, loaded quietly (notebook 04 showed its load report)."""
    from transformers.utils import logging

    from .. import data, models

    names = data.label_names(_train_rows(settings))
    verbosity, bar = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        return models.load_model(settings, names), names
    finally:
        logging.set_verbosity(verbosity)
        if bar:
            logging.enable_progress_bar()


@exercise("04.1", "`true_loss` and `shuffled_loss`, the losses of one batch of 32 before training")
def check_loss_before(true_loss, shuffled_loss) -> str:
    """Notebook 04, exercise 1: the loss of the first 32 train rows through a fresh model, true and shuffled labels."""
    import torch
    from transformers import DataCollatorWithPadding

    from .. import tokenization

    settings = _settings()
    tokenizer = _tokenizer(settings)
    model, names = _fresh_model(settings)
    data = tokenization.tokenize(_train_rows(settings).iloc[:32], tokenizer, settings)
    batch = DataCollatorWithPadding(tokenizer)([data[i] for i in range(len(data))])
    with torch.no_grad():
        expected = model(**batch).loss.item()
    chance = math.log(len(names))
    true_value, shuffled_value = _number(true_loss, "true_loss"), _number(shuffled_loss, "shuffled_loss")
    if abs(true_value - expected) > 1e-3:
        raise NotYet(f"true_loss is {true_value:.4f}; a fresh model gives {expected:.4f} on the first 32 train rows",
                     "load the model as notebook 04 does (set_seed first), collate the first 32 train items, and "
                     "read model(**batch).loss under torch.no_grad()")
    if abs(shuffled_value - chance) > 0.25:
        raise NotYet(f"shuffled_loss is {shuffled_value:.3f}, far from ln({len(names)}) = {chance:.3f}",
                     "shuffle batch['labels'] with torch.randperm, keep the inputs, and run the same model again")
    return f"{true_value:.3f} and {shuffled_value:.3f}, both near ln({len(names)}) = {chance:.3f}"


@exercise("04.2", "`compute_metrics`, a function of eval_pred returning accuracy, f1, precision and recall")
def check_metrics(compute_metrics) -> str:
    """Notebook 04, exercise 2: `compute_metrics` that also reports precision and recall of the sarcastic class."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
    from transformers import EvalPrediction

    if not callable(compute_metrics):
        raise NotYet(f"compute_metrics should be a function, not {type(compute_metrics).__name__}",
                     "def compute_metrics(eval_pred): ... return {'accuracy': ..., ...}")
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(40, 2)), rng.integers(0, 2, size=40)
    predicted = logits.argmax(-1)
    expected = {"accuracy": accuracy_score(labels, predicted), "f1": f1_score(labels, predicted),
                "precision": precision_score(labels, predicted), "recall": recall_score(labels, predicted)}
    result = compute_metrics(EvalPrediction(predictions=logits, label_ids=labels))
    if result is None:
        raise NotYet("compute_metrics returns nothing yet", "end it with return {'accuracy': ..., 'f1': ..., "
                     "'precision': ..., 'recall': ...}")
    if not isinstance(result, dict):
        raise NotYet(f"compute_metrics returned {type(result).__name__}, not a dict", "return {'accuracy': ..., ...}")
    missing = [name for name in expected if name not in result]
    if missing:
        raise NotYet(f"the dict has no {missing[0]!r} (keys: {', '.join(map(str, result))})",
                     "add precision_score and recall_score from sklearn.metrics, keys 'precision' and 'recall'"
                     if missing[0] in ("precision", "recall") else "keep notebook 04's 'accuracy' and 'f1'")
    for name, value in expected.items():
        if abs(_number(result[name], name) - value) > 1e-9:
            raise NotYet(f"{name} is {float(result[name]):.4f} on 40 test rows, not {value:.4f}",
                         f"{name}_score(labels, predictions) with predictions = np.argmax(logits, axis=-1), labels "
                         "first (for two classes, the default average='binary': of the sarcastic class)")
    return "accuracy, f1, precision and recall as sklearn computes them; a Trainer reports eval_precision, ..."


@exercise("04.3", "`head`, the number of parameters outside the pretrained body")
def check_head(head) -> str:
    """Notebook 04, exercise 3: the number of head parameters (outside `model.base_model`)."""
    model, _ = _fresh_model(_settings())
    total = model.num_parameters()
    expected = total - model.base_model.num_parameters()
    value = _number(head, "head")
    if value == total:
        raise NotYet(f"{value:,.0f} is the whole model", "subtract model.base_model.num_parameters()")
    if 0 < value < 1:
        raise NotYet(f"{value} is a share", "give the number of parameters; the share comes after")
    if value != expected:
        raise NotYet(f"head is {value:,.0f}, not {expected:,}",
                     "model.num_parameters() - model.base_model.num_parameters(): every weight outside the body")
    return f"{expected:,} of {total:,} parameters ({100 * expected / total:.2g} %) start random"


@exercise("04.4", "`high`, your Trainer with 30 times the learning rate, after high.train()")
def check_high_learning_rate(high) -> str:
    """Notebook 04, exercise 4: a `Trainer` trained with 30 times the profile's learning rate, as notebook 04 trains."""
    from transformers import Trainer

    from .. import baselines, finetune

    settings = _settings()
    if not isinstance(high, Trainer):
        raise NotYet(f"high should be a Trainer, not {type(high).__name__}",
                     "high = Trainer(model=..., args=..., ...) as in notebook 04, then high.train()")
    wanted = 30 * settings.learning_rate
    if not math.isclose(high.args.learning_rate, wanted, rel_tol=1e-6):
        raise NotYet(f"its learning rate is {high.args.learning_rate:g}, not 30 x {settings.learning_rate:g}",
                     f"TrainingArguments(..., learning_rate={wanted:g}, ...), with an output_dir of its own")
    if high.state.global_step == 0:
        raise NotYet("it has not trained yet", "call high.train()")
    if high.state.best_metric is None:
        raise NotYet("it kept no best epoch, so check_learned has nothing to judge",
                     "keep notebook 04's eval_strategy, save_strategy, load_best_model_at_end and "
                     "metric_for_best_model='accuracy'")
    majority = baselines.majority_accuracy(high.train_dataset.labels, high.eval_dataset.labels)
    return (f"best validation accuracy {high.state.best_metric:.3f} against {majority:.3f} for the commonest class; "
            f"check_learned says {finetune.check_learned(high)}")
