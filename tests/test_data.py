"""Data (`helpers/data.py`): each format and other column names into `sentence`/`label`, text labels and their
names, Korean and emoji unharmed, the warnings, the download and its cache, and any file at all loaded or refused."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import helpers.data as hd
from helpers import UserError, get_settings, load_data
from helpers.data import label_names, read_data
from helpers.settings import SAMPLE_DATA, TOPICS_SAMPLE
from helpers.split import load_split

from support import (TOPIC_COLUMNS, TOPICS, closed_port, headline_records, is_special, topic_records, warnings_in,
                     write_table)

FORMATS = (".csv", ".json", ".jsonl")


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_load_each_format(suffix, tmp_path, make_settings):
    """Each format in the real file's schema loads as `sentence` and integer `label`, original order and index."""
    records = headline_records(12)
    path = write_table(tmp_path / f"data{suffix}", records)
    df = load_data(make_settings(data=str(path)))
    assert list(df.columns) == ["sentence", "label"]
    assert df.index.tolist() == list(range(len(records)))
    assert df["sentence"].tolist() == [r["headline"] for r in records]
    assert df["label"].tolist() == [r["is_sarcastic"] for r in records]
    assert pd.api.types.is_integer_dtype(df["label"])
    assert df.loc[7, "sentence"] == records[7]["headline"]


def test_csv_keeps_words_pandas_would_call_missing(tmp_path, make_settings):
    """Headlines such as "NA" or "null" stay text; they are not read as missing values."""
    records = headline_records(4)
    records[1]["headline"], records[2]["headline"] = "NA", "null"
    df = load_data(make_settings(data=str(write_table(tmp_path / "d.csv", records))))
    assert df["sentence"].tolist()[1:3] == ["NA", "null"]


def test_more_label_names_allow_more_ids(tmp_path, make_settings):
    """With three label names, label 2 is valid."""
    records = headline_records(6)
    records[3]["is_sarcastic"] = 2
    df = load_data(make_settings(data=str(write_table(tmp_path / "d.json", records)), label_names="a,b,c"))
    assert df["label"].tolist() == [0, 1, 0, 2, 0, 1]


# ---------------------------------------------------------------------------------------------- download


def test_download_is_cached(tmp_path, make_settings, monkeypatch):
    """A URL is downloaded once into the cache folder; the second load reads the cached copy."""
    (tmp_path / "remote").mkdir()
    source = write_table(tmp_path / "remote" / "sarcasm.json", headline_records(8))
    cache = tmp_path / "cache"
    settings = make_settings(data=source.as_uri(), cache_dir=str(cache))
    first = load_data(settings)
    assert (cache / "sarcasm.json").read_bytes() == source.read_bytes()
    assert hd.fetch(settings) == cache / "sarcasm.json"

    def no_second_download(*args, **kwargs):
        raise AssertionError("downloaded again although the file is cached")

    monkeypatch.setattr(hd, "download", no_second_download)
    pd.testing.assert_frame_equal(load_data(settings), first)


def test_failed_download_leaves_nothing(tmp_path, make_settings, monkeypatch):
    """A URL that fails is a UserError naming it, and leaves no file (partial or not) in the cache folder."""
    sleeps = []
    monkeypatch.setattr(hd.time, "sleep", sleeps.append)  # retries without waiting
    url = (tmp_path / "missing.json").as_uri()
    cache = tmp_path / "cache"
    with pytest.raises(UserError, match="missing.json"):
        load_data(make_settings(data=url, cache_dir=str(cache)))
    assert list(cache.iterdir()) == []


# ---------------------------------------------------------------------------------------------- sample


def test_sample_loads_with_default_columns(tiny_settings):
    """The tiny profile loads the sample with the default column names."""
    df = load_data(tiny_settings)
    assert len(df) == len(json.loads(SAMPLE_DATA.read_text()))
    assert set(df["label"]) == {0, 1}


