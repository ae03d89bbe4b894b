"""The checks of notebook 04 (fine-tune)."""

from __future__ import annotations

import math

import numpy as np

from .core import _number, _settings, exercise, NotYet
from .nb03 import _parts, _tokenizer, _train_rows


def _fresh_model(settings):
    """The seeded model of notebook 04 and the label names, loaded quietly (notebook 04 showed its load report)."""
    from transformers.utils import logging

    from .. import data, models

    names = data.label_names(settings)
    verbosity, bar = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        return models.load_model(settings, names), names
    finally:
        logging.set_verbosity(verbosity)
        if bar:
            logging.enable_progress_bar()


def _tensor(batch, key: str, name: str):
    """`batch[key]` as a tensor, or a `NotYet` saying what `name` should be."""
    import torch

    if not hasattr(batch, "keys") or key not in batch or not isinstance(batch[key], torch.Tensor):
        raise NotYet(f"{name} should be a batch, the dict of tensors DataCollatorWithPadding returns, with {key!r}",
                     "collate a list of items with DataCollatorWithPadding(tokenizer)(items)")
    return batch[key]


LOSS_BEFORE = '''set_seed(settings.seed)
fresh = AutoModelForSequenceClassification.from_pretrained(
    settings.model, num_labels=len(names), id2label=dict(enumerate(names)),
    label2id={name: i for i, name in enumerate(names)}, attn_implementation=hardware.attention(settings.attention))
fresh.config.pad_token_id = tokenizer.pad_token_id
batch = DataCollatorWithPadding(tokenizer)([train_data[i] for i in range(32)])
shuffled = {**batch, "labels": batch["labels"][torch.randperm(32)]}
with torch.no_grad():
    true_loss = fresh(**batch).loss.item()
    shuffled_loss = fresh(**shuffled).loss.item()
print(f"true labels {true_loss:.3f}, shuffled {shuffled_loss:.3f}, ln(2) {np.log(2):.3f}")'''


@exercise("04.1", "`batch` and `shuffled`, the first 32 train items collated, with true and shuffled labels, "
                  "and `true_loss` and `shuffled_loss`, a fresh model's loss on each",
          hint="a fresh model is loaded as in the notebook, after set_seed(settings.seed); DataCollatorWithPadding "
               "collates the first 32 train items; torch.randperm reorders the labels of a copy of the batch; "
               "model(**batch).loss.item() under torch.no_grad() reads each loss",
          solution=LOSS_BEFORE)
def check_loss_before(batch, shuffled, true_loss, shuffled_loss) -> str:
    """Notebook 04, exercise 1: the loss of the first 32 train rows through a fresh model, true and shuffled labels."""
    import torch
    from transformers import DataCollatorWithPadding

    from .. import tokenization

    settings = _settings()
    tokenizer = _tokenizer(settings)
    data = tokenization.tokenize(_train_rows(settings).iloc[:32], tokenizer, settings)
    expected_batch = DataCollatorWithPadding(tokenizer)([data[i] for i in range(len(data))])
    ids, labels = _tensor(batch, "input_ids", "batch"), _tensor(batch, "labels", "batch")
    if ids.shape != expected_batch["input_ids"].shape or not torch.equal(ids, expected_batch["input_ids"]):
        raise NotYet(f"batch holds input_ids of shape {tuple(ids.shape)}, not the first 32 train items collated",
                     "collate [train_data[i] for i in range(32)] with DataCollatorWithPadding")
    if not torch.equal(labels, expected_batch["labels"]):
        raise NotYet("batch's labels are not the first 32 train labels", "keep the batch as the collator made it")
    mixed = _tensor(shuffled, "labels", "shuffled")
    if not torch.equal(_tensor(shuffled, "input_ids", "shuffled"), ids):
        raise NotYet("shuffled holds other headlines than batch", "shuffle only the labels; keep the batch's inputs")
    if sorted(mixed.tolist()) != sorted(labels.tolist()):
        raise NotYet("shuffled's labels are not the batch's labels in another order",
                     "reorder the batch's own labels with torch.randperm(32), do not draw new ones")
    if torch.equal(mixed, labels):
        raise NotYet("shuffled's labels are the true labels in the same order", "reorder them with torch.randperm")
    model, names = _fresh_model(settings)
    with torch.no_grad():
        expected = model(**expected_batch).loss.item()
        expected_shuffled = model(**{**expected_batch, "labels": mixed}).loss.item()
    true_value, shuffled_value = _number(true_loss, "true_loss"), _number(shuffled_loss, "shuffled_loss")
    if abs(true_value - expected) > 1e-4:
        raise NotYet(f"true_loss is {true_value:.4f}: not a fresh model's loss on batch",
                     "load the model anew after set_seed(settings.seed) (the notebook's model has trained), and "
                     "read model(**batch).loss under torch.no_grad()")
    if abs(shuffled_value - true_value) < 1e-9:
        raise NotYet("shuffled_loss equals true_loss", "run the model again on shuffled, the batch with its labels "
                     "reordered")
    if abs(shuffled_value - expected_shuffled) > 1e-4:
        raise NotYet(f"shuffled_loss is {shuffled_value:.4f}: not the fresh model's loss on shuffled",
                     "run the same fresh model on shuffled and read .loss.item()")
    chance = math.log(len(names))
    return f"{true_value:.3f} and {shuffled_value:.3f}, both near ln({len(names)}) = {chance:.3f}"


