"""The checks of notebook 07 (your own data)."""

from __future__ import annotations

import numpy as np

from .core import _close, _number, exercise, NotYet

SOLUTION_1 = '''\
def trained(weighted: bool):
    """A Trainer trained on notebook 07's settings, with or without class weights, in a folder of its own."""
    run = dataclasses.replace(settings, class_weights=weighted, output_dir=f"{settings.output_dir}/weights-{weighted}")
    return finetune.train(run)


def macro_f1(trainer) -> float:
    """Macro F1 of `trainer`'s model on the test rows."""
    tokenizer = trainer.processing_class
    logits = predict.predict(trainer.model, tokenizer, tokenization.tokenize(test, tokenizer, settings),
                             settings).predictions
    return f1_score(test["label"], np.argmax(logits, axis=-1), average="macro")


trainer_off, trainer_on = trained(False), trained(True)
f1_off, f1_on = macro_f1(trainer_off), macro_f1(trainer_on)
assert exercises.check("07.1", trainer_off, trainer_on, f1_off, f1_on, settings)'''

SOLUTION_2 = '''\
unstratified = split.load_split(dataclasses.replace(settings, stratify=False,
                                                    output_dir=f"{settings.output_dir}/unstratified"))
count = (unstratified["validation"]["label"] == names.index("entertainment")).sum()
assert exercises.check("07.2", count, unstratified, settings)'''

SOLUTION_3 = '''\
answers = classify(my_headlines, top_k=None)
assert exercises.check("07.3", answers, classify, my_headlines)'''

SOLUTION_4 = '''\
class WeightedTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        per_row = torch.nn.functional.cross_entropy(outputs.logits.float(), labels,
                                                    weight=weights.to(outputs.logits.device), reduction="none")
        loss = per_row.sum() / (len(labels) if num_items_in_batch is None else num_items_in_batch)
        return (loss, outputs) if return_outputs else loss


weighted_trainer = WeightedTrainer(model=trainer.model, args=trainer.args, train_dataset=trainer.train_dataset,
                                   eval_dataset=trainer.eval_dataset, data_collator=trainer.data_collator,
                                   processing_class=tokenizer)  # the notebook's Trainer, with this loss
assert exercises.check("07.4", weighted_trainer, weights)'''


def _logits(outputs):
    """The logits of a model's outputs (a ModelOutput, a dict or a tuple)."""
    if isinstance(outputs, dict):
        return outputs["logits"]
    return outputs.logits if hasattr(outputs, "logits") else outputs[0]


def _weighs_classes(trainer) -> bool:
    """True when `trainer`'s loss weighs rows by class: its `compute_loss_func` differs from plain cross-entropy on a
    batch of one class against another."""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    loss_function = getattr(trainer, "compute_loss_func", None)
    if loss_function is None:
        return False
    classes = trainer.model.config.num_labels
    logits = torch.linspace(-1, 1, 6 * classes).reshape(6, classes)
    for label in range(classes):  # a batch of one class: a weighted loss scales that class's cross-entropy
        labels = torch.full((6,), label)
        plain = torch.nn.functional.cross_entropy(logits, labels)
        if not torch.isclose(loss_function(SequenceClassifierOutput(logits=logits), labels), plain, atol=1e-6):
            return True
    return False


def _test_rows(settings):
    """The notebook's test rows (what `split.load_split(settings)["test"]` holds), computed without writing a file."""
    from ..data import load_data
    from ..split import split_data

    return split_data(load_data(settings), settings)[1]


@exercise("07.1", "`trainer_off` and `trainer_on` (class_weights=False and True) and their macro F1, `f1_off` and "
                  "`f1_on`",
          hint="train twice with finetune.train on a dataclasses.replace of the settings (only class_weights and "
               "output_dir differ); predict the test rows with each trainer's model, take the argmax of the logits, "
               "and score it with sklearn's f1_score and average='macro'",
          solution=SOLUTION_1)
