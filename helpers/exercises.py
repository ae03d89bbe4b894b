"""Exercises that check themselves, in the manner of Kaggle Learn (notebooks 01-08).

Under each exercise's starter cell a learner calls `exercises.check("01.1", answer)` (notebook 01, exercise 1). It
prints `Correct: ...`, or `not yet: ...` with what is wrong and a hint; it never raises (a placeholder left as
`...` or None, a wrong type, an error inside the check: each is a `not yet`), so a starter notebook runs as shipped.
It returns a `Result` that is true on a pass (tests and the worked solutions assert it) and shows nothing more
in a notebook. The checks work out the expected answer themselves, from `helpers.get_settings()` (the profile
the notebook runs on), so they hold on every profile.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

CHECKS: dict[str, Callable] = {}  # "01.1" -> the check of notebook 01's first exercise
HINTS: dict[str, str] = {}  # "01.1" -> the hint shown when the starter cell is not filled in yet


class NotYet(Exception):
    """A wrong answer: what is wrong, and a hint (raised by a check, printed by `check`)."""

    def __init__(self, what: str, hint: str):
        super().__init__(what)
        self.what, self.hint = what, hint


class Result:
    """What `check` returns: true on a pass; in a notebook it shows nothing (the check has printed its line)."""

    def __init__(self, passed: bool, message: str):
        self.passed, self.message = passed, message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Result(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Nothing to show: the line printed by `check` says it all."""


def exercise(key: str, fill_in: str) -> Callable[[Callable], Callable]:
    """Register a check as exercise `key`; `fill_in` says what the starter cell asks for."""

    def register(function: Callable) -> Callable:
        CHECKS[key], HINTS[key] = function, fill_in
        return function

    return register


def check(key: str, *answers) -> Result:
    """Check the answer to exercise `key` ("04.2": notebook 04, exercise 2); print a pass, or what is wrong, a hint."""
    try:
        if key not in CHECKS:
            return _said(False, f"not yet: there is no exercise {key!r}; known ones: {', '.join(sorted(CHECKS))}\n"
                                "hint: the notebook's number, a dot, the exercise's: exercises.check(\"01.1\", answer)")
        if not answers or any(answer is None or answer is Ellipsis for answer in answers):
            return _said(False, f"not yet: fill in the cell above ({HINTS[key]}), then run this cell again")
        return _said(True, f"Correct: {CHECKS[key](*answers)}")
    except NotYet as wrong:
        return _said(False, f"not yet: {wrong.what}\nhint: {wrong.hint}")
    except Exception as error:  # noqa: BLE001: a learner's answer may fail in any way; never a traceback here
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return _said(False, f"not yet: checking your answer raised {type(error).__name__}"
                            f"{': ' + first if first else ''}\nhint: the cell above should give {HINTS[key]}")


def _said(passed: bool, message: str) -> Result:
    """Print `message` and return it as a `Result`."""
    print(message, flush=True)
    return Result(passed, message)


def _settings():
    """The settings the notebook runs on (its profile, from the environment)."""
    from .reach import get_settings

    return get_settings()


def _number(answer, name: str) -> float:
    """`answer` as a float, or a `NotYet` saying a number was expected."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise NotYet(f"{name} should be a number, not {type(answer).__name__}", f"compute {name} as one number")
    return float(answer)


def _frame(answer, name: str) -> pd.DataFrame:
    """`answer` if it is a DataFrame, else a `NotYet`."""
    if not isinstance(answer, pd.DataFrame):
        raise NotYet(f"{name} should be a pandas DataFrame, not {type(answer).__name__}",
                     f"keep the rows themselves in {name} (what train_test_split returns)")
    return answer


# ------------------------------------------------------------------------------------------- notebook 01


@exercise("01.1", "`scores`, the ten majority-baseline accuracies for random_state 0 to 9")
def check_split_luck(scores) -> str:
    """Notebook 01, exercise 1: the majority baseline on the test rows of ten seeds' splits."""
    from sklearn.model_selection import train_test_split

    from . import baselines, data

    settings = _settings()
    df = data.load_data(settings)
    expected = []
    for seed in range(10):
        train, test = train_test_split(df, test_size=settings.test_size, random_state=seed)
        expected.append(baselines.majority_accuracy(train["label"], test["label"]))
    scores = list(scores) if not isinstance(scores, (str, dict)) else scores
    if not isinstance(scores, list) or len(scores) != 10:
        raise NotYet("scores should be a list of ten accuracies, one per random_state 0 to 9",
                     "append one baseline per seed in a loop: for seed in range(10): ...")
    values = [_number(score, "each score") for score in scores]
    if any(not 0 <= value <= 1 for value in values):
        raise NotYet("an accuracy lies between 0 and 1", "baselines.majority_accuracy(train['label'], test['label'])")
    wrong = [seed for seed, (value, right) in enumerate(zip(values, expected)) if abs(value - right) > 1e-9]
    if wrong:
        raise NotYet(f"the score of random_state {wrong[0]} is {values[wrong[0]]:.4f}, not {expected[wrong[0]]:.4f}",
                     "split with train_test_split(df, test_size=settings.test_size, random_state=seed), then "
                     "baselines.majority_accuracy(train['label'], test['label']): the commonest label of the train "
                     "rows, scored on the test rows")
    spread = max(expected) - min(expected)
    return f"from {min(expected):.3f} to {max(expected):.3f}, a spread of {100 * spread:.1f} points"