METRICS = '''def compute_metrics(eval_pred):
    logits, labels = eval_pred
    predictions = np.argmax(logits, axis=-1)
    average = "binary" if logits.shape[-1] == 2 else "macro"
    return {
        "accuracy": accuracy_score(labels, predictions),
        "f1": f1_score(labels, predictions, average=average),
        "precision": precision_score(labels, predictions, average=average, zero_division=0),
        "recall": recall_score(labels, predictions, average=average, zero_division=0),
    }'''


@exercise("04.2", "`compute_metrics`, a function of eval_pred returning accuracy, f1, precision and recall",
          hint="precision_score and recall_score from sklearn.metrics, called like accuracy_score: the true labels "
               "first, the predicted classes (the argmax of the logits) second",
          solution=METRICS)
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
    values = {name: _number(result[name], name) for name in expected}
    if (abs(values["precision"] - expected["recall"]) < 1e-9 and abs(values["recall"] - expected["precision"]) < 1e-9
            and abs(expected["precision"] - expected["recall"]) > 1e-9):
        raise NotYet("precision and recall come out swapped", "sklearn's scores take the true labels first, the "
                     "predictions second")
    macro = {"f1": f1_score(labels, predicted, average="macro"),
             "precision": precision_score(labels, predicted, average="macro"),
             "recall": recall_score(labels, predicted, average="macro")}
    if any(abs(values[name] - macro[name]) < 1e-9 and abs(macro[name] - expected[name]) > 1e-9 for name in macro):
        raise NotYet("a score is averaged over both classes", "for two classes, score the sarcastic class: the "
                     "default average='binary'")
    for name, value in expected.items():
        if abs(values[name] - value) > 1e-9:
            raise NotYet(f"{name} is {values[name]:.4f} on 40 made-up rows, not what sklearn computes there",
                         f"{name} from sklearn.metrics with the true labels first and predictions = the argmax of "
                         "the logits (axis=-1) second")
    return "accuracy, f1, precision and recall as sklearn computes them; a Trainer reports eval_precision, ..."


HEAD = '''head = model.num_parameters() - model.base_model.num_parameters()
total = model.num_parameters()
print("the head:", [name for name, _ in model.named_parameters() if not name.startswith(model.base_model_prefix)])
print(f"head {head:,} of {total:,} parameters: {100 * head / total:.2g} % start random")'''


@exercise("04.3", "`model`, the classification model, and `head`, its number of parameters outside the pretrained body",
          hint="num_parameters() counts the parameters of a model or of any part of it; the pretrained body is "
               "model.base_model, and the head is everything the body lacks",
          solution=HEAD)
def check_head(model, head) -> str:
    """Notebook 04, exercise 3: the number of head parameters (outside `model.base_model`)."""
    from transformers import PreTrainedModel

    if not isinstance(model, PreTrainedModel) or model.base_model is model:
        raise NotYet(f"model should be the classification model of the notebook, not {type(model).__name__}",
                     "pass the model AutoModelForSequenceClassification.from_pretrained gave")
    total = model.num_parameters()
    expected = total - model.base_model.num_parameters()
    value = _number(head, "head")
    if value == total:
        raise NotYet(f"{value:,.0f} is the whole model", "leave out the body's parameters (model.base_model)")
    if 0 < value < 1:
        raise NotYet(f"{value} is a share", "give the number of parameters; the share comes after")
    last = [module for module in model.modules() if hasattr(module, "weight") and module.weight is not None][-1]
    if value == sum(p.numel() for p in last.parameters()) and value != expected:
        raise NotYet(f"{value:,.0f} counts the last layer only", "the head may hold more than one layer: count "
                     "everything outside model.base_model")
    if value != expected:
        raise NotYet(f"head is {value:,.0f}, not the parameters outside this model's body",
                     "count the whole model and its body (model.base_model) with num_parameters(), and subtract")
    return f"{expected:,} of {total:,} parameters ({100 * expected / total:.2g} %) start random"


