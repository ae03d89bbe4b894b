"""Search for better hyperparameters: one fine-tuning per point of a search space, every trial kept in optuna's study.

Introduced in notebook 06 (hyperparameters). A point sets a few `Settings` knobs; each trial is notebook 04's
`finetune.train` with those values, in its own folder `OUTPUT_DIR/sweep/ID`, scored on the validation split.
Optuna chooses the points (grid, random or TPE) and keeps every trial, with its settings, scores and loss curves,
in `OUTPUT_DIR/sweep/study.log`: a search run again skips the points already trained, and several searches can
share the folder at once.

Many machines, one study (docs/teaching.md, "A class sweep"): with `storage="postgresql://user:pw@host/db"` the
study lives in a database that every worker shares, and nothing else is shared: each trains into its own folder. A
point is matched across workers by its id (the settings it learns with, a local model or data file by its name). A
point with a COMPLETE trial, or RUNNING on another worker (the lower trial number wins), is not trained again. Each
RUNNING trial beats optuna's heartbeat (`RDBStorage(heartbeat_interval=HEARTBEAT_SECONDS, grace_period=...)`): a
worker killed mid-trial falls silent, after `GRACE_SECONDS` its trial is failed, and a grid search queues its point
again, so a grid is covered exactly once by any number of workers, each staying until the last point is done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import shutil
import socket
import time
import warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import optuna
import pandas as pd

from . import finetune, layout, models
from .layout import STUDY_FILE, run_folder  # noqa: F401 (STUDY_FILE: notebook 06 names it sweep.STUDY_FILE)
from .settings import FIELDS, PROFILES, TINY_MODEL, Settings, UserError, coerce, flag, having, tagged, warn
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
# Not searchable: the sweep sets them itself (the folders), or they change which rows every trial is scored on.
FIXED = having("profile", "split", "folder")
# Settings that do not change what a trial learns, left out of its id (which stays the same across versions).
NOT_LEARNED = having("profile", "folder", "run")
RECORDED = tuple(tagged("recorded"))  # kept with each trial, with SPACE's knobs
METRICS = ("val_accuracy", "val_f1", "val_loss", "train_seconds")
NOT_SETTINGS = ("id", "study", "seed", "log_history", *METRICS)  # the table's columns that are no knob
HEARTBEAT_SECONDS = 3  # a database study: each running trial says it is alive this often
GRACE_SECONDS = 15  # silent this long (its worker was killed), a trial is failed and its point queued again
DONE, RUNNING, WAITING = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING,
                          optuna.trial.TrialState.WAITING)


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
    return run_folder(base).sweep


def portable(name: str, value):
    """A setting as every machine names it: a local model folder or data file by its name (paths differ); the tiny
    model's folder before it is built too, so that a point keeps its id."""
    if name in ("model", "data") and isinstance(value, str) and (
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
    """The settings of one trial: `base` with the point's values, in its own folder `sweep/ID`, replacing it."""
    values = {name: coerce(name, value) for name, value in point.items()}
    settings = dataclasses.replace(base, **values, overwrite=True, resume=False)
    return dataclasses.replace(settings, output_dir=str(run_folder(base).trial(run_id(settings))))


def point_id(base: Settings, point: dict) -> str:
    """The id the trial of `point` has (its folder name)."""
    return run_id(trial_settings(base, point))


def study_storage(base: Settings, url: str | None = None) -> optuna.storages.BaseStorage:
    """The study's storage: the database at `url` (shared by many machines), else the journal file `sweep/study.log`.

    The journal, safe for several processes on one machine, is chosen over SQLite for one machine: it appends each
    change under a file lock and every process replays it, which optuna documents for parallel processes on one
    machine (or NFS), whereas SQLite under concurrent writers can fail with "database is locked" (optuna's FAQ).
    """
    if url is not None:
        return database(url)
    layout.make(run_folder(base).sweep)
    backend = optuna.storages.journal.JournalFileBackend(str(run_folder(base).study))
    return optuna.storages.JournalStorage(backend)


def masked(text: str, url: str) -> str:
    """`text` as it may be printed: `url` in it with its password as `***`, and the password itself (as written, or
    percent-decoded as the driver gets it) as `***` wherever else it appears, as in a driver's reason.

    Every message that carries a storage URL or a database driver's words goes through here (notebook 06)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")  # the host follows the last @, as urllib reads it
    user, _, password = userinfo.partition(":")
    if not at or not password:
        return text
    text = text.replace(url, urlunsplit(parts._replace(netloc=f"{user}:***@{host}")))
    for secret in sorted({password, unquote(password)}, key=len, reverse=True):  # as written, and as sent
        text = text.replace(secret, "***")
    return text


def without_password(url: str) -> str:
    """`url` as it may be printed: its password, if any, as `***` (`masked`)."""
    return masked(url, url)


def check_url(url: str) -> str:
    """`url`, refused in one line before anything connects when its user part holds a raw `@` (more than one `@`
    before the host): SQLAlchemy and the driver would read part of the password as the host, and print it."""
    if urlsplit(url).netloc.count("@") > 1:
        raise UserError(f"the storage URL {without_password(url)} has more than one @ before its host; "
                        "percent-encode @ as %40 in the user name or password (postgresql://user:p%40ss@host/db)")
    return url


def reason(error: BaseException) -> str:
    """A database error in one line: the driver's own words (SQLAlchemy's background link dropped), unmasked."""
    return " ".join(str(getattr(error, "orig", None) or error).split("(Background on")[0].split())


@contextlib.contextmanager
def database_errors(url: str | None):
    """Within it, a database that cannot be opened or is lost ends in one line, its URL and words `masked`."""
    import sqlalchemy.exc

    try:
        yield
    except sqlalchemy.exc.SQLAlchemyError as error:  # SQLAlchemy's, wrapping the driver's
        if url is None:
            raise
        raise UserError(masked(f"cannot use the study database {url}: {reason(error)}; check the URL (user, "
                               "password, host, port, database) and that the server is running", url)) from None


_databases: dict[str, optuna.storages.RDBStorage] = {}


def database(url: str) -> optuna.storages.RDBStorage:
    """optuna's storage in the database at `url`, opened once a process, with the heartbeat; one line if unreachable."""
    if url not in _databases:
        check_url(url)
        engine = {} if url.startswith("sqlite") else {"pool_pre_ping": True}
        if url.startswith("postgresql"):
            engine["connect_args"] = {"connect_timeout": 10}  # a host that drops packets: an error, not a hang
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat's
                _databases[url] = optuna.storages.RDBStorage(
                    url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS)
        except Exception as error:  # SQLAlchemy's and the driver's: a wrong password, no server, a bad URL, no driver
            raise UserError(masked(f"cannot open the study database {url}: {reason(error)}; check the URL (user, "
                                   "password, host, port, database) and that the server is running", url)) from None
    return _databases[url]