def _word_gap(df: pd.DataFrame) -> pd.Series:
    """For each word: the share of label-1 headlines that contain it minus the share of label-0 ones."""
    shares = pd.DataFrame({
        label: pd.Series(Counter(w for text in df.loc[df["label"] == label, "sentence"] for w in set(text.split())))
        / (df["label"] == label).sum()
        for label in (0, 1)
    }).fillna(0)
    return shares[1] - shares[0]


@exercise("01.2", "`gap`, a Series: for each word, its share of sarcastic headlines minus its share of sincere ones")
def check_word_gap(gap) -> str:
    """Notebook 01, exercise 2: each word's share of sarcastic minus sincere headlines that contain it."""
    from . import data

    df = data.load_data(_settings())
    expected = _word_gap(df)
    if isinstance(gap, dict):
        gap = pd.Series(gap)
    if not isinstance(gap, pd.Series):
        raise NotYet(f"gap should be a pandas Series indexed by word, not {type(gap).__name__}",
                     "divide a Counter of words per class by the number of headlines of that class, as a Series")
    if len(gap) < 20 or len(gap) < len(expected) // 2:
        raise NotYet(f"gap has {len(gap)} words; the headlines use {len(expected):,} different words",
                     "keep every word, not just the top ten: sort them afterwards with nlargest / nsmallest")
    ours = gap.reindex(expected.index).fillna(0).astype(float)
    if np.allclose(-ours, expected, atol=1e-9) and not np.allclose(ours, expected, atol=1e-9):
        raise NotYet("your gap has the opposite sign", "compute the sarcastic share minus the sincere share")
    off = (ours - expected).abs()
    if off.max() > 1e-9:
        word = off.idxmax()
        raise NotYet(f"the gap of {word!r} is {ours[word]:.4f}, not {expected[word]:.4f}",
                     "count a word once per headline (set(text.split())), and divide by the number of headlines of "
                     "that class, not by the number of words")
    top = ", ".join(expected.nlargest(5).index)
    return f"the five most sarcastic words here: {top}"


@exercise("01.3", "`mine`, the data read with pandas, columns renamed `sentence` and `label`")
def check_own_load(mine) -> str:
    """Notebook 01, exercise 3: read the file with pandas and keep two renamed columns, as `load_data` does."""
    from . import data

    expected = data.load_data(_settings())
    mine = _frame(mine, "mine")
    missing = [column for column in ("sentence", "label") if column not in mine.columns]
    if missing:
        raise NotYet(f"mine has no column {missing[0]!r} (columns: {', '.join(map(str, mine.columns))})",
                     "rename with .rename(columns={'headline': 'sentence', 'is_sarcastic': 'label'})")
    if len(mine) != len(expected):
        raise NotYet(f"mine has {len(mine):,} rows, the data {len(expected):,}",
                     "keep every row of the file (pd.read_json(path), or data.read_table(path))")
    if not mine.index.equals(expected.index):
        raise NotYet("the row numbers (the index) differ from the file's", "do not reset or sort the index")
    if not mine["sentence"].astype(str).equals(expected["sentence"]):
        raise NotYet("the sentence column does not hold the headlines", "rename the headline column to sentence")
    if not (mine["label"].astype(int).to_numpy() == expected["label"].to_numpy()).all():
        raise NotYet("the label column does not hold the file's labels", "rename is_sarcastic to label")
    return f"{len(mine):,} rows, the very ones helpers.load_data gives"


# ------------------------------------------------------------------------------------------- notebook 02


