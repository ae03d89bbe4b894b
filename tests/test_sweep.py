"""Hyperparameter search on optuna's study: the samplers, skipping what is trained, two sweeps at once, the results."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import types

import optuna
import pandas as pd
import pytest

import helpers
from helpers import Settings, finetune, predict, sweep
from helpers import settings as hs
from helpers.baselines import majority_accuracy
from helpers.layout import run_folder
from helpers.split import load_split

from support import (another_value, finish_all, one_line_error, parse_call, refused, remove_tc_env, run_main, start_cli,
                     tiny_settings_for)

SPACE = {"learning_rate": [1e-3, 3e-3, 1e-2]}  # a grid of 3 points, one epoch each: seconds on the tiny model


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny_cache):
    """Two `python -m helpers sweep --search grid` started at once on one folder: (base settings, their results)."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    argv = ["sweep", "--profile", "tiny", "--cache-dir", str(tiny_cache), "--output-dir", str(out), "--epochs", "1",
            "--search", "grid", "--space", "learning_rate=" + ",".join(str(lr) for lr in SPACE["learning_rate"])]
    results = finish_all({name: start_cli(*argv) for name in ("first", "second")})
    with pytest.MonkeyPatch.context() as patch:
        remove_tc_env(patch)
        base = tiny_settings_for(out, tiny_cache, epochs=1, validation_size=0.1)
    return base, results


@pytest.fixture
def no_training(monkeypatch):
    """Any training fails the test: what follows must come from the study and the trial folders."""
    def run(settings, **_):
        raise AssertionError(f"trained {settings.output_dir} again")

    monkeypatch.setattr(finetune, "run", run)


def trained_lines(output: str) -> list[str]:
    """The lines of a sweep's output that report a trial it trained itself."""
    return re.findall(r"^trial \d+ \(.*\): validation accuracy .*$", output, re.MULTILINE)


# ---------------------------------------------------------------------------------------------- two sweeps at once


@pytest.mark.slow
def test_two_sweeps_at_once_train_each_point_once(swept):
    """Both exit 0; between them each grid point is trained exactly once, in its own folder, and is one trial."""
    base, results = swept
    for result in results.values():
        assert result.returncode == 0, result.stderr
    trained = [line for result in results.values() for line in trained_lines(result.stdout)]
    assert len(trained) == len(SPACE["learning_rate"]), trained
    ids = {sweep.point_id(base, point) for point in sweep.grid(sweep.check_space(SPACE))}
    folders = {path.parent.parent.name for path in run_folder(base).sweep.glob("*/model/log_history.json")}
    assert folders == ids
    runs = sweep.load_runs(base)
    assert sorted(runs["id"]) == sorted(ids), "the grid covers the space, each point once"
    assert not list(run_folder(base).sweep.glob("*/checkpoint-*")), "checkpoints are deleted, models kept"


@pytest.mark.slow
def test_a_rerun_trains_nothing(swept, no_training, capsys):
    """The grid again, and a random search of the same space: every point is skipped with one line."""
    base, _ = swept
    before = sweep.load_runs(base)
    sweep.search(base, SPACE, search="grid")
    after = sweep.search(base, SPACE, trials=2, search="random", seed=3)
    out = capsys.readouterr().out
    assert not trained_lines(out)
    assert out.count("already in the study, skipped") == 2, out
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.slow
def test_seeded_random_draws_repeat(swept, no_training):
    """The same seed draws the same points again; every draw lies in the space."""
    base, _ = swept
    study = sweep.open_study(base, sweep.check_space(SPACE))
    draws = []
    for _ in range(2):
        sweep.search(base, SPACE, trials=2, search="random", seed=7)  # fewer than the grid: drawn, not the grid
        draws.append([trial.params for trial in study.get_trials(deepcopy=False)[-2:]])
    assert draws[0] == draws[1]
    assert all(point["learning_rate"] in SPACE["learning_rate"] for point in draws[0])


def test_a_random_budget_covering_the_space_trains_every_point_once(tmp_path, tiny_cache, monkeypatch):
    """With `trials` at least the grid's size, a random search trains each point once (draws could repeat some)."""
    trained = []

    def run(settings, **_):
        trained.append(settings.learning_rate)
        history = [{"eval_accuracy": 0.5, "eval_loss": 1}]
        return types.SimpleNamespace(state=types.SimpleNamespace(log_history=history)), None, None

    monkeypatch.setattr(finetune, "run", run)
    base = tiny_settings_for(tmp_path / "out", tiny_cache, epochs=1, validation_size=0.1)
    for seed in range(3):  # several seeds: one lucky draw could cover the grid by chance
        trained.clear()
        sweep.search(dataclasses.replace(base, output_dir=str(tmp_path / f"out{seed}")), SPACE, trials=5,
                     search="random", seed=seed)
        assert sorted(trained) == sorted(SPACE["learning_rate"]), seed


