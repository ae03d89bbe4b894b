"""Split the data into train, validation and test rows, and keep the split on disk.

Introduced in notebook 02 (split).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from .data import Data, read_data
from .layout import run_folder, write_json
from .settings import Settings, UserError, first_line, having, how_to_set, warn_once

PARTS = ("train", "validation", "test")
FEW_ROWS = 10  # fewer train rows of a class than this, and a result says little about it


def split_data(df: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows: the tutorial's `train_test_split(df, random_state=123)` by default."""
    train, test = _split(df, settings.test_size, settings)
    return _subset(train, settings.train_rows, settings), _subset(test, settings.test_rows, settings)


def split_validation(train: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Set `settings.validation_size` of the train rows aside for validation (None when 0)."""
    if not settings.validation_size:
        return train, None
    return _split(train, settings.validation_size, settings)


def _split(df: pd.DataFrame, size: float, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One `train_test_split` of `df`, stratified by label when the settings ask for it."""
    held = math.ceil(size * len(df))
    if held < 1 or held >= len(df):
        raise UserError(f"too few rows to split: {len(df)} rows with a {size} split leave {len(df) - held} to train "
                        f"on and {held} held out; use more data, or change {how_to_set('test_size')} / "
                        f"{how_to_set('validation_size')}")
    stratify = df["label"] if settings.stratify else None
    try:
        return train_test_split(df, test_size=size, random_state=settings.split_seed, stratify=stratify)
    except ValueError as error:  # stratifying: a class too small for both sides
        raise UserError(f"cannot stratify {len(df)} rows with a {size} split ({first_line(error)}); "
                        f"add rows of the rarest class, or turn off {how_to_set('stratify')}") from None


def _subset(df: pd.DataFrame, rows: int, settings: Settings) -> pd.DataFrame:
    """A random `rows` of `df` (all of it when `rows` is 0 or more than it has)."""
    return df if not rows or rows >= len(df) else df.sample(n=rows, random_state=settings.split_seed)


def evaluation_rows(parts: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """The rows to evaluate on during training: the validation split, or the test split when there is none."""
    return parts["validation"] if parts["validation"] is not None else parts["test"]


def _recipe(settings: Settings) -> dict:
    """The settings that decide which rows land where: those whose role is "split"."""
    return {name: getattr(settings, name) for name in having("split")}


def save_split(parts: dict[str, pd.DataFrame | None], settings: Settings) -> Path:
    """Write each part's original row indices, so later notebooks use the very same rows."""
    folder = run_folder(settings)
    folder.make()
    indices = {name: part.index.tolist() for name, part in parts.items() if part is not None}
    return write_json(folder.split, {"recipe": _recipe(settings), **indices})  # under torchrun each process: the same


def load_split(settings: Settings, data: Data | None = None) -> dict[str, pd.DataFrame | None]:
    """The saved split's parts ("train", "validation", "test"), made and saved first if missing or stale.
    `data`: the settings' data as `read_data` gives it, when the caller has read it already (else it is read here)."""
    data = read_data(settings) if data is None else data
    df = data.rows
    path = run_folder(settings).split
    saved = json.loads(path.read_text()) if path.exists() else {}
    if saved.get("recipe") != _recipe(settings):
        train, test = split_data(df, settings)
        train, validation = split_validation(train, settings)
        save_split({"train": train, "validation": validation, "test": test}, settings)
        saved = json.loads(path.read_text())
    parts = {name: df.loc[saved[name]] if name in saved else None for name in PARTS}
    check_train_rows(parts["train"], data.label_names)
    check_validation_rows(parts["validation"], data.label_names)
    return parts


FEW_VALIDATION_ROWS, FEW_VALIDATION_OF_A_CLASS = 20, 5  # the tiny profile's 23 rows (15 and 8) stay quiet


def class_counts(part: pd.DataFrame, names: list[str]) -> tuple[pd.Series, str]:
    """How many rows of `part` each label of `names` has, and the same in words: "12 of 'news', 3 of 'opinion'"."""
    counts = part["label"].value_counts().reindex(range(len(names)), fill_value=0)
    return counts, ", ".join(f"{count} of {name!r}" for name, count in zip(names, counts))


def check_validation_rows(validation: pd.DataFrame | None, names: list[str]) -> None:
    """Warn (once per process) when the validation split is too small to choose an epoch on: a row moves its
    accuracy by more than 5 %, or a class (of labels `names`) has almost no rows (notebook 02)."""
    if validation is None:
        return
    counts, each = class_counts(validation, names)
    if len(validation) < FEW_VALIDATION_ROWS or counts.min() < FEW_VALIDATION_OF_A_CLASS:
        warn_once(f"the validation split has only {len(validation)} rows ({each}): one row moves its accuracy by "
                  f"{100 / max(len(validation), 1):.0f} %, too coarse to choose the best epoch on; use more data or a "
                  f"larger {how_to_set('validation_size')}")


def check_train_rows(train: pd.DataFrame, names: list[str]) -> None:
    """Warn (once per process) when some class (of labels `names`) has fewer than `FEW_ROWS` train rows: too few to
    learn it from (notebook 02)."""
    counts, each = class_counts(train, names)
    if counts.min() < FEW_ROWS:
        warn_once(f"the train split has only {len(train)} rows ({each}), fewer than {FEW_ROWS} of a class: "
                  f"a model trained on so few means little; use more data, or a smaller {how_to_set('test_size')} or "
                  f"{how_to_set('validation_size')}")
