"""Search for better hyperparameters: one fine-tuning per point of a search space, every run kept in a log.

Introduced in notebook 06 (hyperparameters). A point sets a few `Settings` knobs; each trial is notebook 04's
`finetune.train` with those values, in its own folder `OUTPUT_DIR/sweep/ID`, scored on the validation split.
Each finished trial is appended as one JSON line to `OUTPUT_DIR/sweep/runs.jsonl`; a search run again skips
the points already there, so reopening the notebook shows the earlier runs without training them again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import itertools
import json
import math
import os
import random
import shutil
from pathlib import Path

import pandas as pd
from transformers import Trainer, TrainerCallback, TrainerState

from . import finetune, models, predict
from .data import label_names
from .models import load_tokenizer
from .settings import FIELDS, PROFILES, TINY_MODEL, Settings, UserError, coerce, warn
from .split import evaluation_rows, load_split
from .tiny import is_tiny
from .tokenization import tokenize

# The search space a learner edits: each knob (a `Settings` field) and the values to try.
SPACE: dict[str, list] = {
    "learning_rate": [2e-5, 5e-5, 1e-4, 2e-4],
    "epochs": [1, 2, 3],
    "train_batch_size": [16, 32],
    "warmup_steps": [0, 0.1],
    "weight_decay": [0.0, 0.01],
}
VALIDATION_SIZE = 0.1  # used when the settings have no validation split
RUNS_LOG = "runs.jsonl"
# Not searchable: the sweep sets them itself, or they change which rows every trial is scored on.
FIXED = ("profile", "output_dir", "cache_dir", "overwrite", "resume", "data", "text_column", "label_column",
         "test_size", "validation_size", "stratify", "split_seed", "train_rows", "test_rows")
# Settings that do not change what a trial learns, left out of its id.
NOT_LEARNED = ("profile", "output_dir", "cache_dir", "overwrite", "resume", "eval_batch_size", "logging_steps",
               "reuse_memory", "sort_predictions", "report_to")
# Settings added after runs logs existed: left out of a run's id at their default, so older runs keep their ids.
ADDED_LATER = ("lr_scheduler", "label_smoothing")
RECORDED = ("profile", "model", "data", "seed", "validation_size")  # kept with each run, with SPACE's knobs
METRICS = ("val_accuracy", "val_f1", "val_loss", "train_seconds")
# The knobs optuna can search: `Settings` field -> `TrainingArguments` field.
OPTUNA_KNOBS = {
    "learning_rate": "learning_rate",
    "epochs": "num_train_epochs",
    "train_batch_size": "per_device_train_batch_size",
    "warmup_steps": "warmup_steps",
    "weight_decay": "weight_decay",
    "label_smoothing": "label_smoothing_factor",
}


# ---------------------------------------------------------------------------------------------- the points


def check_space(space: dict[str, list]) -> dict[str, list]:
    """The space with every value checked and typed as its setting, duplicates dropped; one line for a mistake."""
    if not space:
        raise UserError("the search space is empty; give settings and their values: {'learning_rate': [2e-5, 5e-5]}")
    checked = {}
    for name, values in space.items():
        if name in FIXED:
            raise UserError(f"setting {name!r} cannot be searched (every trial uses the same rows and its own folder); "
                            "set it in get_settings instead")
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
            raise UserError(f"search space {name!r} is {values!r}; give a non-empty list of values to try")
        checked[name] = list(dict.fromkeys(coerce(name, value) for value in values))  # 1 and 1.0 are one epoch value
    return checked


def grid(space: dict[str, list]) -> list[dict]:
    """Every combination of the space's values."""
    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def candidates(space: dict[str, list], trials: int, seed: int = 0) -> list[dict]:
    """The points to try: the whole grid when `trials` covers it, else `trials` distinct points drawn with `seed`.

    More trials with the same seed keep the earlier points and add new ones, so a larger search trains only those.
    """
    if trials < 1:
        raise UserError(f"trials={trials} must be at least 1")
    points = grid(check_space(space))
    if trials >= len(points):
        return points
    order = list(range(len(points)))
    random.Random(seed).shuffle(order)
    return [points[i] for i in order[:trials]]


