"""Search for better hyperparameters: one fine-tuning per point of a search space, every trial kept in optuna's study.

Introduced in notebook 06 (hyperparameters). A point sets a few `Settings` knobs; each trial is notebook 04's
`finetune.train` with those values, in its own folder `OUTPUT_DIR/sweep/ID`, scored on the validation split.
Optuna chooses the points (grid, random or TPE) and keeps every trial, with its settings, scores and loss curves,
in `OUTPUT_DIR/sweep/study.log`: a search run again skips the points already trained, and several searches can
share the folder at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import shutil
from pathlib import Path

import optuna
import pandas as pd

from . import finetune, models
from .settings import FIELDS, PROFILES, TINY_MODEL, Settings, UserError, coerce, warn
from .split import output_folder
from .tiny import is_tiny

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
    checked = check_space(space)
    return {name: getattr(base, name) for name, values in checked.items() if getattr(base, name) in values}


SAMPLERS = {  # how optuna chooses the points: every one, seeded random draws, or TPE learning from the scores so far
    "grid": lambda space, seed: optuna.samplers.GridSampler(space, seed=seed),
    "random": lambda space, seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda space, seed: optuna.samplers.TPESampler(seed=seed),
}
VALIDATION_SIZE = 0.1  # used when the settings have no validation split
STUDY_FILE = "study.log"
# Not searchable: the sweep sets them itself, or they change which rows every trial is scored on.
FIXED = ("profile", "output_dir", "cache_dir", "overwrite", "resume", "keep_checkpoints", "data", "text_column",
         "label_column", "test_size", "validation_size", "stratify", "split_seed", "train_rows", "test_rows")
# Settings that do not change what a trial learns, left out of its id.
NOT_LEARNED = ("profile", "output_dir", "cache_dir", "overwrite", "resume", "eval_batch_size", "logging_steps",
               "reuse_memory", "sort_predictions", "report_to", "keep_checkpoints")
RECORDED = ("profile", "model", "data", "seed", "validation_size")  # kept with each trial, with SPACE's knobs
METRICS = ("val_accuracy", "val_f1", "val_loss", "train_seconds")
NOT_SETTINGS = ("id", "study", "seed", "log_history", *METRICS)  # the table's columns that are no knob


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


def sweep_dir(base: Settings) -> Path:
    """The folder of the search: a folder per trial, and the study."""
    return Path(base.output_dir) / "sweep"


def run_id(settings: Settings) -> str:
    """A stable 10-character name for a trial: a hash of every setting that changes what it learns."""
    learned = {name: value for name, value in dataclasses.asdict(settings).items() if name not in NOT_LEARNED}
    return hashlib.sha1(json.dumps(learned, sort_keys=True).encode()).hexdigest()[:10]


def trial_settings(base: Settings, point: dict) -> Settings:
    """The settings of one trial: `base` with the point's values, in its own folder `sweep/ID`, replacing it."""
    values = {name: coerce(name, value) for name, value in point.items()}
    settings = dataclasses.replace(base, **values, overwrite=True, resume=False)
    return dataclasses.replace(settings, output_dir=str(sweep_dir(base) / run_id(settings)))


def point_id(base: Settings, point: dict) -> str:
    """The id the trial of `point` has (its folder name)."""
    return run_id(trial_settings(base, point))


def storage(base: Settings) -> optuna.storages.JournalStorage:
    """The study's storage: optuna's journal file `sweep/study.log`, safe for several processes on one machine.

    Chosen over SQLite (optuna's RDB storage): the journal appends each change under a file lock and every
    process replays it, which optuna documents for parallel processes on one machine (or NFS), whereas SQLite
    under concurrent writers can fail with "database is locked" (optuna's FAQ) and needs SQLAlchemy.
    """
    folder = output_folder(dataclasses.replace(base, output_dir=str(sweep_dir(base))))
    backend = optuna.storages.journal.JournalFileBackend(str(folder / STUDY_FILE))
    return optuna.storages.JournalStorage(backend)