@exercise("02.1", "`shared`, the share (0 to 1) of the seed-124 test rows that are also tutorial test rows")
def check_other_seed(shared) -> str:
    """Notebook 02, exercise 1: the share of seed-124 test rows that are also test rows of the tutorial's split."""
    from . import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    _, tutorial = split.split_data(df, settings)
    _, other = split.split_data(df, reach.get_settings(settings.profile, split_seed=124))
    expected = float(other.index.isin(tutorial.index).mean())
    value = _number(shared, "shared")
    if value > 1 and abs(value / 100 - expected) < 1e-6:
        raise NotYet(f"{value:.1f} looks like a percentage", "give a share between 0 and 1 (.mean(), not * 100)")
    if value >= 1 and value == round(value):
        raise NotYet(f"{value:.0f} is a count of rows", "divide by the number of test rows, or use .mean()")
    if abs(value - expected) > 1e-6:
        raise NotYet(f"shared is {value:.4f}, not {expected:.4f}",
                     "split with helpers.get_settings(split_seed=124), then "
                     "other_test.index.isin(tutorial_test.index).mean()")
    return f"{expected:.1%} of the seed-124 test rows are also tutorial test rows: about a quarter, as chance has it"


@exercise("02.2", "`s_test`, the test rows of train_test_split with stratify=")
def check_stratified(s_test) -> str:
    """Notebook 02, exercise 2: a stratified split written with `train_test_split`, as `split_data` makes it."""
    from . import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    _, expected = split.split_data(df, reach.get_settings(settings.profile, stratify=True))
    _, plain = split.split_data(df, settings)
    s_test = _frame(s_test, "s_test")
    if s_test.index.equals(plain.index):
        raise NotYet("these are the tutorial's random test rows, not stratified ones",
                     "pass stratify=df['label'] to train_test_split")
    if len(s_test) != len(expected):
        raise NotYet(f"s_test has {len(s_test):,} rows, not {len(expected):,}",
                     "split df itself with test_size=settings.test_size; s_test is the second part it returns")
    if not s_test.index.equals(expected.index):
        raise NotYet("not the rows helpers.split_data gives with stratify=True",
                     "train_test_split(df, test_size=settings.test_size, random_state=settings.split_seed, "
                     "stratify=df['label'])")
    return (f"sarcastic share {s_test['label'].mean():.4f} in the test rows, {df['label'].mean():.4f} in all rows: "
            "the same, give or take one headline")


@exercise("02.3", "`rows`, the number of test rows `load_split` gives with test_size=0.2")
def check_test_size(rows) -> str:
    """Notebook 02, exercise 3: the number of test rows with `test_size=0.2`."""
    from . import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    expected = len(split.split_data(df, reach.get_settings(settings.profile, test_size=0.2))[1])
    default = len(split.split_data(df, settings)[1])
    value = _number(rows, "rows")
    if value == default and default != expected:
        raise NotYet(f"{default:,} is the number of test rows with the default test_size {settings.test_size}",
                     "pass test_size=0.2 to helpers.get_settings, and an output_dir of its own")
    if value != expected:
        raise NotYet(f"rows is {value:g}, not {expected:,}", "len(parts['test']) of the parts load_split returns")
    return f"{expected:,} test rows: a fifth of {len(df):,}, rounded up"


# ------------------------------------------------------------------------------------------- notebook 03


def _tokenizer(settings):
    """The tokenizer of `settings.model`, as notebook 03 loads it."""
    from . import models

    return models.load_tokenizer(settings)


def _train_rows(settings) -> pd.DataFrame:
    """The train rows of the saved split."""
    from . import split

    return split.load_split(settings)["train"]


KOREAN = "국회, 교육 예산 법안 통과"


@exercise("03.1", "`unknown`, the number of [UNK] tokens in the Korean headline")
def check_unknown(unknown) -> str:
    """Notebook 03, exercise 1: how many [UNK] tokens the tokenizer makes of a Korean headline."""
    tokenizer = _tokenizer(_settings())
    tokens = tokenizer.tokenize(KOREAN)
    expected = tokens.count(tokenizer.unk_token)
    value = _number(unknown, "unknown")
    if value == len(tokens) and value != expected:
        raise NotYet(f"{value:g} is the number of all tokens", "count only tokenizer.unk_token among them")
    if value != expected:
        raise NotYet(f"unknown is {value:g}, not {expected}",
                     "tokens = tokenizer.tokenize(headline); tokens.count(tokenizer.unk_token)")
    return f"{expected} of {len(tokens)} tokens are [UNK]"