def test_rows_without_text_are_dropped_and_counted(make_settings, tmp_path, capsys):
    """Empty, blank and missing texts are dropped, with one warning that counts them."""
    records = headline_records(8)
    records[1]["headline"], records[4]["headline"], records[6]["headline"] = "", "   ", None
    path = write_table(tmp_path / "gaps.json", records)
    df = load_data(make_settings(data=str(path)))
    assert sorted(df.index) == [0, 2, 3, 5, 7]
    assert "dropped 3 rows" in capsys.readouterr().err


def test_duplicates_are_counted(make_settings, tmp_path, capsys):
    """Duplicate rows are kept, and a warning says how many there are, once."""
    records = headline_records(6)
    records += [dict(records[0]), dict(records[2])]
    settings = make_settings(data=str(write_table(tmp_path / "dupes.jsonl", records)))
    load_data(settings)
    assert warnings_in(capsys.readouterr().err) == [
        "warning: dupes.jsonl has 2 duplicate rows (same text and label); they are kept"]
    load_data(settings)  # as the split, training and prediction of one run each load it
    assert warnings_in(capsys.readouterr().err) == [], "said once a process, not at every load"


# ---------------------------------------------------------------------------------------------- text labels


def test_text_labels_become_ids_with_their_names(tmp_path, make_settings):
    """Labels given as text are mapped to ids 0..n-1, named by themselves in sorted order."""
    records = [dict(r, is_sarcastic=["satire", "news", "opinion"][i % 3]) for i, r in enumerate(headline_records(12))]
    settings = make_settings(data=str(write_table(tmp_path / "d.jsonl", records)))
    data = read_data(settings)
    assert data.label_names == label_names(settings) == ["news", "opinion", "satire"]
    assert [data.label_names[i] for i in data.rows["label"]] == [r["is_sarcastic"] for r in records]
    pd.testing.assert_frame_equal(data.rows, load_data(settings))


def test_same_rows_from_csv_json_and_jsonl(tmp_path, make_settings):
    """The same rows written as CSV, JSON and JSONL, with columns title/topic, load to the same frame."""
    records = topic_records()
    shipped = load_data(make_settings(data=str(TOPICS_SAMPLE), **TOPIC_COLUMNS))
    assert list(shipped.columns) == ["sentence", "label"]
    assert shipped["sentence"].tolist() == [record["title"] for record in records]
    for suffix in FORMATS:
        settings = make_settings(data=str(write_table(tmp_path / f"topics{suffix}", records)), **TOPIC_COLUMNS)
        pd.testing.assert_frame_equal(load_data(settings), shipped)
        assert label_names(settings) == sorted(TOPICS)


@pytest.mark.parametrize("suffix", FORMATS)
def test_korean_and_emoji_pass_through_load_data_unchanged(suffix, tmp_path, make_settings):
    """Korean and emoji headlines come out of load_data exactly as written, variation selectors included."""
    records = topic_records()
    df = load_data(make_settings(data=str(write_table(tmp_path / f"topics{suffix}", records)), **TOPIC_COLUMNS))
    special = [(i, record["title"]) for i, record in enumerate(records) if is_special(record["title"])]
    assert len(special) >= 60 and any("\ufe0f" in text for _, text in special)
    assert [df.loc[i, "sentence"] for i, _ in special] == [text for _, text in special]


def test_text_labels_name_themselves_and_ids_take_label_names(tmp_path, make_settings):
    """Text labels keep their names (sorted, or in the order of label_names); ids are named by label_names."""
    records = topic_records()
    ordered = read_data(make_settings(data=str(TOPICS_SAMPLE), label_names=",".join(TOPICS), **TOPIC_COLUMNS))
    assert ordered.label_names == TOPICS
    assert [TOPICS[i] for i in ordered.rows["label"]] == [record["topic"] for record in records]
    as_ids = [{**record, "topic": TOPICS.index(record["topic"])} for record in records]
    path = write_table(tmp_path / "ids.csv", as_ids)
    by_id = read_data(make_settings(data=str(path), label_names=",".join(TOPICS), **TOPIC_COLUMNS))
    pd.testing.assert_frame_equal(by_id.rows, ordered.rows)
    assert by_id.label_names == TOPICS


