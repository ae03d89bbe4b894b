"""Notebook 01's exercises (helpers/exercises/nb01.py): each worked solution passes; plausible wrong answers fail with
a hint that does not give the answer away; hint and solution are the solutions notebook's; the tiny figures
notebook 01 states hold.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

import helpers
from helpers import baselines, data

from support import exercise_env, fails, hides, notebook_text, passes, run_solution

KEYS = ("01.1", "01.2", "01.3")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """One output folder for the module: the saved split is made once."""
    return tmp_path_factory.mktemp("nb01")


@pytest.fixture
def env(monkeypatch, out, tiny_cache):
    """The notebook's namespace on the tiny profile, as its first cells leave it."""
    settings = exercise_env(monkeypatch, out, tiny_cache)
    df = helpers.load_data(settings)
    return dict(settings=settings, df=df, names=data.label_names(settings), path=data.fetch(settings), pd=pd,
                Counter=Counter, train_test_split=train_test_split, baselines=baselines)


def test_01_1_split_luck(env, capsys):
    """The worked solution passes; the commonest label taken from the test rows, one seed for all ten, too few
    scores or percentages fail, and no hint prints the expected baselines."""
    scores = run_solution("01.1", env)["scores"]
    assert "spread of" in passes(capsys, "01.1", scores)
    df, size = env["df"], env["settings"].test_size
    from_test = [baselines.majority_accuracy(test["label"], test["label"])
                 for test in (train_test_split(df, test_size=size, random_state=seed)[1] for seed in range(10))]
    hides(fails(capsys, "01.1", from_test, saying="commonest label of the test rows"), *scores)
    _, tutorial = train_test_split(df, test_size=size, random_state=123)
    one_seed = [baselines.majority_accuracy(df.drop(tutorial.index)["label"], tutorial["label"])] * 10
    hides(fails(capsys, "01.1", one_seed, saying="all ten scores are the same"), *scores)
    hides(fails(capsys, "01.1", [1 - s for s in scores], saying="random_state 0"), *scores)
    fails(capsys, "01.1", scores[:9], saying="ten accuracies")
    fails(capsys, "01.1", [100 * s for s in scores], saying="between 0 and 1")


def _gap(df: pd.DataFrame) -> pd.Series:
    """01.2's answer computed another way than the check's: each headline's set of words, one row each, then the share
    of each label's headlines holding the word (a word a label never uses: 0)."""
    words = df.assign(word=df["sentence"].str.split().map(set)).explode("word")
    held = words.groupby(["word", "label"]).size().unstack(fill_value=0)
    shares = held / df["label"].value_counts()
    return (shares[1] - shares[0]).rename_axis(None)


def test_01_2_word_gap(env, capsys):
    """The worked solution (and the same gap computed another way) passes; the opposite sign, words counted each time
    they occur, shares of all headlines, the top ten only, or a list fail, and no hint prints an expected gap."""
    df = env["df"]
    gap = run_solution("01.2", env)["gap"]
    passes(capsys, "01.2", gap)
    passes(capsys, "01.2", _gap(df))
    fails(capsys, "01.2", -gap, saying="opposite sign")
    counted = {label: Counter(w for text in df.loc[df["label"] == label, "sentence"] for w in text.split())
               for label in (0, 1)}
    each_time = (pd.DataFrame({label: pd.Series(counts) / (df["label"] == label).sum()
                               for label, counts in counted.items()}).fillna(0))
    out = fails(capsys, "01.2", each_time[1] - each_time[0], saying="counts twice")
    repeated = (each_time[1] - each_time[0] - gap.reindex(each_time.index)).abs().idxmax()
    hides(out, float(gap[repeated]))
    shares = {label: pd.Series(Counter(w for t in df.loc[df["label"] == label, "sentence"] for w in set(t.split())))
              for label in (0, 1)}
    by_all = (pd.DataFrame(shares).fillna(0)[1] - pd.DataFrame(shares).fillna(0)[0]) / len(df)
    fails(capsys, "01.2", by_all, saying="of all headlines")
    fails(capsys, "01.2", gap.nlargest(10), saying="every word")
    fails(capsys, "01.2", list(gap), saying="Series")
    off = gap.copy()
    off.iloc[0] += 0.01
    hides(fails(capsys, "01.2", off, saying=f"gap of {gap.index[0]!r}"), float(gap.iloc[0]))


def test_01_3_own_load(env, capsys):
    """pandas' lines (the worked solution) pass; helpers.load_data's own frame, unrenamed columns, a dropped row, a
    moved index or other labels fail."""
    mine = run_solution("01.3", env)["mine"]
    assert "300 rows" in passes(capsys, "01.3", mine)
    raw = pd.read_json(env["path"])
    fails(capsys, "01.3", raw, saying="no column 'sentence'")
    fails(capsys, "01.3", mine.iloc[:-1], saying="rows")
    fails(capsys, "01.3", mine.set_axis(mine.index + 1), saying="index")
    fails(capsys, "01.3", mine.assign(label=1 - mine["label"]), saying="label column")
    fails(capsys, "01.3", mine.to_dict(), saying="DataFrame")


def test_tiny_figures_notebook_01_states(env):
    """The deterministic `tiny` figures under notebook 01's key cells are what the tiny profile gives."""
    settings, df = env["settings"], env["df"]
    train, test = helpers.split_data(df, settings)
    majority = baselines.majority_accuracy(train["label"], test["label"])
    seen = test["sentence"].isin(set(train["sentence"])).sum()
    assert f"{len(df)} on `tiny`" in notebook_text("01")
    assert f"{majority:.3f} on {len(test)} test rows on `tiny`" in notebook_text("01")
    assert f"{seen} of {len(test)} on `tiny`" in notebook_text("01")