@exercise("03.2", "`ratio`, how many times more tokens the padding='max_length' batch holds")
def check_padding_ratio(ratio) -> str:
    """Notebook 03, exercise 2: tokens in a batch of 16 padded to the maximum, over the same batch padded per batch."""
    from transformers import DataCollatorWithPadding

    settings = _settings()
    tokenizer = _tokenizer(settings)
    texts = _train_rows(settings)["sentence"].tolist()[:16]
    fixed = tokenizer(texts, truncation=True, padding="max_length", return_tensors="pt")["input_ids"]
    items = [{"input_ids": ids} for ids in tokenizer(texts, truncation=True)["input_ids"]]
    dynamic = DataCollatorWithPadding(tokenizer)(items)["input_ids"]
    expected = fixed.numel() / dynamic.numel()
    value = _number(ratio, "ratio")
    if value > 0 and abs(1 / value - expected) < 0.01 * expected:
        raise NotYet(f"{value:.3f} is the ratio upside down", "divide the max_length batch's size by the other's")
    if abs(value - expected) > 0.01 * expected:
        raise NotYet(f"ratio is {value:.2f}, not {expected:.2f}",
                     "the first 16 train headlines; count tokens with .numel() on each batch's input_ids, "
                     f"{tuple(fixed.shape)} against ({len(texts)}, the longest headline)")
    return f"{tuple(fixed.shape)} against {tuple(dynamic.shape)}: {expected:.0f} times more tokens"


@exercise("03.3", "`cut`, how many train headlines max_length=8 cuts")
def check_truncation(cut) -> str:
    """Notebook 03, exercise 3: how many train headlines are longer than 8 tokens."""
    settings = _settings()
    tokenizer = _tokenizer(settings)
    train = _train_rows(settings)
    lengths = [len(ids) for ids in tokenizer(train["sentence"].tolist())["input_ids"]]
    expected = sum(length > 8 for length in lengths)
    value = _number(cut, "cut")
    if value == len(train) and value != expected:
        raise NotYet(f"{value:g} is the number of all train headlines",
                     "count only those the untruncated call makes longer than 8 tokens")
    if value == sum(length >= 8 for length in lengths) and value != expected:
        raise NotYet(f"{value:g} counts headlines of exactly 8 tokens too", "a headline of 8 tokens fits: use > 8")
    if value != expected:
        raise NotYet(f"cut is {value:g}, not {expected}",
                     "tokenize without truncation and count the headlines with more than 8 input_ids "
                     "([CLS] and [SEP] count)")
    return f"{expected} of {len(train)} train headlines are longer than 8 tokens"


# ------------------------------------------------------------------------------------------- notebook 04


def _fresh_model(settings):
    """The seeded model of notebook 04 and the label names, loaded quietly (notebook 04 showed its load report)."""
    from transformers.utils import logging

    from . import data, models

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

    from . import tokenization

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

    from . import baselines, finetune

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


# ------------------------------------------------------------------------------------------- notebooks 05-07
# Helper D2's section: the checks of notebooks 05, 06 and 07 go below, registered with @exercise("05.1", ...).


def _close(a, b, tolerance: float = 1e-6) -> bool:
    """True when two numbers agree within `tolerance`."""
    return abs(float(a) - float(b)) <= tolerance

@exercise("05.1", "`untrained_predictions`, `tutorial`, `accuracy`: an untrained model's predictions, two accuracies")
def check_untrained(predictions, tutorial, accuracy) -> str:
    """Notebook 05, exercise 1: the tutorial's line and the argmax accuracy of an untrained model's predictions."""
    if not hasattr(predictions, "label_ids"):
        raise NotYet(f"untrained_predictions is a {type(predictions).__name__}, not what trainer.predict returns",
                     "untrained_predictions = Trainer(model=untrained, ...).predict(test_data)")
    labels = np.asarray(predictions.label_ids)
    right = float((np.argmax(predictions.predictions, axis=-1) == labels).mean())
    if not _close(tutorial, 1.0):
        raise NotYet(f"tutorial is {float(tutorial):.3f}; the tutorial's line gives 1.0 for any model",
                     "compare the test rows' labels with predictions.label_ids, as the tutorial does")
    if _close(accuracy, 1.0) and not _close(right, 1.0):
        raise NotYet("accuracy is 1.0: that is the tutorial's mistake again (label_ids are the true labels)",
                     "the model's answer is np.argmax(predictions.predictions, axis=-1)")
    if not _close(accuracy, right):
        raise NotYet(f"accuracy is {float(accuracy):.4f}, but the argmax of these predictions scores {right:.4f}",
                     "compare np.argmax(predictions.predictions, axis=-1) with the true labels, then .mean()")
    return f"the tutorial's line says 1.0, the argmax {right:.3f}: the untrained model's real score"