def study_name(space: dict[str, list]) -> str:
    """The study of a space: optuna fixes each knob's values per study, so each space has its own."""
    return "space-" + hashlib.sha1(json.dumps(space, sort_keys=True).encode()).hexdigest()[:10]


def open_study(base: Settings, space: dict[str, list], search: str = "random", seed: int = 0) -> optuna.Study:
    """The study of `space` in the output folder (made, or reopened), drawing points with `search`'s sampler."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # each trial says its own one line
    space = check_space(space)
    return optuna.create_study(storage=storage(base), study_name=study_name(space), direction="maximize",
                               sampler=SAMPLERS[search](space, seed), load_if_exists=True)


def record(settings: Settings, point: dict, log_history: list[dict]) -> dict:
    """A trial as the study keeps it: id, validation scores of the kept epoch, time, its settings and log history."""
    evaluations = [entry for entry in log_history if "eval_accuracy" in entry]
    best = max(evaluations, key=lambda entry: entry["eval_accuracy"], default={})  # the first best: the kept epoch
    trained = next((entry for entry in reversed(log_history) if "train_runtime" in entry), {})
    scores = [best.get("eval_accuracy"), best.get("eval_f1"), best.get("eval_loss"), trained.get("train_runtime")]
    return {"id": run_id(settings), **dict(zip(METRICS, scores)),
            **{name: getattr(settings, name) for name in dict.fromkeys([*point, *SPACE, *RECORDED])},
            "log_history": log_history}


def run_trial(trial: optuna.Trial, base: Settings, space: dict[str, list]) -> float:
    """Train the point optuna chose, unless done or in another process's hands (then pruned); its accuracy."""
    point = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
    settings = trial_settings(base, point)
    label = f"trial {trial.number} (" + ", ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                                                  for name, value in point.items()) + ")"
    if run_id(settings) in {run["id"] for run in runs_of_study(trial.study)}:
        print(f"{label}: already in the study, skipped", flush=True)
        raise optuna.TrialPruned()
    try:
        with finetune.run_lock(settings):  # the trial's folder only: other points stay free for other searches
            saved = finetune.model_dir(settings)  # trained by another search, or by one stopped before it recorded
            history = json.loads((saved / "log_history.json").read_text()) if models.is_trained(saved) else None
            how = "trained before, recorded from its folder: validation accuracy" if history else "validation accuracy"
            if history is None:
                history = finetune.train(settings).state.log_history
                for folder in Path(settings.output_dir).glob("checkpoint-*"):  # the saved model stays
                    shutil.rmtree(folder, ignore_errors=True)
    except finetune.FolderInUse:
        print(f"{label}: being trained by another search, skipped", flush=True)
        raise optuna.TrialPruned() from None
    run = record(settings, point, history)
    trial.set_user_attr("run", run)
    print(f"{label}: {how} {run['val_accuracy']:.4f}", flush=True)
    return run["val_accuracy"]


def search(base: Settings, space: dict[str, list] | None = None, trials: int = 4, search: str = "random",
           seed: int = 0) -> pd.DataFrame:
    """Run `trials` trials of `space` (grid, or trials covering it: every point); the folder's trials, best first.

    With the default space (`default_space`), a random or TPE search tries the settings' own values first.
    """
    own = None if space is not None else own_point(base, default_space(base))
    space = check_space(default_space(base) if space is None else space)
    if search not in SAMPLERS:
        raise UserError(f"search {search!r} is unknown; choose one of {', '.join(SAMPLERS)}")
    if trials < 1:
        raise UserError(f"trials={trials} must be at least 1")
    if search == "random" and trials >= len(grid(space)):
        search = "grid"  # the budget covers every point: train each once, as random draws might repeat some
    base = with_validation(base)
    study = open_study(base, space, search, seed)
    if own and search != "grid":
        study.enqueue_trial(own, skip_if_exists=True)  # the baseline: the recommendation is never worse on validation
    done = {run["id"] for run in runs_of_study(study)}
    if search != "grid" or any(point_id(base, point) not in done for point in grid(space)):
        study.optimize(lambda trial: run_trial(trial, base, space), n_trials=None if search == "grid" else trials)
    return load_runs(base)