def test_json_lines_named_json_loads(tmp_path, make_settings, capsys):
    """The Kaggle copy (`Sarcasm_Headlines_Dataset.json`: JSON Lines with a .json name) loads, with one note."""
    records = headline_records(12)
    kaggle = write_table(tmp_path / "Sarcasm_Headlines_Dataset.jsonl", records).rename(
        tmp_path / "Sarcasm_Headlines_Dataset.json")
    df = load_data(make_settings(data=str(kaggle)))
    assert df["sentence"].tolist() == [r["headline"] for r in records]
    assert df["label"].tolist() == [r["is_sarcastic"] for r in records]
    assert warnings_in(capsys.readouterr().err) == [
        "warning: Sarcasm_Headlines_Dataset.json holds JSON Lines (one object per line), not a JSON array; "
        "read as JSON Lines"
    ]


# ---------------------------------------------------------------------------------------------- any file

# Random and half-broken CSV, JSON and JSON Lines files (random bytes, wrong encodings, ragged rows, nested values,
# huge fields, odd column names, labels of every type) end either in a DataFrame of `sentence` and `label` or in a
# `UserError`, never in another exception. The default profile keeps this to seconds; `HYPOTHESIS_PROFILE=long`
# tries 2,000 examples per test.
# The autouse fixtures only clear TC_* variables and set torch's threads: sharing them between examples is right.
hypothesis_settings.register_profile("default", max_examples=60, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
hypothesis_settings.register_profile("long", hypothesis_settings.get_profile("default"), max_examples=2000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SUFFIXES = st.sampled_from([".csv", ".json", ".jsonl", ".CSV", ".Json"])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                           max_size=3), max_leaves=6)
LABEL_VALUES = (st.sampled_from([0, 1, 2, -1, 0.0, 1.0, 0.5, "0", "1", "sarcastic", "not sarcastic", "", " ", True,
                                 None, "nan", "1e3", float("nan"), 2**64]) | VALUES)
TEXT_VALUES = (st.text(max_size=40) | st.sampled_from(["", "   ", "x" * 200_000, "\x00", "a,b\n\"c", "\ufeffbom"])
               | VALUES)
NAMES = st.sampled_from(["headline", "is_sarcastic", "Headline", " headline", "", "0", "1", "\ufeffheadline",
                         "headline.1", "label", "a,b", 'q"uote']) | st.text(max_size=6)
LABEL_KINDS = st.sampled_from([[0, 1], [0.0, 1.0], ["0", "1"], ["sarcastic", "not sarcastic"], ["a", "b", " c "],
                               [True, False], [0, 1, 2]])
GOOD_ROWS = LABEL_KINDS.flatmap(lambda kinds: st.lists(st.fixed_dictionaries(  # rows that should mostly load
    {"headline": st.text(min_size=1, max_size=30) | TEXT_VALUES, "is_sarcastic": st.sampled_from(kinds)}),
    min_size=2, max_size=12))
ROWS = GOOD_ROWS | st.lists(
    st.fixed_dictionaries({"headline": TEXT_VALUES, "is_sarcastic": LABEL_VALUES},
                          optional={"article_link": TEXT_VALUES})
    | st.dictionaries(NAMES, TEXT_VALUES | LABEL_VALUES, max_size=4),
    max_size=12,
)


