"""Where a search's study is kept, and how workers share it (notebook 06; docs/teaching.md, "A class sweep").

One machine: optuna's journal file `OUTPUT_DIR/sweep/study.log` (SQLite can fail with "database is locked" under
parallel processes: optuna's FAQ). Many machines: a database every worker shares. A point with a COMPLETE trial,
or RUNNING on another worker, is not trained again; a killed worker's trial, its heartbeat silent for
`GRACE_SECONDS`, is retried by optuna, so that `cover` trains a grid exactly once with any number of workers.
"""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from collections.abc import Callable, Iterator
from urllib.parse import unquote, urlsplit

import optuna

from .layout import make, run_folder
from .settings import Settings, UserError

HEARTBEAT_SECONDS = 3  # a database study: each running trial says it is alive this often
GRACE_SECONDS = 15  # silent this long (its worker was killed), a trial is failed and queued again
DONE, RUNNING, WAITING = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING,
                          optuna.trial.TrialState.WAITING)


def study_storage(base: Settings, url: str | None = None) -> optuna.storages.BaseStorage:
    """The study's storage: the database at `url` (shared by many machines), else the journal file `sweep/study.log`."""
    if url is not None:
        return database(url)
    make(run_folder(base).sweep)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run_folder(base).study)))


def where(base: Settings, url: str | None = None) -> str:
    """Where the study is kept, to print: the database URL with its password as `***`, or the journal file."""
    from sqlalchemy.engine import make_url

    return str(run_folder(base).study) if url is None else make_url(url).render_as_string(hide_password=True)


def masked(text: str, url: str) -> str:
    """`text` with the password of `url`, as written or percent-decoded (as a driver says it), as `***` everywhere."""
    written = urlsplit(url).password  # up to the host's @, the last one, as urllib reads it
    for secret in sorted({written, unquote(written)} if written else (), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


@contextlib.contextmanager
def database_errors(url: str | None, caught: type[Exception] | None = None) -> Iterator[None]:
    """Within it, a database that cannot be opened or is lost (SQLAlchemy's errors, or `caught`) ends in one line."""
    import sqlalchemy.exc

    try:
        yield
    except (caught or sqlalchemy.exc.SQLAlchemyError) as error:
        if url is None:
            raise
        words = " ".join(str(getattr(error, "orig", None) or error).split("(Background on")[0].split())  # the driver's
        raise UserError(masked(f"cannot use the study database {url}: {words}; check the URL (user, password, host, "
                               "port, database) and that the server is running", url)) from None


@functools.cache  # opened once a process (an error is not kept: the next call tries again)
def database(url: str) -> optuna.storages.RDBStorage:
    """optuna's storage in the database at `url`, with heartbeats and optuna's retry of a silent worker's trial."""
    if urlsplit(url).netloc.count("@") > 1:  # a raw @ in the password: SQLAlchemy would read part of it as the host
        raise UserError(masked(f"the storage URL {url} has more than one @ before its host; percent-encode @ as %40 "
                               "in the user name or password (postgresql://user:p%40ss@host/db)", url))
    # a lost connection replaced, and a host that drops packets an error after 10 s, not a hang
    engine = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}
    # any error here (a wrong password, no server, a bad URL, no driver) means the database cannot be opened
    with database_errors(url, Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat's, the retry's
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback())


class GivenUp(optuna.TrialPruned):
    """This worker's trial was failed by the others while it trained (its heartbeat stopped, then came back)."""


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


def cover(study: optuna.Study, points: dict[str, dict], objective: Callable[[optuna.Trial], float]) -> None:
    """Until each of `points` (by id) is COMPLETE: queue those no trial holds, train the next queued, or wait."""
    said = None
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a killed worker's trial, silent for GRACE_SECONDS: retried
        held: dict[str, set] = {}
        for trial in study.get_trials(deepcopy=False, states=(DONE, RUNNING, WAITING)):
            held.setdefault(trial_id(trial), set()).add(trial.state)
        left = [point for point in points if DONE not in held.get(point, ())]
        if not left:
            return
        for point in left:
            if not held.get(point):  # never queued, or its worker crashed (optuna retries only a silent one)
                study.enqueue_trial(points[point], user_attrs={"id": point})
        if any(WAITING in held.get(point, {WAITING}) for point in left):
            given_up = []

            def noting(trial: optuna.Trial) -> float:
                try:
                    return objective(trial)
                except GivenUp:
                    given_up.append(trial.number)
                    raise

            try:
                study.optimize(noting, n_trials=1)
            except ValueError:  # optuna cannot tell a trial the others failed: they have queued it again
                if not given_up:
                    raise
            said = None
        else:
            if said != left:
                print(f"waiting for {len(left)} point(s) being trained by other workers", flush=True)
                said = left
            time.sleep(HEARTBEAT_SECONDS)