def runs_of_study(study: optuna.Study) -> list[dict]:
    """The completed trials of one study, as their records, with the study's name."""
    return [{"id": trial.user_attrs["run"]["id"], "study": study.study_name, **trial.user_attrs["run"]}
            for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]


def load_runs(base: Settings) -> pd.DataFrame:
    """Every completed trial of every study in the output folder, each point once, best first (then lowest loss)."""
    if not (sweep_dir(base) / STUDY_FILE).is_file():
        return pd.DataFrame(columns=["id", "study", *METRICS])
    store = storage(base)
    runs = [run for name in optuna.get_all_study_names(store)
            for run in runs_of_study(optuna.load_study(study_name=name, storage=store))]
    return best_first(pd.DataFrame(runs).drop_duplicates("id"))


def best_first(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows by validation accuracy, highest first, then by validation loss, lowest first."""
    order = runs.sort_values(["val_accuracy", "val_loss"], ascending=[False, True], na_position="last", kind="stable")
    return order.reset_index(drop=True)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table without the long columns (log history, study, model and data paths): what to compare."""
    return runs.drop(columns=[name for name in ("log_history", "study", "model", "data", "profile") if name in runs])


def _setting_columns(runs: pd.DataFrame) -> list[str]:
    """The columns that make a setting: every recorded knob but the seed."""
    return [name for name in runs.columns if name not in NOT_SETTINGS]


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
        seeds=("val_accuracy", "size"), val_accuracy=("val_accuracy", "mean"), val_accuracy_min=("val_accuracy", "min"),
        val_accuracy_max=("val_accuracy", "max"), val_loss=("val_loss", "mean"))
    return best_first(scores.reset_index())


def table(runs: pd.DataFrame) -> str:
    """The summary as text, 4 significant digits."""
    return summary(runs).to_string(index=False, float_format=lambda value: f"{value:.4g}")


def settings_of(run: pd.Series | dict, base: Settings) -> Settings:
    """The settings a trial trained with: `base` with its recorded values, in its folder (notebook 06)."""
    values = {name: coerce(name, run[name]) for name in FIELDS if name in run and not pd.isna(run[name])}
    return dataclasses.replace(base, **values, output_dir=str(sweep_dir(base) / run["id"]))


def knobs(run: pd.Series) -> dict:
    """The searched values of a trial: its knobs but the seed and the base settings every trial shares (notebook 06)."""
    return {name: run[name] for name in run.index if name in FIELDS and name not in RECORDED and not pd.isna(run[name])}


def best_call(runs: pd.DataFrame) -> str:
    """The `helpers.get_settings(...)` call with the best run's values, to paste into notebook 04."""
    if runs.empty:
        raise UserError("no trials in the study yet; run a search first")
    best = runs.iloc[0]
    values = {name: coerce(name, best[name]) for name in runs.columns
              if name in FIELDS and name != "profile" and not pd.isna(best[name]) and not _profile_gives(best, name)}
    arguments = [repr(best["profile"]), *(f"{name}={value!r}" for name, value in values.items())]
    return f"helpers.get_settings({', '.join(arguments)})"


def _profile_gives(run: pd.Series, name: str) -> bool:
    """True for the recorded base settings (model, data, seed) that the run's profile gives anyway."""
    if name not in ("model", "data", "seed"):
        return False
    default = PROFILES[run["profile"]].get(name, FIELDS[name].default)
    return run[name] == default or (default == TINY_MODEL and is_tiny(run[name]))


def curves(runs: pd.DataFrame, top: int = 4) -> dict[str, pd.DataFrame]:
    """The loss curves of the best `top` runs, from the history kept in the study (nothing is trained again)."""
    return {f"{run['id']} (val acc {run['val_accuracy']:.3f})": finetune.loss_curves(run["log_history"])
            for _, run in runs.head(top).iterrows()}