def loads_or_refuses(content: bytes, suffix: str) -> None:
    """`load_data` on a file holding `content` gives `sentence`/`label` rows or a `UserError`; nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(content)
        try:
            data = read_data(get_settings("tiny", data=str(path), output_dir=f"{tmp}/out", cache_dir=f"{tmp}/cache"))
        except UserError as error:
            assert len(str(error).splitlines()) == 1, str(error)
            event("refused: " + kind_of(str(error), path))  # counted by --hypothesis-show-statistics
            return
    event("loaded")
    df = data.rows
    assert list(df.columns) == ["sentence", "label"] and len(df) > 0
    assert pd.api.types.is_integer_dtype(df["label"]) and df["label"].nunique() >= 2
    assert df["label"].between(0, len(data.label_names) - 1).all()
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



# ---------------------------------------------------------------------------------------------- what the messages say


def test_the_download_hint_names_flags_on_the_command_line(tmp_path, monkeypatch, make_settings):
    """In a notebook the hint names TC_ variables; under `python -m helpers` the flags the user types there."""
    url = f"http://127.0.0.1:{closed_port()}/sarcasm.json"
    settings = make_settings(data=url, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(UserError) as notebook:
        hd.fetch(settings)
    assert str(notebook.value).endswith("work offline with TC_PROFILE=tiny, or point TC_DATA at a local file")
    monkeypatch.setattr(sys, "argv", [str(Path(hd.__file__).with_name("__main__.py")), "train"])
    with pytest.raises(UserError) as command_line:
        hd.fetch(settings)
    assert str(command_line.value).endswith("work offline with --profile tiny, or point --data at a local file")
    with pytest.raises(UserError) as prefetching:
        hd.fetch(settings, hint=hd.online_hint)
    assert "offline" not in str(prefetching.value) and str(prefetching.value).endswith("check the network and the "
                                                                                      "URL (--data)")


@pytest.mark.parametrize("name, where", [
    ("d.csv", "line 6 of d.csv"),  # the header is line 1: the fifth row is line 6, as a spreadsheet numbers it
    ("d.jsonl", "line 5 of d.jsonl"),
    ("d.json", "item 5 of the array in d.json, counting from 1"),
])
def test_a_bad_label_is_named_where_an_editor_shows_it(name, where, tmp_path, make_settings):
    """The fifth row's label (row 4 from 0) is named by its line in the file, or its item in a JSON array."""
    records = headline_records(8)
    records[4]["is_sarcastic"] = 2
    path = write_table(tmp_path / name, records)
    with pytest.raises(UserError, match=re.escape(f"label 2 ({where}) is not one of the ids 0..1")):
        load_data(make_settings(data=str(path)))


def test_a_blank_line_counts_in_a_json_lines_file(tmp_path, make_settings):
    """Blank lines are skipped when read, but counted in the line named, as an editor counts them."""
    records = headline_records(6)
    records[3]["is_sarcastic"] = 7
    lines = [json.dumps(record) for record in records]
    (tmp_path / "d.jsonl").write_text("\n".join(lines[:2] + ["", ""] + lines[2:]) + "\n")
    with pytest.raises(UserError, match=re.escape("label 7 (line 6 of d.jsonl)")):
        load_data(make_settings(data=str(tmp_path / "d.jsonl")))


def test_a_tiny_validation_split_is_said_once(tmp_path, make_settings, tiny_settings, capsys):
    """60 rows of 3 classes leave 5 validation rows: one warning saying what a row weighs; the tiny profile's own
    23 rows stay quiet."""
    path = write_table(tmp_path / "d.json", [dict(record, is_sarcastic=i % 3)
                                             for i, record in enumerate(headline_records(60))])
    settings = make_settings(data=str(path), label_names="a,b,c")
    load_split(settings)
    load_split(settings)
    said = [line for line in warnings_in(capsys.readouterr().err) if "validation split" in line]
    assert len(said) == 1 and "only 5 rows" in said[0] and "20 %" in said[0], said
    load_split(tiny_settings)
    assert "validation split" not in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_a_label_column_given_twice_is_refused(suffix, tmp_path):
    """Two annotators' sheets merged (`headline,is_sarcastic,is_sarcastic`, disagreeing; a JSON object with the key
    twice): one line naming the column and where, never the first copy used without a word."""
    records = headline_records(12)
    path = tmp_path / f"merged{suffix}"
    if suffix == ".csv":
        path.write_text("headline,is_sarcastic,is_sarcastic\n" + "".join(
            f"{row['headline']},{row['is_sarcastic']},{1 - row['is_sarcastic']}\n" for row in records))
    else:
        rows = [json.dumps(row)[:-1] + f', "is_sarcastic": {1 - row["is_sarcastic"]}}}' for row in records]
        path.write_text("[" + ",".join(rows) + "]" if suffix == ".json" else "\n".join(rows) + "\n")
    settings = get_settings("tiny", data=str(path), text_column="headline", label_column="is_sarcastic")
    with pytest.raises(UserError) as caught:
        load_data(settings)
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    assert ("has the column 'is_sarcastic' 2 times (columns 2, 3)" if suffix == ".csv"
            else "has the key 'is_sarcastic' twice") in message