def _ngrams(model) -> tuple | None:
    """The `ngram_range` of a fitted scikit-learn pipeline's TF-IDF step (None: none there, or not fitted)."""
    steps = getattr(model, "steps", [])
    vectorizer = next((step for _, step in steps if hasattr(step, "ngram_range")), None)
    if vectorizer is None or not hasattr(vectorizer, "vocabulary_"):
        return None
    return tuple(vectorizer.ngram_range)


@exercise("05.2", "`words` and `pairs`, two fitted TF-IDF pipelines")
def check_word_pairs(words, pairs, test: pd.DataFrame) -> str:
    """Notebook 05, exercise 2: two fitted TF-IDF pipelines, words only and words with word pairs."""
    for name, value in (("words", words), ("pairs", pairs)):
        if _ngrams(value) is None:
            raise NotYet(f"{name} is not a fitted pipeline with a TfidfVectorizer",
                         "make_pipeline(TfidfVectorizer(ngram_range=...), LogisticRegression(max_iter=1000)), "
                         "then .fit(train['sentence'], train['label'])")
    if _ngrams(words) != (1, 1):
        raise NotYet(f"words uses ngram_range={_ngrams(words)}", "words only: ngram_range=(1, 1)")
    if _ngrams(pairs) != (1, 2):
        raise NotYet(f"pairs uses ngram_range={_ngrams(pairs)}", "words and word pairs: ngram_range=(1, 2)")
    scores = [model.score(test["sentence"], test["label"]) for model in (words, pairs)]
    return (f"words only {scores[0]:.4f}, with word pairs {scores[1]:.4f} on the test rows: "
            f"pairs add {100 * (scores[1] - scores[0]):+.1f} points")


@exercise("05.3", "`hardest`, the 20 rows with the highest loss, and `sarcastic`, how many have label 1")
def check_hardest(hardest: pd.DataFrame, sarcastic, rows: pd.DataFrame) -> str:
    """Notebook 05, exercise 3: the 20 test rows with the highest loss, and how many of them are labelled 1."""
    if not isinstance(hardest, pd.DataFrame) or "loss" not in hardest:
        raise NotYet("hardest is not a table of rows with their loss", "start from rows, the table with a loss column")
    if len(hardest) != 20:
        raise NotYet(f"hardest has {len(hardest)} rows, not 20", "rows.nlargest(20, 'loss')")
    top = np.sort(rows["loss"].to_numpy())[::-1][:20]
    if not np.allclose(np.sort(hardest["loss"].to_numpy())[::-1], top):
        easiest = np.allclose(np.sort(hardest["loss"].to_numpy()), np.sort(rows["loss"].to_numpy())[:20])
        raise NotYet("these are the easiest 20 rows (lowest loss)" if easiest else
                     "these are not the 20 rows with the highest loss", "rows.nlargest(20, 'loss')")
    if int(sarcastic) != int((hardest["label"] == 1).sum()):
        raise NotYet(f"sarcastic is {sarcastic}, but {(hardest['label'] == 1).sum()} of these rows have label 1",
                     "(hardest['label'] == 1).sum()")
    return f"{int(sarcastic)} of the 20 hardest rows are labelled sarcastic; now read them"


@exercise("05.4", "`precision` and `recall` of the class sarcastic (1)")
def check_precision_recall(precision, recall, labels, predicted) -> str:
    """Notebook 05, exercise 4: precision and recall of the class 1 (sarcastic), from the counts."""
    from sklearn.metrics import precision_score, recall_score

    expected = (precision_score(labels, predicted, zero_division=0), recall_score(labels, predicted, zero_division=0))
    if _close(precision, expected[1]) and _close(recall, expected[0]) and not _close(*expected):
        raise NotYet("precision and recall are swapped",
                     "precision: of the rows called sarcastic, the share that are; recall: of the sarcastic rows, "
                     "the share found")
    for name, value, right, hint in (
        ("precision", precision, expected[0], "true positives / (true positives + false positives)"),
        ("recall", recall, expected[1], "true positives / (true positives + false negatives)"),
    ):
        if not _close(value, right):
            raise NotYet(f"{name} is {float(value):.4f}; from these predictions it is {right:.4f}", hint)
    return f"precision {expected[0]:.3f}, recall {expected[1]:.3f}: classification_report's row for class 1"