def where(base: Settings, url: str | None = None) -> str:
    """Where the study is kept, to print: the database URL without its password, or the journal file."""
    return without_password(url) if url is not None else str(run_folder(base).study)


def study_name(space: dict[str, list]) -> str:
    """The study of a space: optuna fixes each knob's values per study, so each space has its own."""
    return "space-" + hashlib.sha1(json.dumps(space, sort_keys=True).encode()).hexdigest()[:10]


def open_study(base: Settings, space: dict[str, list], search: str = "random", seed: int = 0, *,
               storage: str | None = None) -> optuna.Study:
    """The study of `space` in the output folder, or the database at `storage` (made, or reopened), drawing points
    with `search`'s sampler."""
    space = check_space(space)
    return optuna.create_study(storage=study_storage(base, storage), study_name=study_name(space),
                               direction="maximize", sampler=SAMPLERS[search](space, seed), load_if_exists=True)


def record(settings: Settings, point: dict, log_history: list[dict]) -> dict:
    """A trial as the study keeps it: id, validation scores of the kept epoch, time, its settings and log history."""
    evaluations = [entry for entry in log_history if "eval_accuracy" in entry]
    best = max(evaluations, key=lambda entry: entry["eval_accuracy"], default={})  # the first best: the kept epoch
    trained = next((entry for entry in reversed(log_history) if "train_runtime" in entry), {})
    scores = [best.get("eval_accuracy"), best.get("eval_f1"), best.get("eval_loss"), trained.get("train_runtime")]
    return {"id": run_id(settings), **dict(zip(METRICS, scores)),
            **{name: getattr(settings, name)
               for name in dict.fromkeys([*point, *SPACE, *RECORDED, *changed(settings)])},
            "log_history": log_history}


def changed(settings: Settings) -> list[str]:
    """The settings that change what a trial learns and differ from its profile's (e.g. `max_steps`): kept with the
    trial, so that the best settings printed train the same model."""
    return [name for name in FIELDS if name not in NOT_LEARNED and not _profile_gives(
        {"profile": settings.profile, name: getattr(settings, name)}, name, every=True)]


