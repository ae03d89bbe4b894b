"""Search for better hyperparameters: one fine-tuning per point of a search space, every trial kept in optuna's study.

Introduced in notebook 06 (hyperparameters). Each trial is notebook 04's training with a point's values, in its own
folder `OUTPUT_DIR/sweep/ID`, scored on the validation split. Optuna chooses the points (`SAMPLERS`) and keeps every
trial in the study (`sweep_storage`), so a search run again skips the points trained; `sweep_results` reads it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import socket
from pathlib import Path

import optuna
import pandas as pd

from . import finetune, models
from .card import kept_evaluation
from .layout import LOG_HISTORY, FolderInUse, run_folder, run_lock
from .settings import FIELDS, Settings, UserError, coerce, having, is_tiny, tagged, warn
from .sweep_results import (METRICS, RECORDED, best_call, best_command, by_setting, curves, load_runs,  # noqa: F401
                            profile_gives, runs_of, settings_of, summary, table)  # notebook 06 and the CLI: sweep.X
from .sweep_storage import (DONE, GRACE_SECONDS, RUNNING, GivenUp, cover, database_errors,
                            study_storage, taken, trial_id, where)  # noqa: F401 (where: sweep.where)

# The search space a learner edits: each knob (a `Settings` field) and the values to try. Its learning rates are
# those of the default 5e-5; `default_space` scales them to the settings' own (the tiny profile's is 3e-3).
SPACE: dict[str, list] = {
    "learning_rate": [2e-5, 5e-5, 1e-4, 2e-4],
    "epochs": [1, 2, 3],
    "train_batch_size": [16, 32],
    "warmup_steps": [0, 0.1],
    "weight_decay": [0.0, 0.01],
}


def default_space(base: Settings) -> dict[str, list]:
    """`SPACE` with its learning rates as multiples of `base.learning_rate` (x0.4, x1, x2, x4), as notebook 06's."""
    factors = [rate / FIELDS["learning_rate"].default for rate in SPACE["learning_rate"]]
    return SPACE | {"learning_rate": [float(f"{factor * base.learning_rate:.3g}") for factor in factors]}


def own_point(base: Settings, space: dict[str, list]) -> dict:
    """The settings' own values of the knobs of `space` that hold them (the rest left to the search to choose)."""
    return {name: getattr(base, name) for name, values in space.items() if getattr(base, name) in values}


SAMPLERS = {  # how optuna chooses the points: every one, seeded random draws, or TPE learning from the scores so far
    "grid": lambda space, seed: optuna.samplers.GridSampler(space, seed=seed),
    "random": lambda space, seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda space, seed: optuna.samplers.TPESampler(seed=seed),
}
VALIDATION_SIZE = 0.1  # used when the settings have no validation split
# Not searchable: the sweep sets them itself (the folders), or they change which rows every trial is scored on.
FIXED = having("profile", "split", "folder")
# Settings that do not change what a trial learns, left out of its id (which stays the same across versions).
NOT_LEARNED = having("profile", "folder", "run")
PATHS = tuple(tagged("path"))  # settings that may name a local file or folder


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


def with_validation(base: Settings) -> Settings:
    """`base`, with a validation split of `VALIDATION_SIZE` (said once) when it has none: trials never see test rows."""
    if base.validation_size:
        return base
    warn(f"trials are compared on validation rows, so this search uses validation_size={VALIDATION_SIZE}; "
         "the test rows stay unseen")
    return dataclasses.replace(base, validation_size=VALIDATION_SIZE)


def portable(name: str, value):
    """A setting as every machine names it, for ids: a local model or data file (the tiny model too) by its name."""
    if name in PATHS and isinstance(value, str) and (
            is_tiny(value) or os.path.isabs(value) or os.path.exists(value)):
        return Path(value).name
    return value


# Settings that learn, added after trial ids were first given, at the value that learns as before: left out of the
# id there, so that a study's earlier trials keep theirs.
ADDED_LATER = {"freeze_embeddings": False, "train_layers": "all", "lora_rank": 0, "lora_alpha": 16}


def run_id(settings: Settings) -> str:
    """A stable 10-character name for a trial, the same on every machine: a hash of the settings it learns with."""
    learned = {name: portable(name, value) for name, value in dataclasses.asdict(settings).items()
               if name not in NOT_LEARNED and not (name in ADDED_LATER and ADDED_LATER[name] == value)}
    return hashlib.sha1(json.dumps(learned, sort_keys=True).encode()).hexdigest()[:10]


def trial_settings(base: Settings, point: dict) -> Settings:
    """The settings of one trial: `base` with the point's values, in its own folder `sweep/ID`, replacing it; its
    checkpoints removed once its model is saved."""
    values = {name: coerce(name, value) for name, value in point.items()}
    settings = dataclasses.replace(base, **values, overwrite=True, resume=False, keep_checkpoints=False)
    return dataclasses.replace(settings, output_dir=str(run_folder(base).trial(run_id(settings))))


def point_id(base: Settings, point: dict) -> str:
    """The id the trial of `point` has (its folder name)."""
    return run_id(trial_settings(base, point))


def study_name(space: dict[str, list]) -> str:
    """The study of a space: optuna fixes each knob's values per study, so each space has its own."""
    return "space-" + hashlib.sha1(json.dumps(space, sort_keys=True).encode()).hexdigest()[:10]


