"""What a search found, read back from its study (notebook 06): the trials best first, per setting over seeds, the
best settings as a `get_settings` call or a `train` command. Each trial's record (`sweep.record`) holds all of it."""

from __future__ import annotations

import dataclasses

import optuna
import pandas as pd

from . import finetune
from .layout import run_folder
from .settings import FIELDS, PROFILES, TINY_MODEL, Settings, UserError, coerce, flag, having, is_tiny, tagged
from .sweep_storage import DONE, study_storage

METRICS = ("val_accuracy", "val_f1", "val_loss", "train_seconds")
NOT_SETTINGS = ("id", "study", "log_history", *METRICS, *tagged("repeats"))  # no knob (runs over seeds: one setting)
RECORDED = tuple(tagged("recorded"))  # kept with each trial, with the searched knobs


def load_runs(base: Settings, *, storage: str | None = None) -> pd.DataFrame:
    """The completed trials of every study in the output folder, or the database at `storage`: each once, best first."""
    runs = []
    if storage is not None or run_folder(base).study.is_file():
        store = study_storage(base, storage)
        studies = [optuna.load_study(study_name=name, storage=store) for name in optuna.get_all_study_names(store)]
        runs = [{**trial.user_attrs["run"], "study": study.study_name}
                for study in studies for trial in study.get_trials(deepcopy=False, states=(DONE,))]
    if not runs:
        return pd.DataFrame(columns=["id", "study", *METRICS])
    return best_first(pd.DataFrame(runs).drop_duplicates("id"))


def best_first(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows by validation accuracy, highest first, then by validation loss, lowest first."""
    order = runs.sort_values(["val_accuracy", "val_loss"], ascending=[False, True], na_position="last", kind="stable")
    return order.reset_index(drop=True)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table without the long columns (log history, study, model and data paths): what to compare."""
    return runs.drop(columns=["log_history", "study", *tagged("path"), *having("profile")], errors="ignore")


def table(runs: pd.DataFrame) -> str:
    """The summary as text, 4 significant digits."""
    return summary(runs).to_string(index=False, float_format=lambda value: f"{value:.4g}")


def runs_of(runs: pd.DataFrame, setting: pd.Series) -> pd.DataFrame:
    """The runs of one row of `by_setting`: those with its values in every setting column (NaN matching NaN)."""
    columns = runs[runs.columns.difference(NOT_SETTINGS, sort=False)]
    values = setting[columns.columns]
    return runs[((columns == values) | (columns.isna() & values.isna())).all(axis=1)]


def by_setting(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per setting (runs differing only in seed): seeds, mean and range of validation accuracy, best first."""
    if runs.empty:
        return runs
    scores = runs.groupby(list(runs.columns.difference(NOT_SETTINGS, sort=False)), dropna=False, sort=False).agg(
        seeds=("val_accuracy", "size"), val_accuracy=("val_accuracy", "mean"), val_accuracy_min=("val_accuracy", "min"),
        val_accuracy_max=("val_accuracy", "max"), val_loss=("val_loss", "mean"))
    return best_first(scores.reset_index())


def settings_of(run: pd.Series | dict, base: Settings) -> Settings:
    """The settings a trial trained with: `base` with its recorded values, in its folder (notebook 06)."""
    values = {name: coerce(name, run[name]) for name in FIELDS if name in run and not pd.isna(run[name])}
    return dataclasses.replace(base, **values, output_dir=str(run_folder(base).trial(run["id"])))


def profile_gives(profile: str, name: str, value) -> bool:
    """Whether `value` is what `profile` gives setting `name` anyway (its tiny model wherever it was built)."""
    default = PROFILES[profile].get(name, FIELDS[name].default)
    return value == default or (default == TINY_MODEL and is_tiny(value))


def best_values(runs: pd.DataFrame) -> tuple[str, dict]:
    """The profile of the best run (the first row), its searched settings, and those recorded with every trial
    (`recorded` in `Settings`) where the profile does not give them."""
    if runs.empty:
        raise UserError("no trials in the study yet; run a search first")
    best = runs.iloc[0]
    return best["profile"], {name: coerce(name, best[name]) for name in runs.columns
                             if name in FIELDS and name != "profile" and not pd.isna(best[name])
                             and not (name in RECORDED and profile_gives(best["profile"], name, best[name]))}


def best_call(runs: pd.DataFrame) -> str:
    """The `helpers.get_settings(...)` call with the best run's values, to paste into notebook 04."""
    profile, values = best_values(runs)
    arguments = [repr(profile), *(f"{name}={value!r}" for name, value in values.items())]
    return f"helpers.get_settings({', '.join(arguments)})"


def best_command(runs: pd.DataFrame) -> str:
    """`python -m helpers train ...` with the best run's values as flags: it trains the trial's model again."""
    profile, values = best_values(runs)
    flags = [flag(name, value) for name, value in values.items()]
    return " ".join(["python -m helpers train --profile", profile, *flags])


def curves(runs: pd.DataFrame, top: int = 4) -> dict[str, pd.DataFrame]:
    """The loss curves of the best `top` runs, from the history kept in the study (nothing is trained again)."""
    return {f"{run['id']} (val acc {run['val_accuracy']:.3f})": finetune.loss_curves(run["log_history"])
            for _, run in runs.head(top).iterrows()}
