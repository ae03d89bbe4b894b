"""The checks of notebook 01 (download)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from .core import _frame, _number, _settings, exercise, NotYet


@exercise("01.1", "`scores`, the ten majority-baseline accuracies for random_state 0 to 9")
def check_split_luck(scores) -> str:
    """Notebook 01, exercise 1: the majority baseline on the test rows of ten seeds' splits."""
    from sklearn.model_selection import train_test_split

    from .. import baselines, data

    settings = _settings()
    df = data.load_data(settings)
    expected = []
    for seed in range(10):
        train, test = train_test_split(df, test_size=settings.test_size, random_state=seed)
        expected.append(baselines.majority_accuracy(train["label"], test["label"]))
    scores = list(scores) if not isinstance(scores, (str, dict)) else scores
    if not isinstance(scores, list) or len(scores) != 10:
        raise NotYet("scores should be a list of ten accuracies, one per random_state 0 to 9",
                     "append one baseline per seed in a loop: for seed in range(10): ...")
    values = [_number(score, "each score") for score in scores]
    if any(not 0 <= value <= 1 for value in values):
        raise NotYet("an accuracy lies between 0 and 1", "baselines.majority_accuracy(train['label'], test['label'])")
    wrong = [seed for seed, (value, right) in enumerate(zip(values, expected)) if abs(value - right) > 1e-9]
    if wrong:
        raise NotYet(f"the score of random_state {wrong[0]} is {values[wrong[0]]:.4f}, not {expected[wrong[0]]:.4f}",
                     "split with train_test_split(df, test_size=settings.test_size, random_state=seed), then "
                     "baselines.majority_accuracy(train['label'], test['label']): the commonest label of the train "
                     "rows, scored on the test rows")
    spread = max(expected) - min(expected)
    return f"from {min(expected):.3f} to {max(expected):.3f}, a spread of {100 * spread:.1f} points"


def _word_gap(df: pd.DataFrame) -> pd.Series:
    """For each word: the share of label-1 headlines that contain it minus the share of label-0 ones."""
    shares = pd.DataFrame({
        label: pd.Series(Counter(w for text in df.loc[df["label"] == label, "sentence"] for w in set(text.split())))
        / (df["label"] == label).sum()
        for label in (0, 1)
    }).fillna(0)
    return shares[1] - shares[0]


@exercise("01.2", "`gap`, a Series: for each word, its share of sarcastic headlines minus its share of sincere ones")
def check_word_gap(gap) -> str:
    """Notebook 01, exercise 2: each word's share of sarcastic minus sincere headlines that contain it."""
    from .. import data

    df = data.load_data(_settings())
    expected = _word_gap(df)
    if isinstance(gap, dict):
        gap = pd.Series(gap)
    if not isinstance(gap, pd.Series):
        raise NotYet(f"gap should be a pandas Series indexed by word, not {type(gap).__name__}",
                     "divide a Counter of words per class by the number of headlines of that class, as a Series")
    if len(gap) < 20 or len(gap) < len(expected) // 2:
        raise NotYet(f"gap has {len(gap)} words; the headlines use {len(expected):,} different words",
                     "keep every word, not just the top ten: sort them afterwards with nlargest / nsmallest")
    ours = gap.reindex(expected.index).fillna(0).astype(float)
    if np.allclose(-ours, expected, atol=1e-9) and not np.allclose(ours, expected, atol=1e-9):
        raise NotYet("your gap has the opposite sign", "compute the sarcastic share minus the sincere share")
    off = (ours - expected).abs()
    if off.max() > 1e-9:
        word = off.idxmax()
        raise NotYet(f"the gap of {word!r} is {ours[word]:.4f}, not {expected[word]:.4f}",
                     "count a word once per headline (set(text.split())), and divide by the number of headlines of "
                     "that class, not by the number of words")
    top = ", ".join(expected.nlargest(5).index)
    return f"the five most sarcastic words here: {top}"


@exercise("01.3", "`mine`, the data read with pandas, columns renamed `sentence` and `label`")
def check_own_load(mine) -> str:
    """Notebook 01, exercise 3: read the file with pandas and keep two renamed columns, as `load_data` does."""
    from .. import data

    expected = data.load_data(_settings())
    mine = _frame(mine, "mine")
    missing = [column for column in ("sentence", "label") if column not in mine.columns]
    if missing:
        raise NotYet(f"mine has no column {missing[0]!r} (columns: {', '.join(map(str, mine.columns))})",
                     "rename with .rename(columns={'headline': 'sentence', 'is_sarcastic': 'label'})")
    if len(mine) != len(expected):
        raise NotYet(f"mine has {len(mine):,} rows, the data {len(expected):,}",
                     "keep every row of the file (pd.read_json(path), or data.read_table(path))")
    if not mine.index.equals(expected.index):
        raise NotYet("the row numbers (the index) differ from the file's", "do not reset or sort the index")
    if not mine["sentence"].astype(str).equals(expected["sentence"]):
        raise NotYet("the sentence column does not hold the headlines", "rename the headline column to sentence")
    if not (mine["label"].astype(int).to_numpy() == expected["label"].to_numpy()).all():
        raise NotYet("the label column does not hold the file's labels", "rename is_sarcastic to label")
    return f"{len(mine):,} rows, the very ones helpers.load_data gives"
