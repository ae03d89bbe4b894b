"""Sharing a study (helpers/sweep_storage.py): one optuna study in a real PostgreSQL shared by sweeps on "different
machines" (processes with their own working, output and cache folders): the grid covered once, a killed worker's
point retried by optuna and retrained, one line for a database out of reach, the password masked, and
optuna-dashboard listing the study, over HTTP and in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback

from helpers import finetune, sweep, sweep_storage
from helpers.layout import run_folder

from support import clean_env, finish_all, one_line_error, remove_tc_env, run_main, tiny_settings_for
from postgres import CHROMIUM, free_port, missing, postgres_server

SPACE = {"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2]}  # 4 points, one epoch each: seconds on the tiny model
KILLED_SPACE = {"learning_rate": [2e-3, 2e-2]}  # another study in the same database
DASHBOARD = Path(sys.executable).with_name("optuna-dashboard")


@pytest.fixture(scope="module")
def server():
    """A real PostgreSQL 15 for this module, with the sweeps' user and database."""
    with postgres_server() as running:
        yield running


def machine(root: Path, tiny_cache: Path) -> Path:
    """A folder standing for one machine: its own copy of the tiny model's cache; output goes to `out` inside."""
    root.mkdir(parents=True)
    shutil.copytree(tiny_cache, root / "cache")
    return root


