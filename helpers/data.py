"""Download, cache and load the headlines as a DataFrame of `sentence` and `label`.

Introduced in notebook 01 (download).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .download import download
from .settings import DATA_URL, Settings, UserError, cached_path, first_line, how_to_set, is_url, warn_once


def _text(path: Path) -> str:
    """The UTF-8 text of `path` (a byte-order mark, which Windows editors write, is skipped)."""
    return path.read_text(encoding="utf-8-sig")


JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "true or false", type(None): "null"}


def _one_each(pairs: list[tuple]) -> dict:
    """A JSON object's pairs as a dict; a ValueError for a key given twice (json keeps the last without a word)."""
    keys = [key for key, _ in pairs]
    twice = next((key for key in keys if keys.count(key) > 1), None)
    if twice is not None:
        raise ValueError(f"an object has the key {twice!r} twice; keep one")
    return dict(pairs)


_json = functools.partial(json.loads, object_pairs_hook=_one_each)  # `json.loads`, refusing a key given twice


def _rows(rows) -> pd.DataFrame:
    """A DataFrame of JSON `rows`; a ValueError saying where, when they are not a list of objects."""
    if not isinstance(rows, list):
        raise ValueError(f"the file holds {JSON_KINDS.get(type(rows), 'a number')}, not an array")
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ValueError(f"row {number} is {JSON_KINDS.get(type(row), 'a number')}, not an object")
    return pd.DataFrame(rows)


def _json_lines_rows(path: Path) -> pd.DataFrame:
    """The rows of a JSON Lines file (blank lines skipped); a ValueError naming the line that is not JSON."""
    rows = []
    for number, line in enumerate(_text(path).split("\n"), 1):
        try:
            rows += [_json(line)] if line.strip() else []
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
    return _rows(rows)


READERS = {
    ".json": lambda path: _rows(_json(_text(path))),
    ".jsonl": _json_lines_rows,
    ".csv": lambda path: pd.read_csv(path, keep_default_na=False, na_values=[""], index_col=False),
}
SHAPES = {".json": "an array of objects, one per row", ".jsonl": "one JSON object per line",
          ".csv": "a header line, then one row per line"}
EXPECTED_ROWS = 26_709  # records in the published sarcasm.json


def offline_hint() -> str:
    """What to do when the data cannot be downloaded, in the user's terms (a flag, or a `TC_` variable)."""
    return f"work offline with {how_to_set('profile', 'tiny')}, or point {how_to_set('data')} at a local file"


def online_hint() -> str:
    """What to do when a download meant to bring the data here (prefetch) fails: no advice to work offline."""
    return f"check the network and the URL ({how_to_set('data')})"


def fetch(settings: Settings, hint: Callable[[], str] = offline_hint) -> Path:
    """The local file for `settings.data`, downloading it once into the cache when it is a URL (a failure ends
    with `hint()`)."""
    if not is_url(settings.data):
        path = Path(settings.data).expanduser()
        if not path.is_file():
            raise UserError(f"data file {settings.data} does not exist; set {how_to_set('data')} to a file or URL")
        return path
    path = cached_path(settings)
    return path if path.exists() else download(settings.data, path, read_table, hint)


