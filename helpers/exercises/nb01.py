"""The checks of notebook 01 (download)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from .core import _frame, _number, _settings, exercise, NotYet

SPLIT_LUCK = '''scores = []
for seed in range(10):
    train, test = train_test_split(df, test_size=settings.test_size, random_state=seed)
    scores.append(baselines.majority_accuracy(train["label"], test["label"]))
print(" ".join(f"{score:.3f}" for score in scores))'''


@exercise("01.1", "`scores`, the ten majority-baseline accuracies for random_state 0 to 9",
          hint="in a loop over random_state 0 to 9: train_test_split(df, ...) with the settings' test_size, then "
               "baselines.majority_accuracy(train labels, test labels): the commonest label of the train rows, "
               "scored on the test rows",
          solution=SPLIT_LUCK)
def check_split_luck(scores) -> str:
    """Notebook 01, exercise 1: the majority baseline on the test rows of ten seeds' splits."""
    from sklearn.model_selection import train_test_split

    from .. import baselines, data

    settings = _settings()
    df = data.load_data(settings)
    expected, from_test = [], []
    for seed in range(10):
        train, test = train_test_split(df, test_size=settings.test_size, random_state=seed)
        expected.append(baselines.majority_accuracy(train["label"], test["label"]))
        from_test.append(baselines.majority_accuracy(test["label"], test["label"]))
    scores = list(scores) if not isinstance(scores, (str, dict)) else scores
    if not isinstance(scores, list) or len(scores) != 10:
        raise NotYet("scores should be a list of ten accuracies, one per random_state 0 to 9",
                     "append one baseline per seed in a loop: for seed in range(10): ...")
    values = [_number(score, "each score") for score in scores]
    if any(not 0 <= value <= 1 for value in values):
        raise NotYet("an accuracy lies between 0 and 1", "baselines.majority_accuracy gives a share, not a percentage")
    if np.allclose(values, from_test, atol=1e-9) and not np.allclose(values, expected, atol=1e-9):
        raise NotYet("these baselines take the commonest label of the test rows",
                     "the baseline may know the train rows only: take the commonest label of train['label']")
    if len(set(values)) == 1 and len(set(expected)) > 1:
        raise NotYet("all ten scores are the same: every split drew the same rows",
                     "pass random_state=seed, the loop's variable, to train_test_split")
    wrong = [seed for seed, (value, right) in enumerate(zip(values, expected)) if abs(value - right) > 1e-9]
    if wrong:
        raise NotYet(f"the score of random_state {wrong[0]} ({values[wrong[0]]:.4f}) is not that split's baseline"
                     + (f", nor are {len(wrong) - 1} more" if len(wrong) > 1 else ""),
                     "split df with train_test_split(..., test_size=settings.test_size, random_state=seed); "
                     "the baseline is the commonest train label, scored on that split's test rows")
    spread = max(expected) - min(expected)
    return f"from {min(expected):.3f} to {max(expected):.3f}, a spread of {100 * spread:.1f} points"


def _word_gap(df: pd.DataFrame, once: bool = True) -> pd.Series:
    """For each word: the share of label-1 headlines that contain it minus the share of label-0 ones (a word counted
    once per headline; every time it occurs when not `once`)."""
    words = (lambda text: set(text.split())) if once else str.split
    shares = pd.DataFrame({
        label: pd.Series(Counter(w for text in df.loc[df["label"] == label, "sentence"] for w in words(text)))
        / (df["label"] == label).sum()
        for label in (0, 1)
    }).fillna(0)
    return shares[1] - shares[0]


def _same(ours: pd.Series, other: pd.Series) -> bool:
    """True when two word series agree on every word of `other`."""
    return bool(np.allclose(ours.reindex(other.index).fillna(0).astype(float), other, atol=1e-9))


WORD_GAP = '''shares = pd.DataFrame({
    label: pd.Series(Counter(word for text in df.loc[df["label"] == label, "sentence"] for word in set(text.split())))
    / (df["label"] == label).sum()
    for label in (0, 1)
}).fillna(0)
gap = shares[1] - shares[0]
print(f"most {names[1]}:", ", ".join(gap.nlargest(10).index))
print(f"most {names[0]}:", ", ".join(gap.nsmallest(10).index))'''