def start_worker(folder: Path, url: str, space: dict[str, list]) -> subprocess.Popen:
    """`python -m helpers sweep --storage URL --search grid` run from `folder`, writing only under it."""
    values = "learning_rate=" + ",".join(str(value) for value in space["learning_rate"])
    return subprocess.Popen(
        [sys.executable, "-m", "helpers", "sweep", "--profile", "tiny", "--cache-dir", "cache", "--output-dir", "out",
         "--epochs", "1", "--search", "grid", "--space", values, "--storage", url],
        cwd=folder, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def trained_points(output: str) -> list[str]:
    """The learning rates a worker's output says it trained itself."""
    return re.findall(r"^trial \d+ \(learning_rate=(\S+)\): validation accuracy ", output, re.MULTILINE)


def complete_per_point(url: str, space: dict[str, list]) -> dict[float, int]:
    """How many COMPLETE trials the space's study holds for each learning rate."""
    study = optuna.load_study(study_name=sweep.study_name(sweep.check_space(space)), storage=url)
    counts = dict.fromkeys(space["learning_rate"], 0)
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        counts[trial.params["learning_rate"]] += 1
    return counts


def base_of(folder: Path) -> sweep.Settings:
    """The settings the worker in `folder` searched with."""
    with pytest.MonkeyPatch.context() as patch:
        remove_tc_env(patch)
        return tiny_settings_for(folder / "out", folder / "cache", epochs=1, validation_size=0.1)


@pytest.fixture(scope="module")
def two_machines(server, tmp_path_factory, tiny_cache):
    """Two sweeps started 2 s apart on one study in PostgreSQL, nothing else shared: (url, folders, results)."""
    root = tmp_path_factory.mktemp("class")
    folders = {name: machine(root / name, tiny_cache) for name in ("first", "second")}
    url = server.url()
    workers = {"first": start_worker(folders["first"], url, SPACE)}
    time.sleep(2)
    workers["second"] = start_worker(folders["second"], url, SPACE)
    return url, folders, finish_all(workers)


@pytest.mark.slow
def test_two_machines_cover_the_grid_exactly_once(two_machines):
    """Both exit 0; the study holds one COMPLETE trial per point; each point was trained on one machine only."""
    url, folders, results = two_machines
    for result in results.values():
        assert result.returncode == 0, result.stderr
    assert complete_per_point(url, SPACE) == dict.fromkeys(SPACE["learning_rate"], 1)
    trained = {name: trained_points(result.stdout) for name, result in results.items()}
    assert sorted(float(rate) for rates in trained.values() for rate in rates) == SPACE["learning_rate"], trained
    models = {name: {path.parent.parent.name for path in (folder / "out" / "sweep").glob("*/model/log_history.json")}
              for name, folder in folders.items()}
    assert not models["first"] & models["second"]
    ids = {sweep.point_id(base_of(folders["first"]), point) for point in sweep.grid(sweep.check_space(SPACE))}
    assert models["first"] | models["second"] == ids
    assert ids == {sweep.point_id(base_of(folders["second"]), point) for point in sweep.grid(SPACE)}, \
        "a point has one id on every machine, whatever its cache folder"
    assert all(f"study: {url.replace(':s3cret-pw@', ':***@')}" in result.stdout for result in results.values())
    print({name: len(rates) for name, rates in trained.items()}, "points trained per machine")


@pytest.mark.slow
def test_the_study_gives_back_runs_seeds_best_call_and_curves(two_machines, capsys):
    """Everything read from a journal reads from the database: the runs, the table per setting, the best call, the
    loss curves (kept in the study, so a machine that trained nothing has them); a rerun trains nothing."""
    url, folders, _ = two_machines
    base = base_of(folders["second"])
    runs = sweep.load_runs(base, storage=url)
    assert sorted(runs["learning_rate"]) == SPACE["learning_rate"]
    keys = list(zip(-runs["val_accuracy"], runs["val_loss"]))
    assert keys == sorted(keys)
    assert len(sweep.by_setting(runs)) == 4 and sweep.best_call(runs).startswith("helpers.get_settings('tiny'")
    curves = sweep.curves(runs, top=4)
    assert len(curves) == 4 and all(set(frame["split"]) == {"train", "eval"} for frame in curves.values())
    again = sweep.search(base, SPACE, search="grid", storage=url)
    assert not trained_points(capsys.readouterr().out)
    assert sorted(again["id"]) == sorted(runs["id"])
    study = sweep.open_study(base, SPACE, storage=url)
    assert study.best_value == runs.iloc[0]["val_accuracy"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # retried_trial_number
def test_a_killed_workers_point_is_retrained_by_another(server, tmp_path, tiny_cache):
    """Two workers 2 s apart; one is killed mid-trial, leaving a RUNNING trial. Its heartbeat stops, the trial is
    failed after the grace period, and the other worker trains its point: one COMPLETE trial per point."""
    url = server.url()
    folders = {name: machine(tmp_path / name, tiny_cache) for name in ("killed", "other")}
    workers = {"killed": start_worker(folders["killed"], url, KILLED_SPACE)}
    time.sleep(2)
    workers["other"] = start_worker(folders["other"], url, KILLED_SPACE)
    name = sweep.study_name(sweep.check_space(KILLED_SPACE))
    deadline = time.monotonic() + 120
    held = []
    try:
        while not held and time.monotonic() < deadline and workers["killed"].poll() is None:
            time.sleep(0.2)
            if name in optuna.get_all_study_names(url):
                study = optuna.load_study(study_name=name, storage=url)
                held = [trial for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
                        if trial.user_attrs.get("worker", "").endswith(f":{workers['killed'].pid}")]
        workers["killed"].send_signal(signal.SIGKILL)
        result = finish_all(workers)["other"]
    finally:
        finish_all(workers)
    assert held, "the first worker started a trial"
    assert result.returncode == 0, result.stderr
    assert complete_per_point(url, KILLED_SPACE) == dict.fromkeys(KILLED_SPACE["learning_rate"], 1)
    lost = held[0].params["learning_rate"]
    assert lost in [float(rate) for rate in trained_points(result.stdout)], result.stdout
    study = optuna.load_study(study_name=name, storage=url)
    assert study.get_trials(deepcopy=False)[held[0].number].state == optuna.trial.TrialState.FAIL
    retried = [trial for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
               if trial.params["learning_rate"] == lost]
    assert [RetryHeartbeatStaleTrialCallback.retried_trial_number(trial) for trial in retried] == [held[0].number], \
        "optuna's retry of the failed trial, not a second queueing, trained the point"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # retried_trial_number
def test_a_worker_given_up_while_training_carries_on(server, tmp_path, tiny_cache, monkeypatch, capsys):
    """A worker whose trial the others failed while it trained (its laptop asleep past the grace period) says so in
    one line and does not crash; the point, queued again, is recorded from its folder: one COMPLETE trial."""
    url, space = server.url(), {"learning_rate": [4e-3]}
    run = finetune.run

    def run_while_given_up(settings, **options):
        """Train, after the others failed this trial as `optuna.storages.fail_stale_trials` does: FAIL, then retry."""
        storage = sweep_storage.database(url)
        study = optuna.load_study(study_name=sweep.study_name(sweep.check_space(space)), storage=storage)
        for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            storage.get_heartbeat_stale_trial_callback()(study, storage.get_trial(trial._trial_id))
        return run(settings, **options)

    monkeypatch.setattr(finetune, "run", run_while_given_up)
    base = tiny_settings_for(tmp_path / "out", tiny_cache, epochs=1, validation_size=0.1)
    sweep.search(base, space, search="grid", storage=url)
    out, err = capsys.readouterr()
    assert out.count("given up by the other workers") == 1, out
    assert "Traceback" not in err, err
    assert "trained before, recorded from its folder" in out
    assert complete_per_point(url, space) == {4e-3: 1}
    trials = sweep.open_study(base, space, storage=url).get_trials()
    assert [trial.state for trial in trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(trials[1]) == trials[0].number


@pytest.mark.filterwarnings("ignore:Heartbeat of storage", "ignore::optuna.exceptions.ExperimentalWarning")
def test_a_silent_workers_trial_is_retried_by_optuna_and_the_grid_covered_once(tmp_path, monkeypatch):
    """A RUNNING trial whose heartbeat stopped (its worker was killed) is failed after the grace period and queued
    again by optuna's retry; `cover` then trains each point once, the lost one in that retry (SQLite: no server)."""
    monkeypatch.setattr(sweep_storage, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(sweep_storage, "GRACE_SECONDS", 1)
    storage = sweep_storage.database(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.create_study(storage=storage, direction="maximize")
    study.enqueue_trial({"x": 1}, user_attrs={"id": "one"})
    lost = study.ask()  # the killed worker's trial: one heartbeat, then silence
    lost.suggest_categorical("x", [1, 2])
    storage.record_heartbeat(lost._trial_id)
    time.sleep(2.5)  # past the grace period
    trained = []

    def objective(trial: optuna.Trial) -> float:
        trained.append(trial.suggest_categorical("x", [1, 2]))
        return 1.0

    sweep_storage.cover(study, {"one": {"x": 1}, "two": {"x": 2}}, objective)
    assert sorted(trained) == [1, 2]
    trials = study.get_trials()
    assert trials[lost.number].state == optuna.trial.TrialState.FAIL
    done = {trial.user_attrs["id"]: trial for trial in trials if trial.state == optuna.trial.TrialState.COMPLETE}
    assert set(done) == {"one", "two"}
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(done["one"]) == lost.number


def test_a_point_has_one_id_on_every_machine(tmp_path, tiny_cache):
    """A point's id ignores where the tiny model and the data are, and whether the tiny model is built yet."""
    point = {"learning_rate": 1e-3, "seed": 2}
    here = sweep.point_id(base_of(tmp_path / "empty"), point)  # no tiny model in that cache yet
    assert here == sweep.point_id(tiny_settings_for(tmp_path / "out", tiny_cache, epochs=1, validation_size=0.1), point)
    assert here != sweep.point_id(base_of(tmp_path / "empty"), {**point, "seed": 3})


def test_a_url_is_printed_without_its_password(make_settings):
    """Where the study is: the database URL with its password, percent-encoded or not, as `***` (a URL without one
    as it is), or the journal file in the output folder."""
    settings = make_settings()
    assert sweep_storage.where(settings, "postgresql://class:s3c%40ret@10.0.0.1:5432/class") == \
        "postgresql://class:***@10.0.0.1:5432/class"
    assert sweep_storage.where(settings, "postgresql://class@10.0.0.1/class") == "postgresql://class@10.0.0.1/class"
    assert sweep_storage.where(settings, "sqlite:///study.db") == "sqlite:///study.db"
    assert sweep_storage.where(settings) == str(run_folder(settings).study)


@pytest.mark.slow
@pytest.mark.parametrize("reach", ["wrong password", "no server on the port"])
def test_a_database_out_of_reach_is_one_line(reach, server, tmp_path, capsys):
    """A wrong password or a port nobody listens on: one `error:` line naming the URL without its password, exit
    status 1, nothing written."""
    url = server.url(password="not-it") if reach == "wrong password" else server.url(port=free_port())
    out = tmp_path / "out"
    status, _, err = run_main("sweep", "--profile", "tiny", "--output-dir", str(out), "--search", "grid",
                              "--space", "learning_rate=1e-3", "--storage", url, capsys=capsys)
    line = one_line_error(err)
    assert status == 1
    assert url.replace(":not-it@" if reach == "wrong password" else ":s3cret-pw@", ":***@") in line
    assert "not-it" not in line and "s3cret-pw" not in line
    assert ("password authentication failed" if reach == "wrong password" else "Connection refused") in line
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- the dashboard


@pytest.fixture(scope="module")
def dashboard(two_machines):
    """`optuna-dashboard URL` on the study database, on a free loopback port: its base URL."""
    url = two_machines[0]
    port = free_port()
    process = subprocess.Popen([str(DASHBOARD), url, "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(address + "/api/studies", timeout=5).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "optuna-dashboard did not answer within 60 s"
                time.sleep(0.3)
        yield address
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.slow
def test_dashboard_lists_the_study(dashboard):
    """The dashboard's API lists the sweep's study with its 4 complete trials."""
    with urllib.request.urlopen(dashboard + "/api/studies", timeout=30) as response:
        studies = json.load(response)["study_summaries"]
    names = {study["study_name"] for study in studies}
    assert sweep.study_name(sweep.check_space(SPACE)) in names, names


@pytest.mark.slow
def test_dashboard_page_shows_the_study_in_chromium(dashboard, tmp_path):
    """Headless Chromium renders the dashboard's page (its script fetches the studies) with the study's name."""
    if CHROMIUM is None:
        missing("Chromium (a headless browser)", "chromium")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000"]
    page = subprocess.run([CHROMIUM, *flags, "--dump-dom", dashboard + "/dashboard"], capture_output=True, text=True,
                          timeout=120)
    assert page.returncode == 0, page.stderr
    assert sweep.study_name(sweep.check_space(SPACE)) in page.stdout, page.stdout[-2000:]


def test_a_raw_at_in_the_password_is_refused_before_connecting(tmp_path, capsys):
    """`postgresql://student:hunt3r@Secret9@127.0.0.1:PORT/class` (a raw @ in the password, a closed port): one
    `error:` line asking for %40, naming the URL without any part of its password; nothing connects or is written."""
    url = f"postgresql://student:hunt3r@Secret9@127.0.0.1:{free_port()}/class"
    out = tmp_path / "out"
    status, _, err = run_main("sweep", "--profile", "tiny", "--output-dir", str(out), "--search", "grid",
                              "--space", "learning_rate=1e-3", "--storage", url, capsys=capsys)
    line = one_line_error(err)
    assert status == 1 and "percent-encode @ as %40" in line
    assert url.replace("hunt3r@Secret9", "***") in line
    assert "hunt3r" not in line and "Secret9" not in line and "failed to resolve" not in line
    assert not out.exists()


def test_a_drivers_words_are_masked_as_the_url():
    """Whatever carries the URL or its password (a driver's reason too), raw or percent-decoded, is masked."""
    url = "postgresql://class:p%40ss%3Aword@10.0.0.1:5432/class"
    said = f"cannot open {url}: FATAL: password p@ss:word rejected (p%40ss%3Aword)"
    shown = sweep_storage.masked(said, url)
    assert shown == "cannot open postgresql://class:***@10.0.0.1:5432/class: FATAL: password *** rejected (***)"
    assert sweep_storage.masked("no password here", "postgresql://class@10.0.0.1/class") == "no password here"