@exercise("06.1", "`schedules`, {'linear': accuracy, 'cosine': accuracy} from the grid's runs")
def check_schedules(schedules: dict, runs: pd.DataFrame) -> str:
    """Notebook 06, exercise 1: the validation accuracy of the linear and the cosine schedule, from the search."""
    if not isinstance(schedules, dict) or set(schedules) != {"linear", "cosine"}:
        raise NotYet(f"schedules should map 'linear' and 'cosine' to an accuracy, not {schedules!r}",
                     "{name: accuracy for each lr_scheduler in the grid}")
    if "lr_scheduler" not in runs:
        raise NotYet("runs has no lr_scheduler column: the search did not search it",
                     "sweep.search(settings, {'learning_rate': [lr], 'lr_scheduler': ['linear', 'cosine']}, "
                     "search='grid')")
    from .settings import FIELDS

    schedule = runs["lr_scheduler"].fillna(FIELDS["lr_scheduler"].default)  # a run that did not search it: the default
    for name, score in schedules.items():
        found = runs.loc[schedule == name, "val_accuracy"]
        if not any(_close(score, value) for value in found):
            raise NotYet(f"schedules[{name!r}] = {score} is no trial's validation accuracy with that schedule",
                         "read val_accuracy from the rows of runs with lr_scheduler == name")
    winner = max(schedules, key=schedules.get)
    gap = abs(schedules["linear"] - schedules["cosine"])
    return f"{winner} wins by {100 * gap:.1f} points of validation accuracy" if gap else "a tie"


@exercise("06.2", "`recipe_scores`, `spread`, `best_two`, `gap` and `gap_is_larger`")
def check_seed_noise(recipe, spread, best_two, gap, gap_is_larger) -> str:  # recipe: the seeds' scores
    """Notebook 06, exercise 2: the seed spread of the recipe against the gap between the search's best two settings."""
    recipe, best_two = [float(value) for value in recipe], [float(value) for value in best_two]
    if len(recipe) != 3:
        raise NotYet(f"recipe_scores holds {len(recipe)} scores", "three seeds, three validation accuracies")
    if not _close(spread, max(recipe) - min(recipe)):
        raise NotYet(f"spread is {float(spread):.4f}; the seeds' highest minus lowest is "
                     f"{max(recipe) - min(recipe):.4f}",
                     "max(recipe_scores) - min(recipe_scores)")
    if len(best_two) != 2 or best_two[0] < best_two[1]:
        raise NotYet("best_two should be the two best settings' accuracies, best first",
                     "the first two rows of sweep.by_setting(runs)['val_accuracy']")
    if not _close(gap, best_two[0] - best_two[1]):
        raise NotYet(f"gap is {float(gap):.4f}; the best two differ by {best_two[0] - best_two[1]:.4f}",
                     "best_two[0] - best_two[1]")
    if bool(gap_is_larger) != (gap > spread):
        raise NotYet(f"gap_is_larger is {gap_is_larger}, but the gap is {gap:.4f} and the spread {spread:.4f}",
                     "gap > spread")
    verdict = ("the gap is larger than the seed noise: worth a second look with more seeds" if gap > spread else
               "the gap is within the seed noise: not a finding")
    return f"spread {spread:.4f}, gap {gap:.4f}: {verdict}"


@exercise("06.3", "`study`, your optuna study after study.optimize(objective, n_trials=2)")
def check_objective(study) -> str:
    """Notebook 06, exercise 3: an optuna study whose objective also suggests the epochs with `suggest_int`."""
    import optuna

    if not isinstance(study, optuna.Study):
        raise NotYet(f"study is a {type(study).__name__}", "study = optuna.create_study(direction='maximize')")
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise NotYet("the study minimises: it would pick the worst accuracy",
                     "optuna.create_study(direction='maximize')")
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 2:
        raise NotYet(f"the study has {len(done)} complete trials", "study.optimize(objective, n_trials=2)")
    for trial in done:
        epochs = trial.distributions.get("num_train_epochs")
        if not isinstance(epochs, optuna.distributions.IntDistribution):
            raise NotYet(f"trial {trial.number} did not suggest num_train_epochs as a whole number",
                         "trial.suggest_int('num_train_epochs', 1, 2) in the objective")
        if not 0 <= trial.value <= 1:
            raise NotYet(f"trial {trial.number} returned {trial.value}, not an accuracy",
                         "return trainer.state.best_metric (the kept epoch's validation accuracy)")
    best = study.best_trial
    return f"{len(done)} trials; the best, {best.params}, scored {best.value:.4f} on validation"