@exercise("01.2", "`gap`, a Series: for each word, its share of sarcastic headlines minus its share of sincere ones",
          hint="for each class, a collections.Counter of the words of its headlines, each headline's words as a set "
               "(once per headline), divided by that class's number of headlines; gap is the sarcastic Series minus "
               "the sincere one (a word one class never uses: 0 there, .fillna(0))",
          solution=WORD_GAP)
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
        raise NotYet(f"gap has {len(gap)} words; the headlines use many more different words",
                     "keep every word, not just the top ten: sort them afterwards with nlargest / nsmallest")
    ours = gap.reindex(expected.index).fillna(0).astype(float)
    if _same(-gap, expected) and not _same(gap, expected):
        raise NotYet("your gap has the opposite sign", "compute the sarcastic share minus the sincere share")
    counted = _word_gap(df, once=False)
    if _same(gap, counted) and not _same(gap, expected):
        raise NotYet("a word that a headline repeats counts twice here", "count a word once per headline: "
                     "set(text.split())")
    shares = pd.Series(Counter(w for text in df["sentence"] for w in set(text.split())))
    by_all = (pd.Series(Counter(w for text in df.loc[df["label"] == 1, "sentence"] for w in set(text.split())))
              .reindex(shares.index, fill_value=0)
              - pd.Series(Counter(w for text in df.loc[df["label"] == 0, "sentence"] for w in set(text.split())))
              .reindex(shares.index, fill_value=0)) / len(df)
    if _same(gap, by_all) and not _same(gap, expected):
        raise NotYet("these shares are of all headlines", "divide each class's counts by the number of headlines of "
                     "that class, not by all of them")
    off = (ours - expected).abs()
    if off.max() > 1e-9:
        word = off.idxmax()
        raise NotYet(f"the gap of {word!r} is {ours[word]:.4f}, which is not its share of sarcastic headlines minus "
                     "its share of sincere ones",
                     "count a word once per headline (set(text.split())), and divide by the number of headlines of "
                     "that class, not by the number of words")
    top = ", ".join(expected.nlargest(5).index)
    return f"the five most sarcastic words here: {top}"


OWN_LOAD = '''raw = pd.read_json(path) if path.suffix == ".json" else pd.read_csv(path)
mine = raw[[settings.text_column, settings.label_column]].rename(
    columns={settings.text_column: "sentence", settings.label_column: "label"})
mine.head()'''


@exercise("01.3", "`mine`, the data read with pandas, columns renamed `sentence` and `label`",
          hint="pd.read_json(path) reads the file; keep two columns with df[[..., ...]] and name them with "
               ".rename(columns={...}), using settings.text_column and settings.label_column",
          solution=OWN_LOAD)
def check_own_load(mine) -> str:
    """Notebook 01, exercise 3: read the file with pandas and keep two renamed columns, as `load_data` does."""
    from .. import data

    expected = data.load_data(_settings())
    mine = _frame(mine, "mine")
    missing = [column for column in ("sentence", "label") if column not in mine.columns]
    if missing:
        raise NotYet(f"mine has no column {missing[0]!r} (columns: {', '.join(map(str, mine.columns))})",
                     "rename the text and label columns with .rename(columns={old: new, ...})")
    if len(mine) != len(expected):
        raise NotYet(f"mine has {len(mine):,} rows, the data {len(expected):,}",
                     "keep every row of the file (pd.read_json(path), or data.read_table(path))")
    if not mine.index.equals(expected.index):
        raise NotYet("the row numbers (the index) differ from the file's", "do not reset or sort the index")
    if not mine["sentence"].astype(str).equals(expected["sentence"]):
        raise NotYet("the sentence column does not hold the headlines", "rename the text column to sentence")
    if not (mine["label"].astype(int).to_numpy() == expected["label"].to_numpy()).all():
        raise NotYet("the label column does not hold the file's labels", "rename the label column to label")
    return f"{len(mine):,} rows, the very ones helpers.load_data gives"