def open_study(base: Settings, space: dict[str, list], search: str = "random", seed: int = 0, *,
               storage: str | None = None) -> optuna.Study:
    """The study of `space` in the output folder, or the database at `storage`, drawing with `search`'s sampler."""
    space = check_space(space)
    return optuna.create_study(storage=study_storage(base, storage), study_name=study_name(space),
                               direction="maximize", sampler=SAMPLERS[search](space, seed), load_if_exists=True)


def record(settings: Settings, point: dict, log_history: list[dict]) -> dict:
    """A trial as the study keeps it: id, validation scores of the kept epoch, time, its settings and log history."""
    best = kept_evaluation(log_history)  # the kept epoch
    trained = next((entry for entry in reversed(log_history) if "train_runtime" in entry), {})
    scores = [best.get("eval_accuracy"), best.get("eval_f1"), best.get("eval_loss"), trained.get("train_runtime")]
    return {"id": run_id(settings), **dict(zip(METRICS, scores)),
            **{name: getattr(settings, name)
               for name in dict.fromkeys([*point, *SPACE, *RECORDED, *changed(settings)])},
            "log_history": log_history}


def changed(settings: Settings) -> list[str]:
    """The learned settings other than the profile's (e.g. `max_steps`): recorded, so the best settings train alike."""
    return [name for name in FIELDS
            if name not in NOT_LEARNED and not profile_gives(settings.profile, name, getattr(settings, name))]


def run_trial(trial: optuna.Trial, base: Settings, space: dict[str, list], shared: bool = False) -> float:
    """Train the point optuna chose, unless done or held by another worker or search (then pruned); its accuracy."""
    point = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
    settings = trial_settings(base, point)
    trial.set_user_attr("id", run_id(settings))  # other workers see which point this trial holds
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # and the dashboard, which machine
    label = f"trial {trial.number} (" + ", ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                                                  for name, value in point.items()) + ")"
    if why := taken(trial.study, trial, run_id(settings), shared):
        print(f"{label}: {why}, skipped", flush=True)
        raise optuna.TrialPruned()
    try:
        with run_lock(settings):  # the trial's folder only: other points stay free for other searches
            saved = run_folder(settings).model  # trained by another search, or by one stopped before it recorded
            history = json.loads((saved / LOG_HISTORY).read_text()) if models.is_trained(saved) else None
            how = "trained before, recorded from its folder: validation accuracy" if history else "validation accuracy"
            if history is None:
                history = finetune.run(settings, announce=False)[0].state.log_history  # its line: below
    except FolderInUse:
        print(f"{label}: being trained by another search, skipped", flush=True)
        raise optuna.TrialPruned() from None
    run = record(settings, point, history)
    if shared and trial.study.get_trials(deepcopy=False)[trial.number].state != RUNNING:  # failed by the others
        print(f"{label}: given up by the other workers (no heartbeat for {GRACE_SECONDS} s: was this machine "
              "asleep?); its point is queued again", flush=True)
        raise GivenUp()
    if shared and (why := taken(trial.study, trial, run["id"], shared)):  # drawn by two workers at once: one records
        print(f"{label}: {why}; this worker's model stays in its folder, unrecorded", flush=True)
        raise optuna.TrialPruned()
    trial.set_user_attr("run", run)
    print(f"{label}: {how} {run['val_accuracy']:.4f}", flush=True)
    return run["val_accuracy"]


def search(base: Settings, space: dict[str, list] | None = None, trials: int = 4, search: str = "random",
           seed: int = 0, *, storage: str | None = None) -> pd.DataFrame:
    """Run `trials` trials of `space` (grid: every point) in the study at `storage` (`sweep_storage`); all, best first.

    With the default space (`default_space`), a random or TPE search tries the settings' own values first."""
    own = None if space is not None else own_point(base, default_space(base))
    space = check_space(default_space(base) if space is None else space)
    if search not in SAMPLERS:
        raise UserError(f"search {search!r} is unknown; choose one of {', '.join(SAMPLERS)}")
    if trials < 1:
        raise UserError(f"trials={trials} must be at least 1")
    if search == "random" and trials >= len(grid(space)):
        search = "grid"  # the budget covers every point: train each once, as random draws might repeat some
    base = with_validation(base)
    with database_errors(storage):  # a database lost mid-search: one line, its password masked
        if storage is not None and search == "grid":  # points from the study's queue: GridSampler draws more
            points = {point_id(base, point): point for point in grid(space)}
            cover(open_study(base, space, "random", seed, storage=storage), points,
                  lambda trial: run_trial(trial, base, space, shared=True))
            return load_runs(base, storage=storage)
        study = open_study(base, space, search, seed, storage=storage)
        if own and search != "grid":
            study.enqueue_trial(own, skip_if_exists=True)  # the baseline: the recommendation is never worse
        done = {trial_id(trial) for trial in study.get_trials(deepcopy=False, states=(DONE,))}
        if search != "grid" or any(point_id(base, point) not in done for point in grid(space)):
            study.optimize(lambda trial: run_trial(trial, base, space, storage is not None),
                           n_trials=None if search == "grid" else trials)
        return load_runs(base, storage=storage)


def knobs(run: pd.Series) -> dict:
    """The searched values of a trial: its knobs but the seed and the base settings every trial shares (notebook 06)."""
    return {name: run[name] for name in run.index
            if name in FIELDS and name not in RECORDED and name not in FIXED and not pd.isna(run[name])}