def test_opening_a_study_leaves_optunas_logging_alone(make_settings):
    """open_study builds a study and nothing else: optuna's log level is the caller's (the sweep command sets it)."""
    verbosity = optuna.logging.get_verbosity()
    try:
        optuna.logging.set_verbosity(optuna.logging.DEBUG)
        sweep.open_study(sweep.with_validation(make_settings()), SPACE)
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(verbosity)


@pytest.mark.slow
def test_each_trial_keeps_its_settings_scores_and_curves(swept):
    """A trial's user attrs give back its settings, the scores of its kept epoch and its folder's loss curves."""
    base, _ = swept
    study = sweep.open_study(base, SPACE)
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        run = trial.user_attrs["run"]
        settings = sweep.settings_of(run, base)
        assert sweep.run_id(settings) == run["id"] and settings.learning_rate == trial.params["learning_rate"]
        history = json.loads((run_folder(settings).model / "log_history.json").read_text())
        assert run["log_history"] == history
        evaluation = next(entry for entry in history if "eval_accuracy" in entry)  # one epoch, one evaluation
        assert (run["val_accuracy"], run["val_loss"], trial.value) == (
            evaluation["eval_accuracy"], evaluation["eval_loss"], evaluation["eval_accuracy"])
        assert run["train_seconds"] > 0


@pytest.mark.slow
def test_results_are_best_first_with_their_curves(swept):
    """The table is sorted on validation accuracy, then loss; the curves of the best come from the study."""
    base, _ = swept
    runs = sweep.load_runs(base)
    keys = list(zip(-runs["val_accuracy"], runs["val_loss"]))
    assert keys == sorted(keys)
    curves = sweep.curves(runs, top=2)
    assert len(curves) == 2 and all(set(frame["split"]) == {"train", "eval"} for frame in curves.values())


@pytest.mark.slow
def test_test_metrics_of_a_chosen_trial(swept):
    """The chosen trial's saved model is measured on every test row by the function `train` uses."""
    base, _ = swept
    settings = sweep.settings_of(sweep.load_runs(base).iloc[0], base)
    metrics = predict.saved_test_metrics(settings)
    assert metrics["test_rows"] == len(load_split(settings)["test"])
    assert 0 <= metrics["accuracy"] <= 1 and metrics["eval_loss"] > 0


# ---------------------------------------------------------------------------------------------- the best call


@pytest.mark.slow
def test_best_call_gives_back_the_best_point(swept):
    """The printed call, read without evaluating it, rebuilds the best trial's settings."""
    base, results = swept
    runs = sweep.load_runs(base)
    call = results["first"].stdout.split("best settings: ")[1].splitlines()[0]
    assert call == sweep.best_call(sweep.by_setting(runs))
    args, kwargs = parse_call(call)
    assert args == ["tiny"] and "model" not in kwargs and "data" not in kwargs
    rebuilt = helpers.get_settings(*args, **kwargs, cache_dir=base.cache_dir, output_dir=base.output_dir)
    assert sweep.run_id(sweep.trial_settings(rebuilt, {})) == runs.iloc[0]["id"]
    assert isinstance(rebuilt.train_batch_size, int) and isinstance(rebuilt.learning_rate, float)


# ---------------------------------------------------------------------------------------------- ids and validation


def test_ids_change_with_what_is_learned_only(make_settings):
    """A point's id is stable, differs for another value or base seed, and ignores folders and logging."""
    base = make_settings(validation_size=0.1)
    point = {"learning_rate": 1e-3, "epochs": 1}
    same = sweep.point_id(base, point)
    assert same == sweep.point_id(base, {"epochs": 1.0, "learning_rate": 0.001})
    assert same == sweep.point_id(dataclasses.replace(base, logging_steps=7, output_dir="/elsewhere"), point)
    assert same != sweep.point_id(base, {**point, "learning_rate": 3e-3})
    assert same != sweep.point_id(dataclasses.replace(base, seed=1), point)
    trial = sweep.trial_settings(base, point)
    assert trial.output_dir.endswith(f"/sweep/{same}") and trial.overwrite and trial.learning_rate == 1e-3