def check_class_weights(trainer_off, trainer_on, f1_off, f1_on, settings) -> str:
    """Notebook 07, exercise 1: macro F1 on the test rows of a model trained without and one trained with class weights."""
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import Trainer

    from ..predict import predict
    from ..tokenization import tokenize

    for name, trainer in (("trainer_off", trainer_off), ("trainer_on", trainer_on)):
        if not isinstance(trainer, Trainer):
            raise NotYet(f"{name} should be a Trainer (what finetune.train returns), not {type(trainer).__name__}",
                         "keep what finetune.train(...) returns: the trained Trainer, not its predictions")
        if trainer.state.global_step == 0:
            raise NotYet(f"{name} has not trained a step", "finetune.train trains and returns the Trainer")
    if trainer_off is trainer_on:
        raise NotYet("trainer_off and trainer_on are the same Trainer", "train twice: class_weights=False, then True")
    if _weighs_classes(trainer_off):
        raise NotYet("trainer_off weighs its loss by class", "class_weights=False for trainer_off")
    if not _weighs_classes(trainer_on):
        raise NotYet("trainer_on's loss does not weigh the classes", "class_weights=True for trainer_on")
    for setting in ("seed", "num_train_epochs", "max_steps", "learning_rate"):
        off, on = getattr(trainer_off.args, setting), getattr(trainer_on.args, setting)
        if off != on:
            raise NotYet(f"the two runs differ in {setting} ({off} and {on}), not only in the class weights",
                         "one dataclasses.replace of the same settings for each run: only class_weights and "
                         "output_dir change")
    test = _test_rows(settings)
    labels = test["label"].to_numpy()
    predicted = {}
    for name, trainer in (("off", trainer_off), ("on", trainer_on)):
        tokenizer = trainer.processing_class
        logits = predict(trainer.model, tokenizer, tokenize(test, tokenizer, settings), settings).predictions
        predicted[name] = np.argmax(logits, axis=-1)
    macro = {name: f1_score(labels, values, average="macro") for name, values in predicted.items()}
    for name, other, score in (("off", "on", f1_off), ("on", "off", f1_on)):
        score = _number(score, f"f1_{name}")
        if _close(score, macro[name], 1e-6):
            continue
        near = {"1: the labels compared with themselves": 1.0,
                "the accuracy (micro F1)": accuracy_score(labels, predicted[name]),
                "the weighted F1": f1_score(labels, predicted[name], average="weighted"),
                f"the other run's (trainer_{other}'s) macro F1": macro[other]}
        what = next((said for said, value in near.items() if _close(score, value, 1e-6)), "")
        raise NotYet(f"f1_{name} is {score:.4f}{', ' + what if what else ''}: not the macro F1 of trainer_{name}'s "
                     "predictions on the test rows",
                     "predict the test rows with that trainer's model, np.argmax over the classes, then "
                     "f1_score(true labels, predictions, average='macro'): each class counts the same")
    rarest = int(np.bincount(labels).argmin())
    recall = {name: float((values[labels == rarest] == rarest).mean()) for name, values in predicted.items()}
    return (f"macro F1 {macro['off']:.3f} without class weights, {macro['on']:.3f} with them; the rarest topic's "
            f"recall {recall['off']:.2f} and {recall['on']:.2f}")


@exercise("07.2", "`unstratified`, the split made with stratify=False, and `count`, the entertainment rows among its "
                  "validation rows",
          hint="split.load_split on a dataclasses.replace of the settings with stratify=False (and an output_dir of "
               "its own), then count the validation rows whose label is names.index('entertainment')",
          solution=SOLUTION_2)
