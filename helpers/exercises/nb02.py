"""The checks of notebook 02 (split)."""

from __future__ import annotations

from .core import _frame, _number, _settings, exercise, NotYet

OTHER_SEED = '''_, other_test = helpers.split_data(df, helpers.get_settings(split_seed=124))
shared = other_test.index.isin(test.index).mean()
print(f"{shared:.1%} of the seed-124 test rows are also test rows of the tutorial's split")'''


@exercise("02.1", "`shared`, the share (0 to 1) of the seed-124 test rows that are also tutorial test rows",
          hint="split again with helpers.get_settings(split_seed=124); Index.isin tells which of its test rows are "
               "among the tutorial's test rows (by row number, the index), and .mean() turns that into a share",
          solution=OTHER_SEED)
def check_other_seed(shared) -> str:
    """Notebook 02, exercise 1: the share of seed-124 test rows that are also test rows of the tutorial's split."""
    from .. import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    train, tutorial = split.split_data(df, settings)
    other_train, other = split.split_data(df, reach.get_settings(settings.profile, split_seed=124))
    expected = float(other.index.isin(tutorial.index).mean())
    value = _number(shared, "shared")
    if value > 1 and abs(value / 100 - expected) < 1e-6:
        raise NotYet(f"{value:.1f} looks like a percentage", "give a share between 0 and 1 (.mean(), not * 100)")
    if value >= 1 and value == round(value):
        raise NotYet(f"{value:.0f} is a count of rows", "divide by the number of test rows, or use .mean()")
    near_misses = {
        "the share of the seed-124 test rows that are tutorial train rows": other.index.isin(train.index).mean(),
        "a share of the train rows": other_train.index.isin(train.index).mean(),
        "a share of all rows": other.index.isin(tutorial.index).sum() / len(df),
    }
    for what, miss in near_misses.items():
        if abs(value - miss) < 1e-9 and abs(value - expected) > 1e-9:
            raise NotYet(f"{value:.4f} is {what}",
                         "compare the two test splits: the seed-124 test rows' index .isin the tutorial's test index")
    if abs(value - expected) > 1e-9:
        raise NotYet(f"shared is {value:.4f}, not the share of the seed-124 test rows found among the tutorial's",
                     "compute it from the rows: other_test.index.isin(...), then .mean(), not a number typed in")
    return f"{expected:.1%} of the seed-124 test rows are also tutorial test rows: about a quarter, as chance has it"


STRATIFIED = '''s_train, s_test = train_test_split(df, test_size=settings.test_size, random_state=settings.split_seed,
                                  stratify=df["label"])
share = df["label"].mean()
for name, part in [("train", s_train), ("test", s_test)]:
    print(f"{name}: sarcastic share {part['label'].mean():.4f} (all rows: {share:.4f})")
    assert abs(part["label"].sum() - share * len(part)) <= 1, "off by at most one headline"'''


@exercise("02.2", "`s_test`, the test rows of train_test_split with stratify=",
          hint="train_test_split's argument stratify= takes the labels whose shares each part should keep; the "
               "settings give test_size and the seed (random_state)",
          solution=STRATIFIED)
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
                     "train_test_split keeps the class shares when told which labels to keep: stratify=")
    if len(s_test) != len(expected):
        raise NotYet(f"s_test has {len(s_test):,} rows, not as many as settings.test_size asks",
                     "split df itself with test_size=settings.test_size; s_test is the second part it returns")
    if not s_test.index.equals(expected.index):
        raise NotYet("not the rows helpers.split_data gives with stratify=True",
                     "the same random_state as the settings (settings.split_seed), on df itself")
    return (f"sarcastic share {s_test['label'].mean():.4f} in the test rows, {df['label'].mean():.4f} in all rows: "
            "the same, give or take one headline")


TEST_SIZE = '''folder = f"{settings.output_dir}-exercise"
parts = split.load_split(helpers.get_settings(test_size=0.2, output_dir=folder))
recipe = json.loads(layout.run_folder(helpers.get_settings(output_dir=folder)).split.read_text())["recipe"]
print(len(parts["test"]), "test rows; recorded test_size:", recipe["test_size"])
again = split.load_split(helpers.get_settings(output_dir=folder))
print("the tutorial's test rows again:", again["test"].index.equals(test.index))'''


@exercise("02.3", "`parts`, what load_split returns with test_size=0.2, and `recipe`, what split.json records",
          hint="split.load_split(helpers.get_settings(test_size=0.2, output_dir=...)) returns the parts and writes "
               "split.json into that folder; layout.run_folder(...).split names the file, json.loads reads it",
          solution=TEST_SIZE)
def check_test_size(parts, recipe) -> str:
    """Notebook 02, exercise 3: the split `load_split` saves with `test_size=0.2`, and the recipe it keeps."""
    import pandas as pd

    from .. import data, reach, split

    settings = _settings()
    df = data.load_data(settings)
    fifth = reach.get_settings(settings.profile, test_size=0.2)
    train, test = split.split_data(df, fifth)
    train, validation = split.split_validation(train, fifth)
    if not isinstance(parts, dict) or not isinstance(parts.get("test"), pd.DataFrame):
        raise NotYet(f"parts should be the dict of DataFrames load_split returns, not {type(parts).__name__}",
                     "keep what split.load_split(...) returns; its 'test' entry holds the test rows")
    if parts["test"].index.equals(split.split_data(df, settings)[1].index):
        raise NotYet("these are the test rows of the default test_size",
                     "pass test_size=0.2 to helpers.get_settings, with an output_dir of its own")
    if not parts["test"].index.equals(test.index):
        raise NotYet("parts['test'] holds other rows than the split test_size=0.2 makes",
                     "let split.load_split make the parts from the settings; do not cut rows yourself")
    if validation is not None and not (isinstance(parts.get("validation"), pd.DataFrame)
                                       and parts["validation"].index.equals(validation.index)):
        raise NotYet("parts['validation'] is not the validation split load_split saves with test_size=0.2",
                     "keep the whole dict split.load_split returns")
    if not isinstance(recipe, dict) or "test_size" not in recipe:
        raise NotYet(f"recipe should be the dict under 'recipe' in split.json, not {type(recipe).__name__}",
                     "json.loads(layout.run_folder(settings).split.read_text())['recipe'], with the exercise's folder")
    if recipe != split._recipe(fifth):
        raise NotYet(f"this recipe records test_size {recipe['test_size']}, not the split made with 0.2"
                     if recipe["test_size"] != 0.2 else "this recipe is not the one load_split saved for test_size=0.2",
                     "read split.json of the exercise's folder right after the test_size=0.2 call, before any other")
    return (f"{len(test):,} test rows, a fifth of {len(df):,} rounded up, and split.json records the recipe that made "
            "them: another recipe makes another split")
