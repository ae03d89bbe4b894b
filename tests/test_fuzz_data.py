"""Property-based tests of the data loader: random and half-broken CSV, JSON and JSON Lines files (random bytes, wrong
encodings, ragged rows, nested values, huge fields, odd column names, labels of every type) end either in a
DataFrame of `sentence` and `label` or in a `UserError`, never in another exception.

The default profile keeps the file to seconds; `HYPOTHESIS_PROFILE=long` tries 2,000 examples per test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from helpers import UserError, get_settings, load_data

# The autouse fixtures only clear TC_* variables and set torch's threads: sharing them between examples is right.
settings.register_profile("default", max_examples=60, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", settings.get_profile("default"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SUFFIXES = st.sampled_from([".csv", ".json", ".jsonl", ".CSV", ".Json"])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                           max_size=3), max_leaves=6)
LABELS = (st.sampled_from([0, 1, 2, -1, 0.0, 1.0, 0.5, "0", "1", "sarcastic", "not sarcastic", "", " ", True, None,
                           "nan", "1e3", float("nan"), 2**64]) | VALUES)
TEXTS = st.text(max_size=40) | st.sampled_from(["", "   ", "x" * 200_000, "\x00", "a,b\n\"c", "\ufeffbom"]) | VALUES
NAMES = st.sampled_from(["headline", "is_sarcastic", "Headline", " headline", "", "0", "1", "\ufeffheadline",
                         "headline.1", "label", "a,b", 'q"uote']) | st.text(max_size=6)
LABEL_KINDS = st.sampled_from([[0, 1], [0.0, 1.0], ["0", "1"], ["sarcastic", "not sarcastic"], ["a", "b", " c "],
                               [True, False], [0, 1, 2]])
GOOD_ROWS = LABEL_KINDS.flatmap(lambda kinds: st.lists(st.fixed_dictionaries(  # rows that should mostly load
    {"headline": st.text(min_size=1, max_size=30) | TEXTS, "is_sarcastic": st.sampled_from(kinds)}),
    min_size=2, max_size=12))
ROWS = GOOD_ROWS | st.lists(
    st.fixed_dictionaries({"headline": TEXTS, "is_sarcastic": LABELS}, optional={"article_link": TEXTS})
    | st.dictionaries(NAMES, TEXTS | LABELS, max_size=4),
    max_size=12,
)


def loads_or_refuses(content: bytes, suffix: str) -> None:
    """`load_data` on a file holding `content` gives `sentence`/`label` rows or a `UserError`; nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(content)
        try:
            df = load_data(get_settings("tiny", data=str(path), output_dir=f"{tmp}/out", cache_dir=f"{tmp}/cache"))
        except UserError as error:
            assert len(str(error).splitlines()) == 1, str(error)
            event("refused: " + kind_of(str(error), path))  # counted by --hypothesis-show-statistics
            return
    event("loaded")
    assert list(df.columns) == ["sentence", "label"] and len(df) > 0
    assert pd.api.types.is_integer_dtype(df["label"]) and df["label"].nunique() >= 2
    assert df["label"].between(0, len(df.attrs["label_names"]) - 1).all()
    assert all(isinstance(text, str) and text.strip() for text in df["sentence"])


def kind_of(message: str, path: Path) -> str:
    """A refusal's message without its file, values and numbers: what kind of refusal it is."""
    message = message.replace(str(path), "FILE").replace(path.name, "FILE")
    return re.sub(r"'[^']*'|\[.*\]|-?\d[\d.e+-]*", "_", re.split(r" \(|;", message)[0])


def as_csv(rows: list[dict], ragged: int) -> str:
    """`rows` as CSV under the first row's columns (plus `ragged` cells more or fewer on some rows)."""
    header = list(dict.fromkeys(key for row in rows[:1] for key in row)) or ["headline"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for i, row in enumerate(rows):
        cells = [row.get(key, "") for key in header]
        cells = cells + ["extra"] * ragged if i % 2 and ragged > 0 else cells[: len(cells) + ragged] if i % 2 else cells
        writer.writerow([json.dumps(cell) if isinstance(cell, (list, dict)) else cell for cell in cells])
    return out.getvalue()


def serialized(rows: list[dict], suffix: str, ragged: int) -> str:
    """`rows` written the way `suffix` says (or the way another suffix would, to mislabel the file)."""
    kind = suffix.lower()
    if kind == ".csv":
        return as_csv(rows, ragged)
    if kind == ".jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    return json.dumps(rows)


DAMAGE = st.sampled_from(["none", "none", "none", "cut", "utf-16", "latin-1", "bom", "bytes", "other format"])


@given(rows=ROWS, suffix=SUFFIXES, ragged=st.integers(-2, 2), damage=DAMAGE, at=st.floats(0, 1),
       noise=st.binary(min_size=1, max_size=8))
@example(rows=[{"\x1e": ""}], suffix=".csv", ragged=0, damage="none", at=0.0, noise=b"\x00")  # found: a column
# name that a terminal shows as a line break made the error two lines
def test_half_broken_files(rows, suffix, ragged, damage, at, noise):
    """Well-formed rows of any values, written in the file's format, then damaged in one of several ways."""
    text = serialized(rows, suffix, ragged)
    if damage == "other format":
        text = serialized(rows, {".csv": ".jsonl", ".jsonl": ".json"}.get(suffix.lower(), ".jsonl"), ragged)
    content = text.encode("utf-8", "surrogatepass")
    if damage == "cut":
        content = content[: int(len(content) * at)]
    elif damage in ("utf-16", "latin-1"):
        content = text.encode(damage, "replace")
    elif damage == "bom":
        content = b"\xef\xbb\xbf" + content
    elif damage == "bytes":
        where = int(len(content) * at)
        content = content[:where] + noise + content[where:]
    loads_or_refuses(content, suffix)


@given(content=st.binary(max_size=300), suffix=SUFFIXES)
def test_random_bytes(content, suffix):
    """Bytes of any kind under each extension."""
    loads_or_refuses(content, suffix)


@given(lines=st.lists(VALUES | ROWS.map(json.dumps) | st.text(max_size=30), max_size=8), suffix=SUFFIXES)
@example(lines=[{}, None], suffix=".json")  # found: a row that is not an object was a TypeError from pandas
@example(lines=[{"headline": "a", "is_sarcastic": 0}, None], suffix=".jsonl")
def test_lines_of_anything(lines, suffix):
    """A line per value: JSON of any shape, JSON objects, or plain text, as JSON Lines or a .json or .csv file."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    loads_or_refuses(text.encode("utf-8", "surrogatepass"), suffix)
