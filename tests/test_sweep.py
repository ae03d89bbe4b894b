"""Hyperparameter search: candidate points, the runs log, skipping what is logged, the best call, the CLI, optuna."""

from __future__ import annotations

import ast
import dataclasses
import json
import sys

import pandas as pd
import pytest

import helpers
from helpers import cli, finetune, models, sweep
from helpers.settings import Settings, UserError
from helpers.split import load_split

from conftest import assert_one_line_error, remove_tc_env, run_cli, tiny_settings_for

SPACE = {"learning_rate": [1e-3, 3e-3], "epochs": [1, 2]}  # 4 points, about a second each on the tiny model


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny_cache):
    """A random search of 3 of SPACE's 4 points on the tiny profile: (base settings, runs table)."""
    with pytest.MonkeyPatch.context() as patch:
        remove_tc_env(patch)
        base = tiny_settings_for(tmp_path_factory.mktemp("sweep") / "out", tiny_cache, validation_size=0.1)
        return base, sweep.search(base, SPACE, trials=3, seed=0)


def log_lines(base: helpers.Settings) -> list[str]:
    """The lines of the runs log of `base`."""
    return sweep.runs_path(base).read_text().splitlines()


def fake_run(run_id: str, accuracy: float, loss: float, **values) -> dict:
    """A run as the log keeps it, without training (tiny profile, default model)."""
    base = {"profile": "tiny", "model": "/somewhere/cache/tiny-distilbert", "data": str(helpers.settings.SAMPLE_DATA),
            "seed": 42, "validation_size": 0.1}
    return {"id": run_id, "search": "random", "val_accuracy": accuracy, "val_f1": 0.5, "val_loss": loss,
            "train_seconds": 1.0, "learning_rate": 1e-3, "epochs": 1.0, **base, **values, "log_history": []}


def parse_call(call: str) -> tuple[list, dict]:
    """The positional and keyword arguments of a `helpers.get_settings(...)` call, read without evaluating it."""
    tree = ast.parse(call, mode="eval").body
    assert isinstance(tree, ast.Call) and ast.unparse(tree.func) == "helpers.get_settings", call
    return [ast.literal_eval(arg) for arg in tree.args], {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords}


# ---------------------------------------------------------------------------------------------- candidates


def test_candidates_are_distinct_and_seeded():
    """A sample is `trials` distinct points of the space; the same seed draws the same points, another seed others."""
    points = sweep.candidates(sweep.SPACE, 6, seed=1)
    assert len(points) == 6 and len({json.dumps(p, sort_keys=True) for p in points}) == 6
    assert all(point[name] in sweep.check_space(sweep.SPACE)[name] for point in points for name in point)
    assert points == sweep.candidates(sweep.SPACE, 6, seed=1)
    assert points != sweep.candidates(sweep.SPACE, 6, seed=2)


def test_candidates_cover_the_grid_when_trials_allow():
    """With at least as many trials as points, every combination comes once."""
    space = {"learning_rate": [1e-4, 2e-4, 3e-4], "train_batch_size": [8, 16]}
    points = sweep.candidates(space, 100, seed=0)
    assert sorted((p["learning_rate"], p["train_batch_size"]) for p in points) == [
        (lr, bs) for lr in [1e-4, 2e-4, 3e-4] for bs in [8, 16]
    ]
    assert sweep.candidates(space, 6, seed=0) == points


def test_more_trials_keep_the_earlier_points():
    """Raising the number of trials keeps the points already drawn, so only the new ones need training."""
    assert sweep.candidates(sweep.SPACE, 8, seed=3)[:5] == sweep.candidates(sweep.SPACE, 5, seed=3)


def test_duplicate_values_count_once():
    """Values equal as settings (1 and 1.0 epochs) are one value; values take their setting's type."""
    space = sweep.check_space({"epochs": [1, 1.0, "2"], "train_batch_size": [16.0]})
    assert space == {"epochs": [1.0, 2.0], "train_batch_size": [16]}
    assert isinstance(space["train_batch_size"][0], int)


@pytest.mark.parametrize("space", [
    {"learning_rate": [0]},            # out of range
    {"learnig_rate": [1e-4]},          # not a setting
    {"output_dir": ["/tmp/x"]},        # the search sets it itself
    {"validation_size": [0.1, 0.2]},   # trials would be scored on different rows
    {"epochs": []},
    {"epochs": 2},
    {},
])
def test_space_mistakes_are_one_line_user_errors(space):
    """A mistake in the search space stops before any training, in one line."""
    with pytest.raises(UserError) as caught:
        sweep.candidates(space, 4)
    assert "\n" not in str(caught.value)