def describe(point: dict) -> str:
    """A point as `name=value, ...`."""
    return ", ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in point.items())


# ---------------------------------------------------------------------------------------------- one trial


def with_validation(base: Settings) -> Settings:
    """`base`, with a validation split of `VALIDATION_SIZE` (said once) when it has none: trials never see test rows."""
    if base.validation_size:
        return base
    warn(f"trials are compared on validation rows, so this search uses validation_size={VALIDATION_SIZE}; "
         "the test rows stay unseen")
    return dataclasses.replace(base, validation_size=VALIDATION_SIZE)


def sweep_dir(base: Settings) -> Path:
    """The folder of the search: a folder per trial, and the runs log."""
    return Path(base.output_dir) / "sweep"


def runs_path(base: Settings) -> Path:
    """The runs log: one JSON line per finished trial."""
    return sweep_dir(base) / RUNS_LOG


def run_id(settings: Settings) -> str:
    """A stable 10-character name for a trial: a hash of every setting that changes what it learns."""
    learned = {name: value for name, value in dataclasses.asdict(settings).items()
               if name not in NOT_LEARNED and not (name in ADDED_LATER and value == FIELDS[name].default)}
    return hashlib.sha1(json.dumps(learned, sort_keys=True).encode()).hexdigest()[:10]


def trial_settings(base: Settings, point: dict) -> Settings:
    """The settings of one trial: `base` with the point's values, in its own folder `sweep/ID`, replacing it."""
    values = {name: coerce(name, value) for name, value in point.items()}
    settings = dataclasses.replace(base, **values, overwrite=True, resume=False)
    return dataclasses.replace(settings, output_dir=str(sweep_dir(base) / run_id(settings)))


def point_id(base: Settings, point: dict) -> str:
    """The id the trial of `point` has (its folder name and its key in the runs log)."""
    return run_id(trial_settings(base, point))


def remove_checkpoints(settings: Settings) -> None:
    """Delete a trial's checkpoint folders (its saved model stays): many trials would fill the disk."""
    for folder in Path(settings.output_dir).glob("checkpoint-*"):
        shutil.rmtree(folder, ignore_errors=True)


def record(settings: Settings, point: dict, search: str, state: TrainerState) -> dict:
    """One run for the log: id, how it was found, validation scores, time, its settings and its log history."""
    evaluations = [entry for entry in state.log_history if "eval_accuracy" in entry]
    best = next((entry for entry in evaluations if entry["step"] == state.best_global_step), {})
    trained = next((entry for entry in reversed(state.log_history) if "train_runtime" in entry), {})
    return {
        "id": run_id(settings),
        "search": search,
        "val_accuracy": state.best_metric,  # the best epoch's; the saved model is that epoch's
        "val_f1": best.get("eval_f1"),
        "val_loss": best.get("eval_loss"),
        "train_seconds": trained.get("train_runtime"),
        **{name: getattr(settings, name) for name in dict.fromkeys([*point, *SPACE, *RECORDED])},
        "log_history": state.log_history,
    }


def run_trial(settings: Settings, point: dict, search: str) -> dict:
    """Train one trial with notebook 04's `finetune.train`, drop its checkpoints; its run for the log."""
    trainer = finetune.train(settings)
    remove_checkpoints(settings)
    return record(settings, point, search, trainer.state)


# ---------------------------------------------------------------------------------------------- the runs log


def _is_run(line: str | bytes) -> bool:
    """True when `line` holds a whole run (a JSON object with an id)."""
    try:
        run = json.loads(line)
    except ValueError:
        return False
    return isinstance(run, dict) and "id" in run


