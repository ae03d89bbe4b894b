"""A search's results read back from its study: the table best first, per setting over seeds, the best settings as a
call and a command (helpers/sweep_results.py). Trials here are records as the study keeps them, without training."""

from __future__ import annotations

import shlex

import pandas as pd
import pytest

import helpers
from helpers import sweep_results
from helpers.layout import run_folder

from support import parse_call, refused


def fake_run(run_id: str, accuracy: float, loss: float, **values) -> dict:
    """A trial as the study keeps it, without training (tiny profile, default model)."""
    base = {"profile": "tiny", "model": "/somewhere/cache/tiny-distilbert", "data": str(helpers.settings.SAMPLE_DATA),
            "seed": 42, "validation_size": 0.1}
    return {"id": run_id, "study": "space-x", "val_accuracy": accuracy, "val_f1": 0.5, "val_loss": loss,
            "train_seconds": 1.0, "learning_rate": 1e-3, "epochs": 1.0, **base, **values, "log_history": []}


def seeded_runs() -> pd.DataFrame:
    """A log's table: lr 1e-3 with three seeds (one lucky), lr 3e-3 with two, and lr 1e-3 with weight decay once."""
    runs = [fake_run("a42", 0.9, 0.3, seed=42), fake_run("a43", 0.6, 0.5, seed=43), fake_run("a44", 0.6, 0.4, seed=44),
            fake_run("b42", 0.8, 0.4, seed=42, learning_rate=3e-3),
            fake_run("b43", 0.8, 0.2, seed=43, learning_rate=3e-3),
            fake_run("c42", 0.5, 0.6, seed=42, weight_decay=0.0)]
    return pd.DataFrame(runs).sort_values("val_accuracy", ascending=False).reset_index(drop=True)


def test_a_folder_without_a_study_has_no_runs_and_gets_none(make_settings):
    """Reading the runs of a folder never searched gives an empty table with the scores' columns, and makes nothing."""
    settings = make_settings()
    runs = sweep_results.load_runs(settings)
    assert runs.empty and {"id", *sweep_results.METRICS} <= set(runs.columns)
    assert not run_folder(settings).sweep.exists()
    assert sweep_results.by_setting(runs).empty
    assert "run a search first" in refused(sweep_results.best_call, runs)


def test_best_first_is_accuracy_then_loss_with_no_score_last():
    """Highest validation accuracy first, a tie broken by the lower loss, a trial without a score at the end."""
    runs = pd.DataFrame([fake_run("none", float("nan"), 0.1), fake_run("worse-loss", 0.8, 0.5),
                         fake_run("best", 0.9, 0.6), fake_run("better-loss", 0.8, 0.2)])
    assert list(sweep_results.best_first(runs)["id"]) == ["best", "better-loss", "worse-loss", "none"]


def test_the_table_leaves_out_the_long_columns():
    """The printed table compares scores and knobs: no log history, study, paths or profile."""
    runs = seeded_runs()
    text = sweep_results.table(runs)
    header = text.splitlines()[0].split()
    assert header[:3] == ["id", "val_accuracy", "val_f1"] and "learning_rate" in header
    assert not {"log_history", "study", "model", "data", "profile"} & set(header)
    assert len(text.splitlines()) == len(runs) + 1


def test_best_call_names_what_the_profile_does_not_give():
    """A model or seed other than the profile's is part of the call; the profile's own are left out."""
    runs = pd.DataFrame([fake_run("a", 0.9, 0.3, profile="quick", model="prajjwal1/bert-tiny", seed=7,
                                  data=helpers.settings.DATA_URL),
                         fake_run("b", 0.5, 0.3, profile="quick")])
    args, kwargs = parse_call(sweep_results.best_call(runs))
    assert args == ["quick"] and kwargs["model"] == "prajjwal1/bert-tiny" and kwargs["seed"] == 7
    assert "data" not in kwargs and kwargs["learning_rate"] == 1e-3


def test_best_command_is_the_call_as_shell_flags():
    """The command holds the call's values as flags, quoted for the shell: split back, it gives each value again."""
    runs = pd.DataFrame([fake_run("a", 0.9, 0.3, profile="quick", data="/my data/headlines.json", train_rows=50)])
    words = shlex.split(sweep_results.best_command(runs))
    assert words[:6] == ["python", "-m", "helpers", "train", "--profile", "quick"]
    flags = dict(zip(words[6::2], words[7::2]))
    _, kwargs = parse_call(sweep_results.best_call(runs))
    assert flags == {f"--{name.replace('_', '-')}": str(value) for name, value in kwargs.items()}
    assert flags["--data"] == "/my data/headlines.json" and flags["--train-rows"] == "50"


def test_the_tiny_model_is_the_profiles_wherever_it_was_built():
    """The tiny profile's model is its own in any cache folder; another model, or another seed, is not."""
    assert sweep_results.profile_gives("tiny", "model", "/any/cache/tiny-distilbert")
    assert not sweep_results.profile_gives("tiny", "model", "prajjwal1/bert-tiny")
    assert not sweep_results.profile_gives("tiny", "seed", 7)


def test_settings_of_a_run_are_its_values_in_its_folder(make_settings):
    """A run's recorded values, typed as their settings, on the base settings, in the trial's own folder."""
    base = make_settings()
    settings = sweep_results.settings_of(pd.Series(fake_run("abc", 0.9, 0.3, epochs=2, train_batch_size=8.0)), base)
    assert (settings.epochs, settings.train_batch_size, settings.learning_rate) == (2.0, 8, 1e-3)
    assert isinstance(settings.train_batch_size, int)
    assert settings.output_dir == str(run_folder(base).trial("abc"))


def test_by_setting_ranks_settings_on_their_mean_over_seeds():
    """Runs that differ only in seed make one row; the steadier setting beats the one with a single lucky seed."""
    runs = seeded_runs()
    table = sweep_results.by_setting(runs)
    assert runs.iloc[0]["id"] == "a42" and table.iloc[0]["learning_rate"] == 3e-3
    assert list(table["seeds"]) == [2, 3, 1] and table["seeds"].sum() == len(runs)
    assert table["val_accuracy"].tolist() == pytest.approx([0.8, 0.7, 0.5])
    assert (table.iloc[1]["val_accuracy_min"], table.iloc[1]["val_accuracy_max"]) == (0.6, 0.9)
    assert table.iloc[1]["val_loss"] == pytest.approx(0.4)
    _, kwargs = parse_call(sweep_results.best_call(table))
    assert kwargs["learning_rate"] == 3e-3 and "seed" not in kwargs


def test_runs_of_a_setting_are_its_seeds_only():
    """A knob one run set and the others did not (NaN) keeps that run apart from theirs."""
    runs = seeded_runs()
    table = sweep_results.by_setting(runs)
    assert [sorted(sweep_results.runs_of(runs, row)["id"]) for _, row in table.iterrows()] == [
        ["b42", "b43"], ["a42", "a43", "a44"], ["c42"]]