def test_trials_below_one_are_a_user_error():
    with pytest.raises(UserError, match="trials"):
        sweep.candidates(SPACE, 0)


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


def test_settings_added_later_keep_the_ids_of_older_runs():
    """At their defaults, lr_scheduler and label_smoothing leave a run's id as it was before they existed."""
    # ids below were computed by the code of commit e265bfd, before the two settings existed (and when the default
    # validation_size was 0)
    base = Settings(validation_size=0.0)
    assert sweep.run_id(base) == "5dc4432b55"
    assert sweep.run_id(dataclasses.replace(base, seed=43, learning_rate=1e-4)) == "a133c20817"
    changed = {sweep.run_id(dataclasses.replace(base, lr_scheduler="cosine")),
               sweep.run_id(dataclasses.replace(base, label_smoothing=0.1))}
    assert len(changed) == 2 and sweep.run_id(base) not in changed


def test_a_validation_split_is_added_once(make_settings, capsys):
    """Without a validation split the search uses 0.1 and says so in one line; with one it says nothing."""
    settings = sweep.with_validation(make_settings(validation_size=0))
    assert settings.validation_size == sweep.VALIDATION_SIZE
    assert capsys.readouterr().err.count("validation_size=0.1") == 1
    assert sweep.with_validation(make_settings(validation_size=0.2)).validation_size == 0.2
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------------------------- a search


def test_search_logs_one_line_per_trial(swept):
    """Each trial is one JSON line with its id, values, validation scores and log history; its model is kept."""
    base, runs = swept
    expected = {sweep.point_id(base, point) for point in sweep.candidates(SPACE, 3, seed=0)}
    records = [json.loads(line) for line in log_lines(base)]
    assert len(records) == 3 and {run["id"] for run in records} == expected
    for run in records:
        folder = sweep.sweep_dir(base) / run["id"]
        assert (folder / "model" / "config.json").is_file()
        assert not list(folder.glob("checkpoint-*")), "checkpoints are deleted after each trial"
        assert run["search"] == "random" and run["validation_size"] == 0.1 and run["profile"] == "tiny"
        assert 0 <= run["val_accuracy"] <= 1 and 0 <= run["val_f1"] <= 1 and run["val_loss"] > 0
        assert run["train_seconds"] > 0
        evaluations = [entry for entry in run["log_history"] if "eval_accuracy" in entry]
        assert len(evaluations) == run["epochs"] and max(e["eval_accuracy"] for e in evaluations) == run["val_accuracy"]
    assert set(runs["id"]) == expected


def test_runs_are_sorted_best_first(swept):
    """Highest validation accuracy first; among equal accuracies, lowest validation loss first."""
    _, runs = swept
    pairs = list(zip(runs["val_accuracy"], runs["val_loss"]))
    assert pairs == sorted(pairs, key=lambda pair: (-pair[0], pair[1]))


def test_search_again_trains_nothing(swept, monkeypatch, capsys):
    """The same search run again finds every point in the log: nothing is trained, the log is unchanged."""
    base, runs = swept
    before = log_lines(base)
    monkeypatch.setattr(finetune, "train", lambda settings: pytest.fail("a logged point was trained again"))
    again = sweep.search(base, SPACE, trials=3, seed=0)
    assert log_lines(base) == before
    assert list(again["id"]) == list(runs["id"])
    assert capsys.readouterr().out.count("skipped") == 3


def test_more_trials_train_only_the_new_points(make_settings, monkeypatch):
    """Raising `trials` trains only the points not in the log yet."""
    base = make_settings(validation_size=0.1)
    space = {"learning_rate": [1e-3, 3e-3], "epochs": [1]}
    sweep.search(base, space, trials=1, seed=0)
    trained = []
    real_train = finetune.train
    monkeypatch.setattr(finetune, "train", lambda settings: trained.append(settings) or real_train(settings))
    runs = sweep.search(base, space, trials=2, seed=0)
    assert len(trained) == 1 and len(log_lines(base)) == 2 and len(runs) == 2