@exercise("07.1", "`predicted_off`, `predicted_on`, `f1_off` and `f1_on`")
def check_class_weights(labels, predicted_off, predicted_on, f1_off, f1_on) -> str:
    """Notebook 07, exercise 1: macro F1 on the test rows without and with class weights."""
    from sklearn.metrics import accuracy_score, f1_score

    for name, predicted, score in (("off", predicted_off, f1_off), ("on", predicted_on, f1_on)):
        macro = f1_score(labels, predicted, average="macro")
        if not _close(score, macro):
            what = ("the accuracy (micro F1)" if _close(score, accuracy_score(labels, predicted)) else
                    "the weighted F1" if _close(score, f1_score(labels, predicted, average="weighted")) else "")
            raise NotYet(f"f1_{name} is {float(score):.4f}{', ' + what if what else ''}; macro F1 is {macro:.4f}",
                         "f1_score(labels, predicted, average='macro'): each class counts the same")
    return f"macro F1 {f1_off:.3f} without class weights, {f1_on:.3f} with them"


@exercise("07.2", "`count`, the entertainment rows among the unstratified validation rows")
def check_unstratified(count, settings) -> str:
    """Notebook 07, exercise 2: the entertainment headlines among the validation rows of an unstratified split."""
    import dataclasses

    from .data import label_names, load_data
    from .split import split_data, split_validation

    unstratified = dataclasses.replace(settings, stratify=False)
    rows = load_data(unstratified)
    train, _ = split_data(rows, unstratified)
    _, validation = split_validation(train, unstratified)  # the split load_split makes, without saving it
    names = label_names(rows)
    expected = int((validation["label"] == names.index("entertainment")).sum())
    if int(count) != expected:
        raise NotYet(f"count is {count}; the unstratified split has {expected} entertainment validation rows",
                     "load_split(dataclasses.replace(settings, stratify=False))['validation'], then count the "
                     "rows whose label is names.index('entertainment')")
    return f"{expected} entertainment headlines among {len(validation)} validation rows"


@exercise("07.3", "`answers`, the pipeline's answers with top_k=None")
def check_top_k(answers, names, headlines) -> str:
    """Notebook 07, exercise 3: every topic's probability for each headline, from `pipeline(..., top_k=None)`."""
    if len(answers) != len(headlines):
        raise NotYet(f"{len(answers)} answers for {len(headlines)} headlines", "classify(my_headlines, top_k=None)")
    for headline, answer in zip(headlines, answers):
        if isinstance(answer, dict):
            raise NotYet("each headline got only its best topic",
                         "top_k=None returns every class's score: classify(my_headlines, top_k=None)")
        if sorted(entry["label"] for entry in answer) != sorted(names):
            raise NotYet(f"the answer for {headline!r} does not name each topic once", "top_k=None")
        total = sum(entry["score"] for entry in answer)
        if not _close(total, 1.0, 1e-3):
            raise NotYet(f"the scores for {headline!r} add up to {total:.3f}, not 1",
                         "the pipeline's default softmax gives probabilities; do not change function_to_apply")
    second = answers[0][1]
    return (f"every topic's probability, best first; the first headline's second guess: "
            f"{second['label']} ({second['score']:.2f})")


# ------------------------------------------------------------------------------------------- notebook 08


@exercise("08.1", "`share`, the fraction of the model's parameters held by its embeddings (a number from 0 to 1)")
def check_embedding_share(share, model) -> str:
    """Notebook 08, exercise 1: the share of the parameters in embedding tables, which int8 Linear layers leave be."""
    import torch

    total = sum(p.numel() for p in model.parameters())
    embedded = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding)
                   for p in m.parameters(recurse=False))
    expected, share = embedded / total, _number(share, "share")
    if _close(share, 100 * expected, 1e-3):
        raise NotYet(f"share is {share:.2f}: a percentage", "a fraction from 0 to 1: divide by the total, no * 100")
    linear = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters())
    if _close(share, linear / total, 1e-4) and not _close(linear, embedded):
        raise NotYet(f"share is {share:.4f}, the Linear layers' share", "count the parameters of the "
                     "torch.nn.Embedding modules (isinstance(module, torch.nn.Embedding)), not the Linear ones")
    if not _close(share, expected, 1e-4):
        raise NotYet(f"share is {share:.4f}; the embeddings hold {expected:.4f} of the {total:,} parameters",
                     "sum(p.numel() for each torch.nn.Embedding module's parameters) / "
                     "sum(p.numel() for p in model.parameters())")
    return (f"{expected:.0%} of the {total:,} parameters are embeddings, kept in float32 by quantize_dynamic: "
            f"at best the model shrinks to about {expected + (1 - expected) / 4:.0%} of its size, not 25%")