class GivenUp(optuna.TrialPruned):
    """This worker's trial was failed by the others while it trained (its heartbeat stopped, then came back)."""


def worker() -> str:
    """This process as a study's trials name it: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def trial_id(trial: optuna.trial.FrozenTrial) -> str | None:
    """The id of the point a trial trains (set when it starts, or when queued), or trained (its record)."""
    return trial.user_attrs.get("id") or trial.user_attrs.get("run", {}).get("id")


def taken(study: optuna.Study, trial: optuna.Trial, point: str, shared: bool) -> str | None:
    """Why another trial of the study holds `point`: done, or (`shared`) running with a lower number; else None."""
    for other in study.get_trials(deepcopy=False, states=(DONE, RUNNING) if shared else (DONE,)):
        if other.number != trial.number and trial_id(other) == point:
            if other.state == DONE:
                return "already in the study"
            if other.number < trial.number:  # two workers drew it at once: the first one trains it
                return f"being trained by another worker (trial {other.number})"
    return None


def run_trial(trial: optuna.Trial, base: Settings, space: dict[str, list], shared: bool = False) -> float:
    """Train the point optuna chose, unless done or in another worker's hands (then pruned); its accuracy.

    `shared` (a database): a trial RUNNING elsewhere holds its point; checked again after training, so that a point
    drawn by two workers at once has one COMPLETE trial. Else the trial folder's lock says what is running here.
    """
    point = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
    settings = trial_settings(base, point)
    trial.set_user_attr("id", run_id(settings))  # other workers see which point this trial holds
    trial.set_user_attr("worker", worker())  # and the dashboard, which machine
    label = f"trial {trial.number} (" + ", ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                                                  for name, value in point.items()) + ")"
    if why := taken(trial.study, trial, run_id(settings), shared):
        print(f"{label}: {why}, skipped", flush=True)
        raise optuna.TrialPruned()
    try:
        with finetune.run_lock(settings):  # the trial's folder only: other points stay free for other searches
            saved = run_folder(settings).model  # trained by another search, or by one stopped before it recorded
            history = json.loads((saved / "log_history.json").read_text()) if models.is_trained(saved) else None
            how = "trained before, recorded from its folder: validation accuracy" if history else "validation accuracy"
            if history is None:
                history = finetune.train(settings, announce=False, lock=False).state.log_history  # its line: below
                for folder in run_folder(settings).checkpoint_folders():  # the saved model stays
                    shutil.rmtree(folder, ignore_errors=True)
    except finetune.FolderInUse:
        print(f"{label}: being trained by another search, skipped", flush=True)
        raise optuna.TrialPruned() from None
    run = record(settings, point, history)
    if shared and trial.study.get_trials(deepcopy=False)[trial.number].state != RUNNING:  # failed by the others
        print(f"{label}: given up by the other workers (no heartbeat for {GRACE_SECONDS} s: was this machine "
              "asleep?); its point is queued again", flush=True)
        raise GivenUp()
    if shared and (why := taken(trial.study, trial, run["id"], shared)):
        print(f"{label}: {why}; this worker's model stays in its folder, unrecorded", flush=True)
        raise optuna.TrialPruned()
    trial.set_user_attr("run", run)
    print(f"{label}: {how} {run['val_accuracy']:.4f}", flush=True)
    return run["val_accuracy"]


def cover(study: optuna.Study, base: Settings, space: dict[str, list]) -> None:
    """A grid on a shared database: until every point has a COMPLETE trial, train the next one queued (each free
    point is queued as a WAITING trial, which one worker takes), or wait for those other workers are training."""
    points = {point_id(base, point): point for point in grid(space)}
    said = None
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a killed worker's trial, silent for GRACE_SECONDS: FAIL
        held: dict[str, set] = {}
        for trial in study.get_trials(deepcopy=False, states=(DONE, RUNNING, WAITING)):
            held.setdefault(trial_id(trial), set()).add(trial.state)
        left = [point for point in points if DONE not in held.get(point, ())]
        if not left:
            return
        for point in left:
            if not held.get(point):
                study.enqueue_trial(points[point], user_attrs={"id": point})
        if any(WAITING in held.get(point, {WAITING}) for point in left):
            given_up = []

            def objective(trial: optuna.Trial) -> float:
                try:
                    return run_trial(trial, base, space, shared=True)
                except GivenUp:
                    given_up.append(trial.number)
                    raise

            try:
                study.optimize(objective, n_trials=1)
            except ValueError:  # optuna cannot tell a trial the others failed: its point is simply queued again
                if not given_up:
                    raise
            said = None
        else:
            if said != left:
                print(f"waiting for {len(left)} point(s) being trained by other workers", flush=True)
                said = left
            time.sleep(HEARTBEAT_SECONDS)


def search(base: Settings, space: dict[str, list] | None = None, trials: int = 4, search: str = "random",
           seed: int = 0, *, storage: str | None = None) -> pd.DataFrame:
    """Run `trials` trials of `space` (grid, or trials covering it: every point); the study's trials, best first.

    With the default space (`default_space`), a random or TPE search tries the settings' own values first.
    `storage`: an optuna storage URL (`postgresql://user:password@host:port/db`) that many workers share, each
    training into its own folder; by default the journal file `sweep/study.log` in the output folder.
    """
    if storage is not None:
        check_url(storage)  # before anything connects
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
        return _search(base, space, own, trials, search, seed, storage)


def _search(base: Settings, space: dict[str, list], own: dict | None, trials: int, search: str, seed: int,
            storage: str | None) -> pd.DataFrame:
    """`search` once its arguments are checked."""
    shared = storage is not None
    if shared and search == "grid":  # the points come from the study's queue; optuna's GridSampler would draw more
        cover(open_study(base, space, "random", seed, storage=storage), base, space)
        return load_runs(base, storage=storage)
    study = open_study(base, space, search, seed, storage=storage)
    if own and search != "grid":
        study.enqueue_trial(own, skip_if_exists=True)  # the baseline: the recommendation is never worse on validation
    done = {run["id"] for run in runs_of_study(study)}
    if search != "grid" or any(point_id(base, point) not in done for point in grid(space)):
        study.optimize(lambda trial: run_trial(trial, base, space, shared),
                       n_trials=None if search == "grid" else trials)
    return load_runs(base, storage=storage)


def runs_of_study(study: optuna.Study) -> list[dict]:
    """The completed trials of one study, as their records, with the study's name."""
    return [{"id": trial.user_attrs["run"]["id"], "study": study.study_name, **trial.user_attrs["run"]}
            for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]