def check_unstratified(count, unstratified, settings) -> str:
    """Notebook 07, exercise 2: the entertainment headlines among the validation rows of an unstratified split."""
    import dataclasses

    from ..data import label_names, load_data
    from ..split import split_data, split_validation

    def parts(stratify: bool) -> dict:
        chosen = dataclasses.replace(settings, stratify=stratify)
        rows = load_data(chosen)
        train, test = split_data(rows, chosen)
        train, validation = split_validation(train, chosen)  # the split load_split makes, without saving it
        return {"train": train, "validation": validation, "test": test,
                "label": label_names(chosen).index("entertainment")}

    expected, stratified = parts(False), parts(True)
    given = unstratified.get("validation") if isinstance(unstratified, dict) else None
    if given is None or not hasattr(given, "index"):
        raise NotYet("unstratified should be the split itself: a dict of train, validation and test rows",
                     "keep what split.load_split returns")
    if set(given.index) == set(stratified["validation"].index) != set(expected["validation"].index):
        raise NotYet("unstratified['validation'] holds the stratified split's validation rows",
                     "stratify=False in the settings of the split")
    if set(given.index) != set(expected["validation"].index):
        raise NotYet("unstratified['validation'] is not the validation rows of the unstratified split",
                     "change only stratify (and output_dir) in a dataclasses.replace of the notebook's settings")
    label, count = expected["label"], _number(count, "count")
    counted = {part: int((expected[part]["label"] == label).sum()) for part in ("validation", "train", "test")}
    if count == counted["validation"]:
        stratified_count = int((stratified["validation"]["label"] == label).sum())
        return (f"{counted['validation']} entertainment headlines among the {len(given)} unstratified validation "
                f"rows ({stratified_count} with stratify=True)")
    if count in (counted["train"], counted["test"]):
        raise NotYet(f"count is {count:g}, the entertainment rows of another part of the split",
                     "count in the 'validation' part of the split")
    raise NotYet(f"count is {count:g}: not the entertainment rows among the unstratified validation rows",
                 "compare the validation rows' label (an id) with names.index('entertainment'), then sum")


@exercise("07.3", "`answers`, the pipeline's answers with every topic's score",
          hint="a text-classification pipeline returns every class's score when called with top_k=None",
          solution=SOLUTION_3)
def check_top_k(answers, classify, headlines) -> str:
    """Notebook 07, exercise 3: every topic's probability for each headline, from `pipeline(..., top_k=None)`."""
    names = sorted(classify.model.config.id2label.values())
    if isinstance(answers, dict) or len(answers) != len(headlines):
        raise NotYet(f"{1 if isinstance(answers, dict) else len(answers)} answers for {len(headlines)} headlines",
                     "call the pipeline on the whole list of headlines")
    expected = classify(list(headlines), top_k=None)
    for headline, answer, truth in zip(headlines, answers, expected):
        if isinstance(answer, dict):
            raise NotYet("each headline got only its best topic", "an argument of the pipeline's call says how many "
                         "labels to return; None means all")
        if sorted(entry["label"] for entry in answer) != names:
            raise NotYet(f"the answer for {headline!r} does not name each topic once", "ask for every label")
        scores = {entry["label"]: entry["score"] for entry in truth}
        if not all(_close(entry["score"], scores[entry["label"]], 1e-4) for entry in answer):
            total = sum(entry["score"] for entry in answer)
            if not _close(total, 1.0, 1e-3):
                raise NotYet(f"the scores for {headline!r} add up to {total:.3f}, not 1",
                             "keep the pipeline's default function_to_apply (softmax over the classes)")
            raise NotYet(f"the scores for {headline!r} are not what this pipeline gives",
                         "call `classify` itself on the headlines, as they are")
    second = expected[0][1]
    return (f"every topic's probability, best first; the first headline's second guess: "
            f"{second['label']} ({second['score']:.2f})")


@exercise("07.4", "a `WeightedTrainer` whose compute_loss weighs each row's cross-entropy by its class",
          hint="pop the labels out of inputs, run model(**inputs), take torch.nn.functional.cross_entropy with "
               "weight= and reduction='none', and divide the sum by num_items_in_batch (when given) or the rows; "
               "return (loss, outputs) when return_outputs",
          solution=SOLUTION_4)
