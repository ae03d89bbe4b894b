"""The checks of notebook 06 (helpers/exercises/nb06.py), on the tiny profile as the notebook runs them: each worked
solution (run from the solutions notebook's own cells) passes, plausible wrong answers (those issue 28 lists among
them) fail with a hint that does not give the expected value away, and each exercise's `solution` is the worked
solution's code.
"""

from __future__ import annotations

import optuna
import pytest

from helpers import split, sweep

from support import (exercise_namespace, fails, no_value, notebook_cells, notebook_path, notebook_text, passes,
                     with_environment)

KEYS = ("06.1", "06.2", "06.3")


@pytest.fixture(scope="module")
def worked(tmp_path_factory, tiny_cache):
    """The solutions notebook run once on the tiny profile (its grid, its seeds, its objective), and one more trial
    in the same study that does not learn (a learning rate a hundred times too small, one epoch), as a random
    search's failed trial would be: the names the notebook leaves, and the environment that ran it."""
    env = {"TC_PROFILE": "tiny", "TC_CACHE_DIR": str(tiny_cache),
           "TC_OUTPUT_DIR": str(tmp_path_factory.mktemp("nb06") / "out")}
    namespace = exercise_namespace("06", env)
    settings = namespace["settings"]
    namespace["failed"] = sweep.search(settings, {"learning_rate": [settings.learning_rate / 100], "epochs": [1],
                                                  "train_batch_size": [16]}, search="grid")
    return env, namespace


@pytest.fixture
def names(worked, monkeypatch):
    """The worked solutions' names, with the environment the checks read their profile from."""
    return with_environment(worked, monkeypatch)


@pytest.mark.slow
def test_06_1_schedules(names, capsys):
    """The grid's two rows pass; a failed trial's accuracy as `linear` (issue 28), invented numbers and runs without
    the grid fail, without naming the grid's accuracies."""
    schedules, runs, settings = names["schedules"], names["runs"], names["settings"]
    out = passes(capsys, "06.1", schedules, runs, settings)
    assert "wins by" in out or "a tie" in out
    truth = [float(value) for value in schedules.values()]
    every = sweep.load_runs(settings)["val_accuracy"].tolist()
    other = next(value for value in every if abs(value - schedules["linear"]) > 1e-6)  # the failed trial's, or another
    no_value(fails(capsys, "06.1", {**schedules, "linear": other}, runs, settings, saying="it is another trial's"),
             *truth)
    invented = {name: min(1.0, value + 0.05) if value < 0.95 else value - 0.05 for name, value in schedules.items()}
    no_value(fails(capsys, "06.1", invented, runs, settings, saying="not the validation accuracy"), *truth)
    fails(capsys, "06.1", schedules, names["failed"].query("lr_scheduler != 'cosine'"), settings,
          saying="no trial of the grid's cosine point")
    fails(capsys, "06.1", {"linear": schedules["linear"]}, runs, settings, saying="'linear' and 'cosine'")


@pytest.mark.slow
def test_06_2_seed_noise(names, capsys):
    """The study's numbers pass; invented ones (issue 28), the best single runs as `best_two`, and a wrong spread or
    comparison fail, without naming the spread or the gap."""
    answer = [names[name] for name in ("recipe_scores", "spread", "best_two", "gap", "gap_is_larger")]
    settings = names["settings"]
    passes(capsys, "06.2", *answer, settings)
    spread, gap = names["spread"], names["gap"]
    invented = [0.90, 0.92, 0.91]
    no_value(fails(capsys, "06.2", invented, 0.02, *answer[2:], settings, saying="not the validation accuracies"),
             spread, gap)
    single = sweep.load_runs(settings)["val_accuracy"].iloc[:2].tolist()
    if single != names["best_two"]:
        no_value(fails(capsys, "06.2", *answer[:2], single, single[0] - single[1], answer[4], settings,
                       saying="not the two best settings"), spread, gap)
    no_value(fails(capsys, "06.2", answer[0], spread + 0.01, *answer[2:], settings, saying="spread is"), gap)
    fails(capsys, "06.2", *answer[:4], not names["gap_is_larger"], settings, saying="the other way round")
    fails(capsys, "06.2", *answer[:4], "yes", settings, saying="not True or False")


def _copied(study: optuna.Study, direction: str = "maximize", **change) -> optuna.Study:
    """A study holding `study`'s trials, each with `change` applied to its `optuna.trial.create_trial` arguments
    (a function of the trial gives a value per trial)."""
    copy = optuna.create_study(direction=direction)
    for trial in study.trials:
        arguments = dict(params=trial.params, distributions=trial.distributions, value=trial.value,
                         user_attrs=trial.user_attrs)
        arguments |= {name: value(trial) if callable(value) else value for name, value in change.items()}
        copy.add_trial(optuna.trial.create_trial(**arguments))
    return copy


@pytest.mark.slow
def test_06_3_objective(names, capsys):
    """The worked objective passes; one that trains nothing and returns 0.5 (issue 28), one that trains another
    number of epochs than it asked for, one that returns the loss, and a minimising study fail."""
    study = names["study_with_epochs"]
    assert "2 trials trained" in passes(capsys, "06.3", study)

    def nothing(trial: optuna.Trial) -> float:
        trial.suggest_float("learning_rate", 1e-5, 1e-4, log=True)
        trial.suggest_int("num_train_epochs", 1, 2)
        return 0.5

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    untrained = optuna.create_study(direction="maximize")
    untrained.optimize(nothing, n_trials=2)
    fails(capsys, "06.3", untrained, saying="recorded no training")
    other_epochs = lambda trial: trial.params | {"num_train_epochs": 3 - trial.params["num_train_epochs"]}  # noqa: E731
    fails(capsys, "06.3", _copied(study, params=other_epochs), saying="asked for")
    loss = lambda trial: min(entry["eval_loss"] for entry in trial.user_attrs["log_history"] if "eval_loss" in entry)  # noqa: E731
    no_value(fails(capsys, "06.3", _copied(study, value=loss), saying="not its best epoch's validation accuracy"),
             *[trial.value for trial in study.trials])
    fails(capsys, "06.3", _copied(study, direction="minimize"), saying="minimises")
    fails(capsys, "06.3", "study", saying="not an optuna study")


def test_the_api_stands_in_code_cells():
    """06 writes an optuna study around the Trainer, the three samplers chosen by a setting and the mean over seeds
    as a groupby, each checked against the sweep; it states no time it has not measured."""
    code = "\n".join(source for kind, source in notebook_cells(notebook_path("06")) if kind == "code")
    for call in ("optuna.create_study(", "trial.suggest_float(", "trial.suggest_categorical(", ".optimize(",
                 "Trainer(", "sweep.search(", "optuna.samplers.GridSampler(", "optuna.samplers.RandomSampler(",
                 "optuna.samplers.TPESampler(", "samplers[search]", "search=search", ".groupby(",
                 "sweep.by_setting(runs)"):
        assert call in code, call
    text = notebook_text("06")
    assert "README's tuning table" not in text and "4 minutes" not in text


def test_tiny_figures_the_notebook_states(tiny_settings):
    """The deterministic `tiny` figures notebook 06 states: the validation rows, and the majority class's share of
    the validation and the test rows (what a seed that does not learn scores)."""
    parts = split.load_split(tiny_settings)
    majority = parts["train"]["label"].mode()[0]
    validation, test = ((parts[name]["label"] == majority).mean() for name in ("validation", "test"))
    text = notebook_text("06")
    assert f"of {len(parts['validation'])} validation rows)" in text
    assert f"on `tiny`, {validation:.3f} of the validation rows and {test:.3f} of the test rows" in text