def load_runs(base: Settings, *, storage: str | None = None) -> pd.DataFrame:
    """Every completed trial of every study in the output folder, or the database at `storage`, each point once,
    best first (then lowest loss)."""
    if storage is None and not run_folder(base).study.is_file():
        return pd.DataFrame(columns=["id", "study", *METRICS])
    store = study_storage(base, storage)
    runs = [run for name in optuna.get_all_study_names(store)
            for run in runs_of_study(optuna.load_study(study_name=name, storage=store))]
    if not runs:
        return pd.DataFrame(columns=["id", "study", *METRICS])
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
    return dataclasses.replace(base, **values, output_dir=str(run_folder(base).trial(run["id"])))


def knobs(run: pd.Series) -> dict:
    """The searched values of a trial: its knobs but the seed and the base settings every trial shares (notebook 06)."""
    return {name: run[name] for name in run.index
            if name in FIELDS and name not in RECORDED and name not in FIXED and not pd.isna(run[name])}


def best_values(runs: pd.DataFrame) -> tuple[str, dict]:
    """The profile of the best run (the first row) and its recorded settings the profile does not give."""
    if runs.empty:
        raise UserError("no trials in the study yet; run a search first")
    best = runs.iloc[0]
    return best["profile"], {name: coerce(name, best[name]) for name in runs.columns
                             if name in FIELDS and name != "profile" and not pd.isna(best[name])
                             and not _profile_gives(best, name)}


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


def _profile_gives(run: pd.Series | dict, name: str, every: bool = False) -> bool:
    """True for the recorded base settings (model, data, seed; `every`: any setting) that the run's profile gives
    anyway."""
    if name not in ("model", "data", "seed") and not every:
        return False
    default = PROFILES[run["profile"]].get(name, FIELDS[name].default)
    return run[name] == default or (default == TINY_MODEL and is_tiny(run[name]))


def curves(runs: pd.DataFrame, top: int = 4) -> dict[str, pd.DataFrame]:
    """The loss curves of the best `top` runs, from the history kept in the study (nothing is trained again)."""
    return {f"{run['id']} (val acc {run['val_accuracy']:.3f})": finetune.loss_curves(run["log_history"])
            for _, run in runs.head(top).iterrows()}