def _read_table(path: Path) -> pd.DataFrame:
    """Read a .json (array of objects), .jsonl or .csv file into a DataFrame."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise UserError(f"cannot read {path}: use a .json, .jsonl or .csv file")
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty; point {how_to_set('data')} at a file with rows")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # rows longer than the header: not guessed at
            try:
                return READERS[suffix](path)
            except ValueError:
                if suffix != ".json" or not _json_lines(path):
                    raise
            warn_once(f"{path.name} holds JSON Lines (one object per line), not a JSON array; read as JSON Lines")
            return READERS[".jsonl"](path)
    except UnicodeDecodeError as error:
        raise UserError(f"{path} is not UTF-8 text (byte {error.object[error.start]:#04x} at position "
                        f"{error.start:,}); save it with UTF-8 encoding") from None
    except (ValueError, json.JSONDecodeError, pd.errors.ParserError, pd.errors.ParserWarning) as error:
        raise UserError(f"cannot read {path} as {suffix[1:]} ({first_line(error)}); it should hold "
                        f"{SHAPES[suffix]}") from None


SETTLED_SECONDS = 2.0  # a file unchanged this long is read once a process; one changed since is read again


@functools.lru_cache(maxsize=4)  # the latest few files
def _read_settled(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    """`_read_table(path)`, read once for each size and modification time of the file."""
    return _read_table(Path(path))


def read_table(path: Path) -> pd.DataFrame:
    """Read a .json (array of objects), .jsonl or .csv file into a DataFrame (a copy of it: read once a process).
    A run asks for its data more than once (labels checked, then split; the tiny model's samples): the file is read the
    first time only, while its size and modification time stay the same. As git does for its index, a file modified in
    the last `SETTLED_SECONDS` is read every time: two writes within the clock's resolution look alike."""
    stat = path.stat() if path.is_file() else None
    if stat is None or time.time() - stat.st_mtime < SETTLED_SECONDS:
        return _read_table(path)  # its errors are _read_table's
    return _read_settled(str(path.resolve()), stat.st_size, stat.st_mtime_ns).copy()


def _json_lines(path: Path) -> bool:
    """True when `path` holds JSON Lines: a first line that is one JSON object, and more lines after it."""
    with open(path, "rb") as file:
        first, rest = file.readline(), file.read(1 << 16)
    try:
        return isinstance(json.loads(first), dict) and bool(rest.strip())
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class Data:
    """The settings' data as `read_data` reads it: the rows, and what a row does not carry (notebook 01)."""

    rows: pd.DataFrame  # columns `sentence` and `label` (ids 0..n-1), the file's row index
    label_names: list[str]  # the names of labels 0, 1, ... (the saved model's `id2label`)
    columns: list[str]  # the file's own columns (the model card: is it the sarcasm data?)


def load_data(settings: Settings) -> pd.DataFrame:
    """Load the data as columns `sentence` and `label`, keeping the original row index (notebook 01)."""
    return read_data(settings).rows


def label_names(settings: Settings) -> list[str]:
    """The names of labels 0, 1, ... of the settings' data (the saved model's `id2label`) (notebook 01)."""
    return read_data(settings).label_names


def read_data(settings: Settings) -> Data:
    """The settings' data: its rows as `sentence` and `label`, the label names, the file's columns (notebook 01)."""
    path = fetch(settings)
    raw = read_table(path)
    if raw.empty:
        raise UserError(f"{path.name} has no rows; point {how_to_set('data')} at a file with rows")
    missing = [c for c in (settings.text_column, settings.label_column) if c not in raw.columns]
    if missing:
        raise UserError(f"{path.name} has no column {missing[0]!r} (columns: {', '.join(map(_column, raw.columns))});"
                        f" set {how_to_set('text_column')} and {how_to_set('label_column')}")
    for column in dict.fromkeys((settings.label_column, settings.text_column)):
        places = [str(number) for number, name in enumerate(_header(path), 1) if name == column]
        if len(places) > 1:  # pandas would rename the second `NAME.1` and the first would be used without a word
            raise UserError(f"{path.name} has the column {column!r} {len(places)} times (columns {', '.join(places)}), "
                            "which may disagree; keep one, or rename the others and choose one with "
                            f"{how_to_set('text_column')} and {how_to_set('label_column')}")
    df = raw[[settings.text_column, settings.label_column]].set_axis(["sentence", "label"], axis=1)
    df["label"], names = _label_ids(df["label"], settings, path)
    return Data(_checked(df, settings, path), names, list(map(str, raw.columns)))


def _header(path: Path) -> list[str]:
    """The column names of a .csv file as its first line writes them (pandas renames a repeated one), else []."""
    if path.suffix.lower() != ".csv":
        return []
    with open(path, encoding="utf-8-sig", newline="") as file:
        return next(csv.reader(file), [])


def _checked(df: pd.DataFrame, settings: Settings, path: Path) -> pd.DataFrame:
    """Drop rows without text and warn about what a user should know; fail when no classifier can be trained."""
    if settings.data == DATA_URL and len(df) != EXPECTED_ROWS:
        warn_once(f"{path.name} has {len(df):,} rows, not the {EXPECTED_ROWS:,} of the published dataset")
    empty = df["sentence"].isna() | df["sentence"].astype(str).str.strip().eq("")
    if empty.any():
        warn_once(f"dropped {empty.sum():,} rows of {path.name} with an empty or missing text")
        df = df[~empty]
    if df.empty:
        raise UserError(f"{path.name} has no rows with text; point {how_to_set('data')} at a file with rows")
    df = df.assign(sentence=df["sentence"].astype(str))
    duplicates = df.duplicated().sum()
    if duplicates:
        warn_once(f"{path.name} has {duplicates:,} duplicate rows (same text and label); they are kept")
    if df["label"].nunique() < 2:
        raise UserError(f"{path.name} has {len(df):,} usable rows but only one class; a classifier needs two or more")
    return df


def place(path: Path, row: int) -> str:
    """Where row `row` (counted from 0, as read) is in the file, as an editor or a spreadsheet shows it: "line 6 of
    d.csv" (its header is line 1), "line 4 of d.jsonl" (blank lines counted), "item 3 of the array in d.json,
    counting from 1"."""
    if path.suffix.lower() == ".csv":  # a text with a line break inside quotes would shift later rows: rare
        return f"line {row + 2} of {path.name}"
    if path.suffix.lower() == ".jsonl" or _json_lines(path):
        lines = [number for number, line in enumerate(_text(path).split("\n"), 1) if line.strip()]
        return f"line {lines[row]} of {path.name}" if row < len(lines) else f"row {row + 1} of {path.name}"
    return f"item {row + 1} of the array in {path.name}, counting from 1"


def _label_ids(labels: pd.Series, settings: Settings, path: Path | None = None) -> tuple[pd.Series, list[str]]:
    """Labels as integer ids 0..n-1 and the names of those ids, or a clear error naming the row's place in `path`.
    Numbers are ids, named by `settings.label_names`; text labels are mapped to ids, named by themselves (in the order
    of `settings.label_names` when it lists them all, else sorted)."""

    def where(row) -> str:
        """The row's place in the file (or its row number, counted from 0, without a file)."""
        return place(path, labels.index.get_loc(row)) if path is not None else f"row {row}"

    named = [name.strip() for name in settings.label_names.split(",")]
    missing = labels.isna()
    if missing.any():
        raise UserError(f"no label in {where(labels.index[missing][0])}; every row needs one in "
                        f"{how_to_set('label_column')}")
    numeric = pd.to_numeric(labels, errors="coerce")
    if numeric.isna().all():  # text labels: their names are the labels themselves
        texts = labels.astype(str).str.strip()
        names = named if set(texts) <= set(named) else sorted(set(texts))
        return texts.map({name: i for i, name in enumerate(names)}).astype(int), names
    if numeric.isna().any():
        row = labels.index[numeric.isna()][0]
        raise UserError(f"label {_shown(labels[row])} ({where(row)}) is text while other labels are numbers; "
                        "use one kind")
    bad = labels[(numeric % 1 != 0) | (numeric < 0) | (numeric >= len(named))]
    if len(bad):
        raise UserError(f"label {_shown(bad.iloc[0])} ({where(bad.index[0])}) is not one of the ids "
                        f"0..{len(named) - 1}; check {how_to_set('label_column')}, and name every class in "
                        f"{how_to_set('label_names')} (comma-separated)")
    return numeric.astype(int), named


def _column(name) -> str:
    """A column name as is, or quoted when it is empty, padded or holds characters a terminal does not show."""
    text = str(name)
    return text if text and text.isprintable() and text.strip() == text else repr(text)


def _shown(value) -> str:
    """A label as the user wrote it: 0.5, -1 or 'yes' (not np.float64(0.5))."""
    return repr(value.item() if hasattr(value, "item") else value)