def _end_last_line(path: Path) -> None:
    """Make the log end with a newline: an unfinished last line (a write cut short) is cut off, with a warning."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as log:
        text = log.read()
        start = text.rfind(b"\n") + 1
        if start == len(text):
            return
        if _is_run(text[start:]):  # whole, only its newline missing
            log.write(b"\n")
            return
        log.truncate(start)
    warn(f"removed the unfinished last line of {path} (a run cut short while being written)")


def append_run(path: Path, run: dict) -> None:
    """Add one run to the log as one JSON line, in a single write (a write cut short spoils only that line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _end_last_line(path)
    line = (json.dumps(run) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
    finally:
        os.close(fd)
    if written != len(line):
        raise OSError(f"only {written} of {len(line)} bytes of a run reached {path} (disk full?)")


def read_log(path: Path) -> list[dict]:
    """The runs in a log, in the order they finished; an unfinished last line is skipped with a warning."""
    path = Path(path)
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.exists() else []
    runs = []
    for number, line in enumerate(lines, 1):
        if _is_run(line):
            runs.append(json.loads(line))
        elif number == len(lines):
            warn(f"skipped the unfinished last line of {path} (a run cut short while being written)")
        else:
            raise UserError(f"line {number} of {path} is not a run; delete that line and run again")
    return runs


def load_runs(path: str | Path) -> pd.DataFrame:
    """The runs of a log as a table, best first: highest validation accuracy, then lowest validation loss."""
    runs = pd.DataFrame(read_log(Path(path)))
    if runs.empty:
        return pd.DataFrame(columns=["id", "search", *METRICS])
    order = runs.sort_values(["val_accuracy", "val_loss"], ascending=[False, True], na_position="last", kind="stable")
    return order.reset_index(drop=True)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table without the long columns (log history, model and data paths): what to compare."""
    return runs.drop(columns=[name for name in ("log_history", "model", "data", "profile") if name in runs])


def _setting_columns(runs: pd.DataFrame) -> list[str]:
    """The columns that make a setting: every recorded knob but the seed."""
    return [name for name in runs.columns if name not in ("id", "search", "seed", "log_history", *METRICS)]


def runs_of(runs: pd.DataFrame, setting: pd.Series) -> pd.DataFrame:
    """The runs of one row of `by_setting`: those with its values in every setting column (NaN matching NaN)."""
    same = pd.Series(True, index=runs.index)
    for name in _setting_columns(runs):
        same &= (runs[name] == setting[name]) | (runs[name].isna() & pd.isna(setting[name]))
    return runs[same]


def by_setting(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per setting (runs differing only in seed): seeds, mean and range of validation accuracy, best first."""
    if runs.empty:
        return runs
    scores = runs.groupby(_setting_columns(runs), dropna=False, sort=False).agg(
        seeds=("val_accuracy", "size"),
        val_accuracy=("val_accuracy", "mean"),
        val_accuracy_min=("val_accuracy", "min"),
        val_accuracy_max=("val_accuracy", "max"),
        val_loss=("val_loss", "mean"),
    )
    order = scores.reset_index().sort_values(["val_accuracy", "val_loss"], ascending=[False, True], kind="stable")
    return order.reset_index(drop=True)


def table(runs: pd.DataFrame) -> str:
    """The summary as text, 4 significant digits."""
    return summary(runs).to_string(index=False, float_format=lambda value: f"{value:.4g}")


# ---------------------------------------------------------------------------------------------- a search


@finetune.holding_output
def search(base: Settings, space: dict[str, list] | None = None, trials: int = 4, seed: int = 0) -> pd.DataFrame:
    """Train each candidate point not yet in the runs log, logging each as it finishes; every logged run, best first."""
    base = with_validation(base)
    space = check_space(SPACE if space is None else space)
    points = candidates(space, trials, seed)
    kind = "grid" if len(points) == len(grid(space)) else "random"
    path = runs_path(base)
    done = {run["id"] for run in read_log(path)}
    for number, point in enumerate(points, 1):
        settings = trial_settings(base, point)
        label = f"trial {number}/{len(points)} ({describe(point)})"
        if run_id(settings) in done:
            print(f"{label}: already in {path}, skipped", flush=True)
            continue
        run = run_trial(settings, point, kind)
        append_run(path, run)
        print(f"{label}: validation accuracy {_number(run['val_accuracy']):.4f}", flush=True)
    return load_runs(path)


def settings_of(run: pd.Series | dict, base: Settings) -> Settings:
    """The settings a logged run trained with: `base` with the run's recorded values, in the run's folder."""
    values = {name: coerce(name, run[name]) for name in FIELDS if name in run and not _missing(run[name])}
    return dataclasses.replace(base, **values, output_dir=str(sweep_dir(base) / run["id"]))


def _number(value) -> float:
    """`value`, or NaN when there is none (a run that was never evaluated)."""
    return math.nan if value is None else value


def _missing(value) -> bool:
    """True for an empty cell (a knob this run did not search)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def best_call(runs: pd.DataFrame) -> str:
    """The `helpers.get_settings(...)` call with the best run's values, to paste into notebook 04."""
    if runs.empty:
        raise UserError("no runs in the log yet; run a search first")
    best = runs.iloc[0]
    values = {
        name: coerce(name, best[name])
        for name in runs.columns
        if name in FIELDS and name != "profile" and not _missing(best[name]) and not _profile_gives(best, name)
    }
    arguments = [repr(best["profile"]), *(f"{name}={value!r}" for name, value in values.items())]
    return f"helpers.get_settings({', '.join(arguments)})"


def _profile_gives(run: pd.Series, name: str) -> bool:
    """True for the recorded base settings (model, data, seed) that the run's profile gives anyway."""
    if name not in ("model", "data", "seed"):
        return False
    default = PROFILES[run["profile"]].get(name, FIELDS[name].default)
    return run[name] == default or (default == TINY_MODEL and is_tiny(run[name]))


def accuracy_on_test(run: pd.Series | dict, base: Settings) -> float:
    """Accuracy of a run's saved model on the test split: measure it once, for the run you chose on validation."""
    settings = settings_of(run, base)
    test = load_split(settings)["test"]
    model, tokenizer = models.load_trained(finetune.model_dir(settings), label_names(test))
    prediction = predict.predict(model, tokenizer, tokenize(test, tokenizer, settings), settings)
    return float(finetune.compute_metrics(prediction)["accuracy"])


def curves(runs: pd.DataFrame, top: int = 4) -> dict[str, pd.DataFrame]:
    """The loss curves of the best `top` runs, from their logged history (nothing is trained again)."""
    return {
        f"{run['id']} (val acc {run['val_accuracy']:.3f})": finetune.loss_curves(run["log_history"])
        for _, run in runs.head(top).iterrows()
    }


# ---------------------------------------------------------------------------------------------- optuna


def optuna_available() -> bool:
    """True when optuna, an optional dependency, is installed."""
    return importlib.util.find_spec("optuna") is not None


def require_optuna():
    """The optuna module, or a one-line `UserError` saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise UserError("the optuna search needs optuna, which is not installed: pip install optuna "
                        "(the random search does not need it)") from None
    return optuna


def optuna_space(space: dict[str, list]) -> dict[str, list]:
    """The part of the space optuna can search (the `TrainingArguments` knobs); the rest stays at the base values."""
    searched = {name: values for name, values in space.items() if name in OPTUNA_KNOBS}
    if not searched:
        raise UserError(f"optuna searches only {', '.join(OPTUNA_KNOBS)}; the search space has none of them")
    if len(searched) < len(space):
        kept = ", ".join(name for name in space if name not in searched)
        warn(f"optuna searches only the training arguments; kept at the settings' values: {kept}")
    return searched


class OptunaTrials(TrainerCallback):
    """What `Trainer.hyperparameter_search` asks for (model_init, hp_space, hp_name), and a log of each trial."""

    def __init__(self, base: Settings, space: dict[str, list], names: list[str]):
        self.base, self.space, self.names = base, space, names
        self.trainer: Trainer | None = None  # set once the Trainer is built

    def point(self, trial) -> dict:
        """The trial's values, chosen by optuna from the space (asking again returns the same values)."""
        return {name: trial.suggest_categorical(name, values) for name, values in self.space.items()}

    def hp_space(self, trial) -> dict:
        """The trial's values, named as `TrainingArguments` fields."""
        return {OPTUNA_KNOBS[name]: value for name, value in self.point(trial).items()}

    def hp_name(self, trial) -> str:
        """The trial's folder under sweep/: the id a random search gives the same point."""
        return point_id(self.base, self.point(trial))

    def model_init(self, trial=None):
        """A fresh seeded model; a trial whose point is already in the runs log is skipped before one is built.

        The Trainer calls this once when it is built (trial None), then once at the start of every trial.
        """
        if trial is not None:
            settings = trial_settings(self.base, self.point(trial))
            if run_id(settings) in {run["id"] for run in read_log(runs_path(self.base))}:
                print(f"optuna trial {trial.number} ({describe(self.point(trial))}): already in the runs log, skipped")
                raise require_optuna().TrialPruned("already in the runs log")
            finetune.prepare_output(settings)  # overwrite: clear what an interrupted trial left in its folder
        return models.load_model(self.base, self.names)

    def on_train_end(self, args, state, control, **kwargs):
        """Save the trial's best model into its folder, drop its checkpoints, append its run to the log."""
        point = {name: getattr(args, OPTUNA_KNOBS[name]) for name in self.space}
        settings = trial_settings(self.base, point)
        finetune.save(self.trainer, settings)
        remove_checkpoints(settings)
        append_run(runs_path(self.base), record(settings, point, "optuna", state))


def optuna_trainer(base: Settings, space: dict[str, list]) -> tuple[Trainer, OptunaTrials]:
    """A `Trainer` built with `model_init` (a fresh model per trial) on the base's train and validation rows."""
    settings = dataclasses.replace(base, output_dir=str(sweep_dir(base)))  # trials go to sweep/ID (hp_name)
    parts = load_split(settings)
    tokenizer = load_tokenizer(settings)
    trials = OptunaTrials(base, space, label_names(parts["train"]))
    trainer = finetune.build_trainer(
        settings,
        None,
        tokenizer,
        tokenize(parts["train"], tokenizer, settings),
        tokenize(evaluation_rows(parts), tokenizer, settings),
        model_init=trials.model_init,
        callbacks=[trials],
    )
    trials.trainer = trainer
    return trainer, trials


def known_trials(base: Settings, space: dict[str, list]) -> list:
    """The logged runs of `base` whose values lie in the space, as finished optuna trials to learn from."""
    optuna = require_optuna()
    distributions = {name: optuna.distributions.CategoricalDistribution(values) for name, values in space.items()}
    known = []
    for run in read_log(runs_path(base)):
        point = {name: run.get(name) for name in space}
        if all(point[name] in values for name, values in space.items()) and run["val_accuracy"] is not None \
                and point_id(base, point) == run["id"]:
            trial = optuna.trial.create_trial(params=point, distributions=distributions, value=run["val_accuracy"])
            known.append(trial)
    return known


@finetune.holding_output
def optuna_search(base: Settings, space: dict[str, list] | None = None, trials: int = 4, seed: int = 0) -> pd.DataFrame:
    """The same search with optuna choosing each point from the scores so far; every logged run, best first."""
    optuna = require_optuna()
    if trials < 1:
        raise UserError(f"trials={trials} must be at least 1")
    base = with_validation(base)
    space = optuna_space(check_space(SPACE if space is None else space))
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, direction="maximize")
    study.add_trials(known_trials(base, space))  # optuna learns from the runs already logged, too
    trainer, helper = optuna_trainer(base, space)
    trainer.hyperparameter_search(
        hp_space=helper.hp_space,
        compute_objective=lambda metrics: metrics["eval_accuracy"],
        n_trials=trials,
        direction="maximize",
        backend="optuna",
        hp_name=helper.hp_name,
        storage=storage,
        study_name=study.study_name,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.NopPruner(),  # every trial runs to its end, like the random search's
    )
    return load_runs(runs_path(base))
