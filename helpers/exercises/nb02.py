"""The checks of notebook 02 (split)."""

from __future__ import annotations

from .core import _frame, _number, _settings, exercise, NotYet


@exercise("02.1", "`shared`, the share (0 to 1) of the seed-124 test rows that are also tutorial test rows")
def check_other_seed(shared) -> str:
    """Notebook 02, exercise 1: the share of seed-124 test rows that are also test rows of the tutorial's split."""
    from .. import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    _, tutorial = split.split_data(df, settings)
    _, other = split.split_data(df, reach.get_settings(settings.profile, split_seed=124))
    expected = float(other.index.isin(tutorial.index).mean())
    value = _number(shared, "shared")
    if value > 1 and abs(value / 100 - expected) < 1e-6:
        raise NotYet(f"{value:.1f} looks like a percentage", "give a share between 0 and 1 (.mean(), not * 100)")
    if value >= 1 and value == round(value):
        raise NotYet(f"{value:.0f} is a count of rows", "divide by the number of test rows, or use .mean()")
    if abs(value - expected) > 1e-6:
        raise NotYet(f"shared is {value:.4f}, not {expected:.4f}",
                     "split with helpers.get_settings(split_seed=124), then "
                     "other_test.index.isin(tutorial_test.index).mean()")
    return f"{expected:.1%} of the seed-124 test rows are also tutorial test rows: about a quarter, as chance has it"


@exercise("02.2", "`s_test`, the test rows of train_test_split with stratify=")
def check_stratified(s_test) -> str:
    """Notebook 02, exercise 2: a stratified split written with `train_test_split`, as `split_data` makes it."""
    from .. import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    _, expected = split.split_data(df, reach.get_settings(settings.profile, stratify=True))
    _, plain = split.split_data(df, settings)
    s_test = _frame(s_test, "s_test")
    if s_test.index.equals(plain.index):
        raise NotYet("these are the tutorial's random test rows, not stratified ones",
                     "pass stratify=df['label'] to train_test_split")
    if len(s_test) != len(expected):
        raise NotYet(f"s_test has {len(s_test):,} rows, not {len(expected):,}",
                     "split df itself with test_size=settings.test_size; s_test is the second part it returns")
    if not s_test.index.equals(expected.index):
        raise NotYet("not the rows helpers.split_data gives with stratify=True",
                     "train_test_split(df, test_size=settings.test_size, random_state=settings.split_seed, "
                     "stratify=df['label'])")
    return (f"sarcastic share {s_test['label'].mean():.4f} in the test rows, {df['label'].mean():.4f} in all rows: "
            "the same, give or take one headline")


@exercise("02.3", "`rows`, the number of test rows `load_split` gives with test_size=0.2")
def check_test_size(rows) -> str:
    """Notebook 02, exercise 3: the number of test rows with `test_size=0.2`."""
    from .. import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    expected = len(split.split_data(df, reach.get_settings(settings.profile, test_size=0.2))[1])
    default = len(split.split_data(df, settings)[1])
    value = _number(rows, "rows")
    if value == default and default != expected:
        raise NotYet(f"{default:,} is the number of test rows with the default test_size {settings.test_size}",
                     "pass test_size=0.2 to helpers.get_settings, and an output_dir of its own")
    if value != expected:
        raise NotYet(f"rows is {value:g}, not {expected:,}", "len(parts['test']) of the parts load_split returns")
    return f"{expected:,} test rows: a fifth of {len(df):,}, rounded up"