def test_loss_curves_come_from_the_log(swept):
    """The curves of the best runs are read from their log history: an evaluation point per epoch."""
    _, runs = swept
    curves = sweep.curves(runs, top=2)
    assert len(curves) == 2
    for (_, run), frame in zip(runs.head(2).iterrows(), curves.values()):
        assert (frame["split"] == "eval").sum() == run["epochs"] and (frame["split"] == "train").sum() > 0


def test_test_accuracy_of_the_best_run(swept):
    """The best run's saved model is measured on the test rows: a share of them, between 0 and 1."""
    base, runs = swept
    accuracy = sweep.accuracy_on_test(runs.iloc[0], base)
    rows = len(load_split(sweep.settings_of(runs.iloc[0], base))["test"])
    assert 0 <= accuracy <= 1 and abs(accuracy * rows - round(accuracy * rows)) < 1e-9


# ---------------------------------------------------------------------------------------------- the runs log


def write_log(path, runs: list[dict], tail: str = "") -> None:
    """A runs log holding `runs`, then `tail` (a line cut short, say)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(run) + "\n" for run in runs) + tail)


def test_truncated_last_line_is_skipped(tmp_path, capsys):
    """A last line cut short is skipped with a warning; the next run gets a line of its own."""
    path = tmp_path / "sweep" / "runs.jsonl"
    runs = [fake_run("a", 0.6, 0.7), fake_run("b", 0.8, 0.6)]
    write_log(path, runs, tail=json.dumps(fake_run("c", 0.9, 0.5))[:40])
    table = sweep.load_runs(path)
    assert list(table["id"]) == ["b", "a"]
    assert "unfinished last line" in capsys.readouterr().err
    sweep.append_run(path, fake_run("d", 0.7, 0.6))
    assert [run["id"] for run in sweep.read_log(path)] == ["a", "b", "d"]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_whole_last_line_without_newline_is_kept(tmp_path):
    """A last line that is a whole run, only missing its newline, stays when the next run is appended."""
    path = tmp_path / "runs.jsonl"
    write_log(path, [fake_run("a", 0.6, 0.7)], tail=json.dumps(fake_run("b", 0.8, 0.6)))
    sweep.append_run(path, fake_run("c", 0.7, 0.6))
    assert [run["id"] for run in sweep.read_log(path)] == ["a", "b", "c"]


def test_a_broken_line_inside_the_log_is_a_user_error(tmp_path):
    """Only the last line can be cut short by a crash; a broken line before it names its line number."""
    path = tmp_path / "runs.jsonl"
    write_log(path, [fake_run("a", 0.6, 0.7)], tail="not json\n" + json.dumps(fake_run("b", 0.8, 0.6)) + "\n")
    with pytest.raises(UserError, match="line 2"):
        sweep.load_runs(path)


def test_no_log_is_an_empty_table(tmp_path):
    runs = sweep.load_runs(tmp_path / "missing.jsonl")
    assert runs.empty and "val_accuracy" in runs
    with pytest.raises(UserError, match="no runs"):
        sweep.best_call(runs)


# ---------------------------------------------------------------------------------------------- the best call


def test_best_call_gives_back_the_best_point(swept):
    """The printed call, read without evaluating it, is `get_settings` with the best run's profile and values."""
    _, runs = swept
    best = runs.iloc[0]
    args, kwargs = parse_call(sweep.best_call(runs))
    assert args == ["tiny"]
    assert {name: kwargs[name] for name in sweep.SPACE} == {name: best[name] for name in sweep.SPACE}
    assert kwargs["validation_size"] == 0.1 and "model" not in kwargs and "data" not in kwargs
    settings = helpers.get_settings(*args, **kwargs)
    assert all(getattr(settings, name) == best[name] for name in sweep.SPACE)
    assert isinstance(settings.train_batch_size, int) and isinstance(settings.learning_rate, float)


def test_best_call_names_what_the_profile_does_not_give():
    """A model or seed other than the profile's is part of the call; the profile's own are left out."""
    runs = pd.DataFrame([fake_run("a", 0.9, 0.3, profile="quick", model="prajjwal1/bert-tiny", seed=7,
                                  data=helpers.settings.DATA_URL),
                         fake_run("b", 0.5, 0.3, profile="quick")])
    args, kwargs = parse_call(sweep.best_call(runs))
    assert args == ["quick"] and kwargs["model"] == "prajjwal1/bert-tiny" and kwargs["seed"] == 7
    assert "data" not in kwargs and kwargs["learning_rate"] == 1e-3