@exercise("08.2", "`agreement`, the share of rows where int8 gives float32's class, and `flipped`, how many it changed")
def check_agreement(agreement, flipped, reference_logits, int8_logits) -> str:
    """Notebook 08, exercise 2: how often ONNX Runtime's int8 model answers as the float32 model, and the rows it flips."""
    reference, int8 = np.argmax(reference_logits, axis=-1), np.argmax(int8_logits, axis=-1)
    same = float((reference == int8).mean())
    changed = int((reference != int8).sum())
    agreement, flipped = _number(agreement, "agreement"), _number(flipped, "flipped")
    if _close(agreement, 1.0) and same < 1:
        raise NotYet("agreement is 1.0, but some rows differ: are you comparing the logits with themselves?",
                     "np.argmax(reference_logits, axis=-1) == np.argmax(int8_logits, axis=-1), then .mean()")
    if not _close(agreement, same, 1e-9):
        raise NotYet(f"agreement is {agreement:.4f}; the two models give the same class on {same:.4f} of the rows",
                     "compare the argmax of each row (axis=-1), not the logits themselves, then .mean()")
    if flipped != changed:
        raise NotYet(f"flipped is {flipped:g}; int8 changed the answer on {changed} rows",
                     "(np.argmax(reference_logits, axis=-1) != np.argmax(int8_logits, axis=-1)).sum()")
    return f"int8 gives float32's answer on {same:.2%} of the {len(reference):,} rows; it changed {changed}"


@exercise("08.3", "`probability`, the int8 ONNX model's probability that `headline` is sarcastic")
def check_onnx_by_hand(probability, headline, folder) -> str:
    """Notebook 08, exercise 3: one headline through an `InferenceSession` on model_int8.onnx, as a probability."""
    from pathlib import Path

    from scipy.special import softmax

    from .inference import INPUTS, ONNX_INT8, ONNX_MODEL, OnnxClassifier, session

    reader = OnnxClassifier(folder)
    batch = reader.tokenizer([headline], return_tensors="np")
    feed = {name: batch[name].astype(np.int64) for name in INPUTS}
    sarcastic = reader.config.label2id.get("sarcastic", 1)
    expected = {file: float(softmax(session(Path(folder) / file).run(None, feed)[0], axis=-1)[0, sarcastic])
                for file in (ONNX_INT8, ONNX_MODEL)}
    probability = _number(probability, "probability")
    if not 0 <= probability <= 1:
        raise NotYet(f"probability is {probability:.4f}, not between 0 and 1: a logit",
                     "scipy.special.softmax(logits, axis=-1) turns the logits into probabilities")
    if _close(probability, 1 - expected[ONNX_INT8], 1e-4) and not _close(expected[ONNX_INT8], 0.5, 1e-4):
        raise NotYet(f"probability is {probability:.4f}, the other class's",
                     f"take column {sarcastic} (model.config.label2id['sarcastic']) of the probabilities")
    if _close(probability, expected[ONNX_MODEL], 1e-5) and not _close(probability, expected[ONNX_INT8], 1e-5):
        raise NotYet("that is the float32 model's answer (model.onnx)", f"open {ONNX_INT8} in the InferenceSession")
    if not _close(probability, expected[ONNX_INT8], 1e-4):
        raise NotYet(f"probability is {probability:.4f}; {ONNX_INT8} gives {expected[ONNX_INT8]:.4f}",
                     "tokenizer([headline], return_tensors='np'), then session.run(None, {'input_ids': ..., "
                     "'attention_mask': ...})[0], then softmax")
    return (f"{expected[ONNX_INT8]:.3f} sarcastic by the int8 model ({expected[ONNX_MODEL]:.3f} in float32): "
            "what python -m helpers predict --model OUTPUT_DIR/onnx prints")