HIGH_LEARNING_RATE = '''high_settings = helpers.get_settings(learning_rate=30 * settings.learning_rate,
                                     output_dir=f"{settings.output_dir}-high-lr", overwrite=True)
finetune.prepare_output(high_settings)  # clears what an earlier run left in that folder
high_args = finetune.training_arguments(high_settings)  # notebook 04's TrainingArguments, the learning rate changed
print("learning rate", high_args.learning_rate)
set_seed(settings.seed)
high_model = AutoModelForSequenceClassification.from_pretrained(
    settings.model, num_labels=len(names), id2label=dict(enumerate(names)),
    label2id={name: i for i, name in enumerate(names)}, attn_implementation=hardware.attention(settings.attention))
high_model.config.pad_token_id = tokenizer.pad_token_id
high = Trainer(model=high_model, args=high_args, train_dataset=train_data, eval_dataset=eval_data,
               data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
               compute_metrics=finetune.compute_metrics)
high.train();'''

RECIPE = ("num_train_epochs", "max_steps", "per_device_train_batch_size", "warmup_steps", "weight_decay",
          "lr_scheduler_type", "eval_strategy", "save_strategy", "load_best_model_at_end", "metric_for_best_model",
          "seed")  # the TrainingArguments 04.4 keeps from notebook 04


@exercise("04.4", "`high`, your Trainer with 30 times the learning rate, after high.train()",
          hint="a new Trainer as in the notebook: a model loaded anew, TrainingArguments the same but for "
               "learning_rate (30 times settings.learning_rate) and output_dir (a folder of its own); then "
               "high.train() runs the whole recipe",
          solution=HIGH_LEARNING_RATE)
def check_high_learning_rate(high) -> str:
    """Notebook 04, exercise 4: a `Trainer` trained with 30 times the profile's learning rate, as notebook 04 trains."""
    from transformers import Trainer

    from .. import baselines, finetune, reach

    settings = _settings()
    if not isinstance(high, Trainer):
        raise NotYet(f"high should be a Trainer, not {type(high).__name__}",
                     "high = Trainer(model=..., args=..., ...) as in notebook 04, then high.train()")
    wanted = 30 * settings.learning_rate
    if not math.isclose(high.args.learning_rate, wanted, rel_tol=1e-6):
        raise NotYet(f"its learning rate is {high.args.learning_rate:g}, not 30 x {settings.learning_rate:g}",
                     "TrainingArguments(..., learning_rate=30 * settings.learning_rate, ...)")
    if high.args.output_dir == settings.output_dir:
        raise NotYet("it writes its checkpoints into the notebook's own output folder",
                     "give its TrainingArguments an output_dir of its own")
    recipe = finetune.training_arguments(reach.get_settings(settings.profile, learning_rate=wanted))
    changed = [name for name in RECIPE if getattr(high.args, name) != getattr(recipe, name)]
    if changed:
        raise NotYet(f"its {changed[0]} is {getattr(high.args, changed[0])!r}, not the notebook's",
                     "keep notebook 04's TrainingArguments; change only learning_rate and output_dir")
    parts = _parts(settings)
    evaluated = parts["validation"] if parts["validation"] is not None else parts["test"]
    if high.train_dataset is None or len(high.train_dataset) != len(parts["train"]):
        raise NotYet("its train_dataset is not the train rows", "train_dataset=train_data, as in the notebook")
    if high.eval_dataset is None or len(high.eval_dataset) != len(evaluated):
        raise NotYet("its eval_dataset is not the validation rows", "eval_dataset=eval_data, as in the notebook")
    if high.state.global_step == 0:
        raise NotYet("it has not trained yet", "call high.train()")
    batches = math.ceil(len(parts["train"]) / high.args.per_device_train_batch_size)
    steps = recipe.max_steps if recipe.max_steps > 0 else batches * math.ceil(recipe.num_train_epochs)
    if high.state.global_step != steps:
        raise NotYet(f"it trained {high.state.global_step} steps, not the recipe's whole run",
                     "train a model loaded anew with the notebook's epochs and no max_steps: high.train(), once")
    rates = [entry["learning_rate"] for entry in high.state.log_history if "learning_rate" in entry]
    if not rates or max(rates) < 10 * settings.learning_rate:
        raise NotYet("its log shows no step at the high learning rate",
                     "build the Trainer with the high learning rate before training, rather than changing it after")
    evaluations = [entry for entry in high.state.log_history if "eval_accuracy" in entry]
    if high.state.best_metric is None or len(evaluations) != math.ceil(recipe.num_train_epochs):
        raise NotYet("it did not evaluate and keep the best of every epoch",
                     "keep notebook 04's eval_strategy, save_strategy, load_best_model_at_end and "
                     "metric_for_best_model='accuracy'")
    majority = baselines.majority_accuracy(parts["train"]["label"], evaluated["label"])
    return (f"best validation accuracy {high.state.best_metric:.3f} against {majority:.3f} for the commonest class; "
            f"check_learned says {finetune.check_learned(high)}")