# ---------------------------------------------------------------------------------------------- seeds


def seeded_runs() -> pd.DataFrame:
    """A log's table: lr 1e-3 with three seeds (one lucky), lr 3e-3 with two, and lr 1e-3 with weight decay once."""
    runs = [fake_run("a42", 0.9, 0.3, seed=42), fake_run("a43", 0.6, 0.5, seed=43), fake_run("a44", 0.6, 0.4, seed=44),
            fake_run("b42", 0.8, 0.4, seed=42, learning_rate=3e-3),
            fake_run("b43", 0.8, 0.2, seed=43, learning_rate=3e-3),
            fake_run("c42", 0.5, 0.6, seed=42, weight_decay=0.0)]
    return pd.DataFrame(runs).sort_values("val_accuracy", ascending=False).reset_index(drop=True)


def test_by_setting_ranks_settings_on_their_mean_over_seeds():
    """Runs that differ only in seed make one row; the steadier setting beats the one with a single lucky seed."""
    runs = seeded_runs()
    table = sweep.by_setting(runs)
    assert runs.iloc[0]["id"] == "a42" and table.iloc[0]["learning_rate"] == 3e-3
    assert list(table["seeds"]) == [2, 3, 1] and table["seeds"].sum() == len(runs)
    assert table["val_accuracy"].tolist() == pytest.approx([0.8, 0.7, 0.5])
    assert (table.iloc[1]["val_accuracy_min"], table.iloc[1]["val_accuracy_max"]) == (0.6, 0.9)
    assert table.iloc[1]["val_loss"] == pytest.approx(0.4)
    _, kwargs = parse_call(sweep.best_call(table))
    assert kwargs["learning_rate"] == 3e-3 and "seed" not in kwargs


def test_runs_of_a_setting_are_its_seeds_only():
    """A knob one run set and the others did not (NaN) keeps that run apart from theirs."""
    runs = seeded_runs()
    table = sweep.by_setting(runs)
    assert [sorted(sweep.runs_of(runs, row)["id"]) for _, row in table.iterrows()] == [
        ["b42", "b43"], ["a42", "a43", "a44"], ["c42"]]


def test_more_seeds_for_the_best_point(make_settings):
    """The notebook's check: the best point trained again with two more seeds, one row of three in `by_setting`."""
    base = make_settings(validation_size=0.1)
    runs = sweep.search(base, {"learning_rate": [1e-3, 3e-3], "epochs": [1]}, trials=2)
    top = runs.iloc[0]
    seeds = [int(top["seed"]) + offset for offset in range(3)]
    runs = sweep.search(base, {"learning_rate": [top["learning_rate"]], "epochs": [top["epochs"]], "seed": seeds},
                        trials=3)
    assert len(runs) == 4 and len(log_lines(base)) == 4, "the best run's own seed was not trained again"
    table = sweep.by_setting(runs)
    row = table[table["seeds"] == 3].iloc[0]
    assert row["learning_rate"] == top["learning_rate"]
    assert set(sweep.runs_of(runs, row)["seed"]) == set(seeds)
    assert row["val_accuracy"] == pytest.approx(sweep.runs_of(runs, row)["val_accuracy"].mean())


# ---------------------------------------------------------------------------------------------- command line


def test_cli_sweep_end_to_end(tmp_path, tiny_cache):
    """`python -m helpers sweep --trials 2` trains two points, logs two lines, prints the table and the best call."""
    out = tmp_path / "out"
    result = run_cli("sweep", "--profile", "tiny", "--trials", "2", "--output-dir", str(out),
                     "--cache-dir", str(tiny_cache))
    assert result.returncode == 0, result.stderr[-3000:]
    path = out / "sweep" / "runs.jsonl"
    assert len(path.read_text().splitlines()) == 2
    assert "best settings: helpers.get_settings('tiny'," in result.stdout and str(path) in result.stdout
    runs = sweep.load_runs(path)
    assert (runs["validation_size"] == 0.1).all(), "scored on the default validation split"
    best = runs.iloc[0]
    _, kwargs = parse_call(result.stdout.split("best settings: ")[1].splitlines()[0])
    assert kwargs["learning_rate"] == best["learning_rate"] and kwargs["epochs"] == best["epochs"]
    assert "mean over seeds" not in result.stdout, "one seed per setting: no second table"