def test_a_validation_split_is_added_once(make_settings, capsys):
    """Without a validation split the search uses 0.1 and says so in one line; with one it says nothing."""
    settings = sweep.with_validation(make_settings(validation_size=0))
    assert settings.validation_size == sweep.VALIDATION_SIZE
    assert capsys.readouterr().err.count("validation_size=0.1") == 1
    assert sweep.with_validation(make_settings(validation_size=0.2)).validation_size == 0.2
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize("argv", [["--space", "warmup=0,0.1"], ["--space", "data=a.csv,b.csv"],
                                  ["--space", "learning_rate=fast"], ["--space", "epochs=1,,2"], ["--trials", "0"]])
def test_sweep_mistakes_are_one_line_and_write_nothing(argv, tmp_path, capsys):
    """An unknown or fixed setting in the space, a bad value, or no trials: one `error:` line (exit status 1) before
    the output folder is made; a search that does not exist is argparse's (exit status 2)."""
    out = tmp_path / "out"
    status, _, err = run_main("sweep", "--profile", "tiny", "--output-dir", str(out), *argv, capsys=capsys)
    assert status == 1 and one_line_error(err)
    assert not out.exists()
    status, _, err = run_main("sweep", "--search", "optuna", capsys=capsys)
    assert status == 2 and "--search" in one_line_error(err)


# ---------------------------------------------------------------------------------------------- the default space


def test_the_default_learning_rates_are_the_profiles_own_times_a_few():
    """x0.4, x1, x2 and x4 the settings' rate: 2e-5 to 2e-4 for quick's 5e-5, 1.2e-3 to 1.2e-2 for tiny's 3e-3."""
    quick, tiny = (helpers.settings.build_settings(profile) for profile in ("quick", "tiny"))
    assert sweep.default_space(quick)["learning_rate"] == [2e-5, 5e-5, 1e-4, 2e-4] == sweep.SPACE["learning_rate"]
    assert sweep.default_space(tiny)["learning_rate"] == [1.2e-3, 3e-3, 6e-3, 1.2e-2]
    assert {name: values for name, values in sweep.default_space(tiny).items() if name != "learning_rate"} == \
        {name: values for name, values in sweep.SPACE.items() if name != "learning_rate"}
    assert sweep.own_point(tiny, sweep.default_space(tiny)) == dict(
        learning_rate=3e-3, epochs=3.0, train_batch_size=16, warmup_steps=0.1, weight_decay=0.01)
    full = helpers.settings.build_settings("full")  # warmup 500 is not in the space: the search chooses it
    assert "warmup_steps" not in sweep.own_point(full, sweep.default_space(full))


@pytest.mark.slow
def test_a_tiny_sweep_from_the_command_line_recommends_a_model_that_learned(tmp_path, tiny_cache, capsys):
    """`sweep --profile tiny --trials 3` in a fresh folder: the default space fits the profile, its own settings
    are tried first, and the best trial beats always answering the commonest class on the validation rows."""
    out = tmp_path / "out"
    status, stdout, _ = run_main("sweep", "--profile", "tiny", "--trials", "3", "--output-dir", str(out),
                                 "--cache-dir", str(tiny_cache), capsys=capsys)
    assert status == 0
    base = sweep.with_validation(tiny_settings_for(out, tiny_cache))
    runs = sweep.load_runs(base)
    assert len(runs) == 3 and set(runs["learning_rate"]) <= {1.2e-3, 3e-3, 6e-3, 1.2e-2}
    parts = load_split(base)
    majority = majority_accuracy(parts["train"]["label"], parts["validation"]["label"])
    assert runs.iloc[0]["val_accuracy"] > majority, (runs.iloc[0]["val_accuracy"], majority)
    assert f"learning_rate={float(runs.iloc[0]['learning_rate'])!r}" in stdout.split("best settings:")[1]
    trials = stdout.split("\n\n")[0].split("  id ")[0]  # what it said while training, before the table
    assert len(trained_lines(trials)) == 3 and not re.search(r"^(model|device): ", trials, re.MULTILINE), trials