ARGUMENTS = '''two_epochs = TrainingArguments(
    output_dir=f"{settings.output_dir}-two-epochs",
    num_train_epochs=2,
    per_device_train_batch_size=32,
    learning_rate=2e-5,
    eval_strategy="epoch",
    save_strategy="epoch",
    load_best_model_at_end=True,
    metric_for_best_model="accuracy",
    report_to="none",
)
print(two_epochs.num_train_epochs, two_epochs.eval_strategy, two_epochs.metric_for_best_model, two_epochs.optim)'''


@exercise("04.5", "`two_epochs`, the TrainingArguments of the run described above",
          hint="TrainingArguments(output_dir=..., ...) with the transformers 5 names: num_train_epochs, "
               "per_device_train_batch_size, learning_rate, eval_strategy, save_strategy, load_best_model_at_end, "
               "metric_for_best_model, report_to",
          solution=ARGUMENTS)
def check_arguments(two_epochs) -> str:
    """Notebook 04, exercise 5: `TrainingArguments` written for a described run, read back field by field."""
    from transformers import TrainingArguments

    settings = _settings()
    if not isinstance(two_epochs, TrainingArguments):
        raise NotYet(f"two_epochs should be a TrainingArguments, not {type(two_epochs).__name__}",
                     "two_epochs = TrainingArguments(output_dir=..., ...)")
    wanted = [
        ("output_dir", two_epochs.output_dir not in (None, settings.output_dir),
         "an output_dir of its own, not the notebook's (settings.output_dir)"),
        ("max_steps", two_epochs.max_steps <= 0, "max_steps stops training early whatever the epochs: leave it out"),
        ("num_train_epochs", two_epochs.num_train_epochs == 2, "the number of passes over the train rows"),
        ("per_device_train_batch_size", two_epochs.per_device_train_batch_size == 32,
         "the train batch size is per_device_train_batch_size (per_device_eval_batch_size is evaluation's)"),
        ("learning_rate", math.isclose(two_epochs.learning_rate, 2e-5, rel_tol=1e-9), "the peak learning rate"),
        ("eval_strategy", two_epochs.eval_strategy == "epoch",
         "when to evaluate: eval_strategy (evaluation_strategy in transformers 4)"),
        ("save_strategy", two_epochs.save_strategy == "epoch", "when to save a checkpoint"),
        ("load_best_model_at_end", two_epochs.load_best_model_at_end is True,
         "to end with the best epoch's model rather than the last one"),
        ("metric_for_best_model", two_epochs.metric_for_best_model in ("accuracy", "eval_accuracy"),
         "the name of the metric that chooses the best epoch, a key of compute_metrics' dict"),
        ("greater_is_better", two_epochs.greater_is_better is True, "a higher accuracy is better"),
        ("report_to", two_epochs.report_to in ([], ["none"], "none"),
         "report_to='none' turns every experiment tracker off"),
    ]
    for name, right, hint in wanted:
        if not right:
            raise NotYet(f"its {name} is {getattr(two_epochs, name)!r}, not what the run asks for", hint)
    return (f"2 epochs, batches of 32, learning rate 2e-05, evaluated and saved each epoch, the best by accuracy "
            f"kept; the rest stays the Trainer's default (optim {two_epochs.optim}, warmup_steps "
            f"{two_epochs.warmup_steps}, weight_decay {two_epochs.weight_decay})")