def test_cli_sweep_with_seeds_prints_the_mean_over_seeds(tmp_path, tiny_cache):
    """With a setting run under several seeds the CLI adds the per-setting table and chooses on its mean."""
    out = tmp_path / "out"
    space = ["--space", "learning_rate=1e-3,3e-3", "--space", "epochs=1", "--space", "seed=1,2"]
    result = run_cli("sweep", "--profile", "tiny", "--trials", "4", "--output-dir", str(out),
                     "--cache-dir", str(tiny_cache), *space)
    assert result.returncode == 0, result.stderr[-3000:]
    per_setting = result.stdout.split("mean over seeds, best first:")[1].split("best settings:")[0]
    assert len(per_setting.strip().splitlines()) == 1 + 2, "a header and one row per learning rate"
    best = sweep.by_setting(sweep.load_runs(out / "sweep" / "runs.jsonl")).iloc[0]
    _, kwargs = parse_call(result.stdout.split("best settings: ")[1].splitlines()[0])
    assert best["seeds"] == 2 and kwargs["learning_rate"] == best["learning_rate"] and "seed" not in kwargs


@pytest.mark.parametrize("argv", [["--trials", "0"], ["--epochs", "0"]])
def test_cli_sweep_mistakes_are_one_line(argv, capsys):
    assert cli.main(["sweep", "--profile", "tiny", *argv]) == 1
    assert_one_line_error(capsys.readouterr().err)


def test_cli_sweep_unknown_search_is_one_line(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["sweep", "--search", "grid"])
    assert caught.value.code == 2
    assert_one_line_error(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------- optuna


def test_optuna_search_builds_each_trial_with_model_init(make_settings, monkeypatch, capsys):
    """Optuna trials: the Trainer gets model_init, never a model; one model per trial; logged, never retrained."""
    base = make_settings(validation_size=0.1)
    built, trainers = [], []
    real_load, real_trainer = models.load_model, finetune.Trainer

    class SpyTrainer(real_trainer):
        def __init__(self, *args, **kwargs):
            trainers.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(finetune, "Trainer", SpyTrainer)
    monkeypatch.setattr(models, "load_model", lambda *args: built.append(args) or real_load(*args))
    runs = sweep.optuna_search(base, SPACE, trials=2, seed=0)
    records = sweep.read_log(sweep.runs_path(base))
    assert [run["search"] for run in records] == ["optuna", "optuna"] and len(runs) == 2
    assert len({run["id"] for run in records}) == 2
    assert len(trainers) == 1 and trainers[0].get("model") is None and callable(trainers[0]["model_init"])
    assert len(built) == 1 + 2, "once when the Trainer is built, then once per trial"
    for run in records:
        point = {name: run[name] for name in SPACE}
        assert run["id"] == sweep.point_id(base, point), "the same id a random search gives the point"
        folder = sweep.sweep_dir(base) / run["id"]
        assert (folder / "model" / "config.json").is_file() and not list(folder.glob("checkpoint-*"))
        assert 0 <= run["val_accuracy"] <= 1 and run["log_history"]

    capsys.readouterr()
    sweep.optuna_search(base, SPACE, trials=2, seed=0)  # the same seed suggests the same points: already logged
    assert "already in the runs log, skipped" in capsys.readouterr().out
    again = sweep.read_log(sweep.runs_path(base))
    new = again[len(records):]
    assert again[:len(records)] == records
    assert not {run["id"] for run in new} & {run["id"] for run in records}, "a logged point is never trained again"
    assert len(built) == 1 + 2 + 1 + len(new)


def test_missing_optuna_is_one_line(make_settings, monkeypatch, capsys):
    """Without optuna, the optuna search stops in one line saying how to install it; nothing is trained."""
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now fails as if it were not installed
    base = make_settings()
    assert not sweep.optuna_available()
    with pytest.raises(UserError) as caught:
        sweep.optuna_search(base, SPACE, trials=2)
    assert "pip install optuna" in str(caught.value) and "\n" not in str(caught.value)
    assert cli.main(["sweep", "--profile", "tiny", "--search", "optuna", "--output-dir", base.output_dir,
                     "--cache-dir", base.cache_dir]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err)
    assert "pip install optuna" in err
    assert not sweep.runs_path(base).exists()
