"""Notebook 02's exercises (helpers/exercises/nb02.py): each worked solution passes; plausible wrong answers fail with
a hint that does not give the answer away; hint and solution are the solutions notebook's; the tiny figures
notebook 02 states hold.
"""

from __future__ import annotations

import json
import math

import pytest
from sklearn.model_selection import train_test_split

import helpers
from helpers import layout, split

from support import exercise_env, fails, hides, notebook_text, passes, run_solution

KEYS = ("02.1", "02.2", "02.3")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """One output folder for the module."""
    return tmp_path_factory.mktemp("nb02")


@pytest.fixture
def env(monkeypatch, out, tiny_cache):
    """The notebook's namespace on the tiny profile, as its first cells leave it."""
    settings = exercise_env(monkeypatch, out, tiny_cache)
    df = helpers.load_data(settings)
    train, test = helpers.split_data(df, settings)
    return dict(settings=settings, df=df, train=train, test=test, helpers=helpers, layout=layout, split=split,
                json=json, train_test_split=train_test_split)


def test_02_1_other_seed(env, capsys):
    """The worked solution passes; a percentage, a count, the share of train rows, or a number typed in fail, and no
    hint prints the expected share."""
    shared = run_solution("02.1", env)["shared"]
    assert "about a quarter" in passes(capsys, "02.1", shared)
    other_train, other = helpers.split_data(env["df"], helpers.get_settings(split_seed=124))
    fails(capsys, "02.1", 100 * shared, saying="percentage")
    fails(capsys, "02.1", int(other.index.isin(env["test"].index).sum()), saying="count")
    hides(fails(capsys, "02.1", other.index.isin(env["train"].index).mean(), saying="tutorial train rows"), shared)
    hides(fails(capsys, "02.1", 0.25, saying="not the share"), shared)
    hides(fails(capsys, "02.1", round(shared, 3), saying="not the share"), shared)


def test_02_2_stratified(env, capsys):
    """The worked solution passes; the split without stratify=, with another seed, or not a frame fail, and no hint
    holds the call that answers it."""
    s_test = run_solution("02.2", env)["s_test"]
    passes(capsys, "02.2", s_test)
    settings, df = env["settings"], env["df"]
    out = fails(capsys, "02.2", train_test_split(df, test_size=settings.test_size, random_state=settings.split_seed)[1],
                saying="stratify=")
    assert "stratify=df" not in out and "random_state=settings.split_seed" not in out
    fails(capsys, "02.2", train_test_split(df, stratify=df["label"], test_size=settings.test_size, random_state=0)[1],
          saying="not the rows")
    fails(capsys, "02.2", train_test_split(df, stratify=df["label"], test_size=0.2,
                                          random_state=settings.split_seed)[1], saying="s_test has")
    fails(capsys, "02.2", s_test.index, saying="DataFrame")


def test_02_3_test_size(env, capsys):
    """The worked solution (parts and recipe) passes; a number typed without load_split (the issue's
    math.ceil(0.2 * len(df))), the default split, rows cut by hand, or the recipe read after the default call fail."""
    solved = run_solution("02.3", env)
    parts, recipe = solved["parts"], solved["recipe"]
    assert recipe["test_size"] == 0.2
    assert "a fifth of 300" in passes(capsys, "02.3", parts, recipe)
    df = env["df"]
    fails(capsys, "02.3", math.ceil(0.2 * len(df)), recipe, saying="dict of DataFrames load_split returns")
    default = split.load_split(env["settings"])
    fails(capsys, "02.3", default, recipe, saying="default test_size")
    by_hand = {"train": df.iloc[60:], "validation": None, "test": df.iloc[:60]}
    out = fails(capsys, "02.3", by_hand, recipe, saying="other rows than the split test_size=0.2 makes")
    hides(out, len(parts["test"]))
    later = json.loads(layout.run_folder(helpers.get_settings(output_dir=solved["folder"])).split.read_text())["recipe"]
    fails(capsys, "02.3", parts, later, saying="records test_size 0.25")
    fails(capsys, "02.3", parts, len(parts["test"]), saying="the dict under 'recipe'")


def test_02_the_validation_carve_is_written_out():
    """Notebook 02 writes out the second train_test_split that carves the validation rows, and checks it against
    helpers' split_validation in a cell of its own."""
    from support import notebook_cells, notebook_path

    code = [source for kind, source in notebook_cells(notebook_path("02")) if kind == "code"]
    (carve,) = [i for i, source in enumerate(code) if "train_test_split(train_rows" in source]
    assert "test_size=settings.validation_size" in code[carve] and "random_state=settings.split_seed" in code[carve]
    assert "split.split_validation(train_rows, settings)" in code[carve + 1]
    assert "assert h_validation.index.equals(validation.index)" in code[carve + 1]


def test_tiny_figures_notebook_02_states(env):
    """The deterministic `tiny` figures under notebook 02's key cells are what the tiny profile gives."""
    train, test = env["train"], env["test"]
    parts = split.load_split(env["settings"])
    sizes = f"{len(parts['train'])} / {len(parts['validation'])} / {len(parts['test'])} on `tiny`"
    assert sizes in notebook_text("02") and f"{len(train)} train and {len(test)} test rows" in notebook_text("02")
    assert "first test rows " + ", ".join(map(str, test.index[:3])) in notebook_text("02")