def check_compute_loss(trainer, weights) -> str:
    """Notebook 07, exercise 4: a Trainer subclass whose `compute_loss` is the class-weighted cross-entropy."""
    import torch
    from transformers import Trainer

    if not isinstance(trainer, Trainer):
        raise NotYet(f"the first answer should be a Trainer (an instance of your subclass), not {type(trainer).__name__}",
                     "class WeightedTrainer(Trainer): ..., then WeightedTrainer(model=..., args=..., ...)")
    if type(trainer).compute_loss is Trainer.compute_loss:
        raise NotYet("this Trainer computes the Trainer's own loss", "define compute_loss in your subclass")
    weights = torch.as_tensor(np.asarray(weights, dtype=np.float32))
    if weights.ndim != 1 or len(weights) != trainer.model.config.num_labels:
        raise NotYet(f"weights should hold one number per class ({trainer.model.config.num_labels})",
                     "pass the class weights computed above")
    if torch.allclose(weights, weights[0]):
        raise NotYet("the weights are all equal: every class would count the same", "pass the class weights computed "
                     "above, from the train rows")
    model, tokenizer = trainer.model, trainer.processing_class
    heavy, light = int(weights.argmax()), int(weights.argmin())
    labels = torch.tensor([heavy] * 5 + [light] * 3)  # a batch far from the train rows' mix
    texts = [f"headline number {i} about {'this ' * i}" for i in range(len(labels))]

    def batch() -> dict:
        encoded = tokenizer(texts, padding=True, return_tensors="pt")
        return {**{name: value.to(model.device) for name, value in encoded.items()}, "labels": labels.to(model.device)}

    training = model.training
    model.eval()  # no dropout: the same logits on every call
    try:
        answered = trainer.compute_loss(model, batch(), return_outputs=True)
        if answered is None:
            raise NotYet("compute_loss returns nothing yet", "return the loss (and the outputs too when "
                         "return_outputs is true)")
        if not isinstance(answered, tuple) or len(answered) != 2:
            raise NotYet("with return_outputs=True, compute_loss should return (loss, outputs)",
                         "the Trainer's evaluation asks for both: return (loss, outputs) if return_outputs else loss")
        loss, outputs = answered
        alone = trainer.compute_loss(model, batch(), num_items_in_batch=2 * len(labels))
    finally:
        model.train(training)
    if isinstance(alone, tuple):
        raise NotYet("with return_outputs=False, compute_loss should return the loss alone",
                     "return (loss, outputs) only when return_outputs is true")
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise NotYet(f"the loss should be one number in a tensor, not {type(loss).__name__}",
                     "add up the rows' losses into one tensor")
    if not loss.requires_grad:
        raise NotYet("the loss has no gradient: the Trainer could not train on it",
                     "compute it from the model's outputs, without torch.no_grad() or .item()")
    logits = _logits(outputs).detach().float()
    gold = labels.to(logits.device)
    w = weights.to(logits.device)
    per_row = torch.nn.functional.cross_entropy(logits, gold, weight=w, reduction="none")
    expected = per_row.sum() / len(labels)
    loss = loss.detach().float()
    if torch.isclose(loss, torch.nn.functional.cross_entropy(logits, gold), atol=1e-5):
        raise NotYet("that is the unweighted cross-entropy: every row counts the same",
                     "cross_entropy(..., weight=...) multiplies each row's loss by its class's weight")
    if torch.isclose(loss, torch.nn.functional.cross_entropy(logits, gold, weight=w), atol=1e-5):
        raise NotYet("that is cross_entropy's reduction='mean' with weights: it divides by the sum of the batch's "
                     "weights, so a batch of rare rows counts no more than one of common rows",
                     "reduction='none', then the sum divided by the rows")
    if not torch.isclose(loss, expected, atol=1e-5):
        raise NotYet("the loss is not each row's cross-entropy times its class's weight, averaged over the rows",
                     "cross_entropy(logits, labels, weight=weights, reduction='none'), summed, over the rows")
    if isinstance(alone, torch.Tensor) and torch.isclose(alone.detach().float(), expected, atol=1e-5):
        raise NotYet("compute_loss ignores num_items_in_batch",
                     "with gradient accumulation the Trainer passes the rows of all the accumulated batches: divide "
                     "by num_items_in_batch when it is given")
    if not isinstance(alone, torch.Tensor) or not torch.isclose(alone.detach().float(), expected / 2, atol=1e-5):
        raise NotYet("with num_items_in_batch given, the loss is not the weighted sum divided by it",
                     "divide by num_items_in_batch when it is not None, else by the rows")
    return (f"a batch of 5 {_class_name(trainer, heavy)} and 3 {_class_name(trainer, light)} rows: weighted loss "
            f"{float(expected):.4f}, plain cross-entropy "
            f"{float(torch.nn.functional.cross_entropy(logits, gold)):.4f}")


def _class_name(trainer, label: int) -> str:
    """The name of class `label` in `trainer`'s model."""
    return str(trainer.model.config.id2label.get(label, label))