@pytest.mark.slow
def test_the_printed_command_trains_the_best_trial_again(tmp_path, tiny_cache, monkeypatch, capsys):
    """`sweep --max-steps 4` prints a train command with every setting that differs from the profile's
    (`--max-steps 4` among them); run as printed, it trains the trial's model: the same evaluations, step by step."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TC_HOME", str(tmp_path))
    monkeypatch.setenv("TC_CACHE_DIR", str(tiny_cache))
    status, out, err = run_main("sweep", "--profile", "tiny", "--max-steps", "4", "--search", "grid", "--space",
                                "learning_rate=3e-3,1e-2", "--output-dir", str(tmp_path / "swept"), capsys=capsys)
    assert status == 0, err
    command = out.split("to train them: ")[1].splitlines()[0]
    assert command.startswith("python -m helpers train --profile tiny ") and " --max-steps 4" in command
    status, _, err = run_main(*shlex.split(command)[3:], capsys=capsys)  # after "python -m helpers"
    assert status == 0, err
    base = tiny_settings_for(tmp_path / "swept", tiny_cache, max_steps=4)
    best = sweep.by_setting(sweep.load_runs(base)).iloc[0]
    trial = sweep.runs_of(sweep.load_runs(base), best).iloc[0]["log_history"]
    again = json.loads((tmp_path / "results" / "tiny" / "model" / "log_history.json").read_text())
    evaluations = [[(entry["step"], entry["eval_accuracy"], entry["eval_loss"]) for entry in history
                    if "eval_loss" in entry] for history in (trial, again)]
    assert evaluations[0] and evaluations[0][-1][0] == 4
    assert [value for row in evaluations[1] for value in row] == pytest.approx(
        [value for row in evaluations[0] for value in row])
    metrics = json.loads((tmp_path / "results" / "tiny" / "metrics.json").read_text())
    assert metrics["validation_accuracy"] == pytest.approx(best["val_accuracy"])


def test_a_trial_keeps_every_learned_setting_that_differs_from_its_profile(make_settings):
    """`max_steps` or `train_rows` set for the whole search are kept with each trial, and so in the best call; the
    folders and the profile's own values are not, and `knobs` (the searchable values) leaves the rows out."""
    settings = make_settings(max_steps=4, train_rows=50, logging_steps=5)
    assert sweep.changed(settings) == ["train_rows", "max_steps"]
    run = pd.Series(sweep.record(settings, {"learning_rate": 3e-3}, []) | {"id": "a", "study": "space-x"})
    assert run["max_steps"] == 4 and run["train_rows"] == 50 and "output_dir" not in run and "logging_steps" not in run
    _, kwargs = parse_call(sweep.best_call(pd.DataFrame([run])))
    assert kwargs["max_steps"] == 4 and kwargs["train_rows"] == 50
    assert "train_rows" not in sweep.knobs(run) and sweep.knobs(run)["max_steps"] == 4


# ------------------------------------------------------------------------------------------------------ trial ids


@pytest.mark.parametrize("name", list(hs.FIELDS))
def test_a_trials_id_changes_with_what_it_learns(name):
    """A trial's id (sweep.run_id) changes with every setting but those of the roles that learn nothing (profile,
    folder, run); the sweep cannot search the profile, the folders or the split."""
    base = Settings()
    other = dataclasses.replace(base, **{name: hs.coerce(name, another_value(name))})
    learns = hs.FIELDS[name].metadata["role"] not in ("profile", "folder", "run")
    assert (sweep.run_id(other) != sweep.run_id(base)) == learns
    searchable = hs.FIELDS[name].metadata["role"] not in ("profile", "folder", "split")
    if searchable:
        assert sweep.check_space({name: [another_value(name)]})
    else:
        assert "cannot be searched" in refused(sweep.check_space, {name: [another_value(name)]})


def test_trial_ids_stay_what_earlier_versions_gave():
    """A shared study (a database, a sweep folder) holds the ids of earlier versions: the same settings keep their
    id. The ids below are those the sweep gave before the settings were tagged by role (issue 23)."""
    cases = {
        "fe6f000f49": Settings(),
        "0570fe2c4c": Settings(profile="tiny", data="/somewhere/sarcasm_sample.json", model="/cache/tiny-distilbert",
                               cache_dir="/cache", output_dir="/out", learning_rate=3e-3, warmup_steps=0,
                               logging_steps=2, eval_batch_size=32),
        "e221ae9ad6": Settings(profile="quick", train_rows=6000, epochs=2, warmup_steps=0.1, logging_steps=25,
                               learning_rate=1e-4, train_batch_size=32, weight_decay=0.0, output_dir="/elsewhere",
                               resume=True, report_to="tensorboard"),
        "0ac4e3bb49": Settings(model="klue/bert-base", label_names="a,b,c", stratify=True, class_weights=True,
                               precision="bf16", group_by_length=False, seed=7, max_length=64, lr_scheduler="cosine",
                               label_smoothing=0.1),
    }
    assert {sweep.run_id(settings): expected for expected, settings in cases.items()} == {id: id for id in cases}
