"""Data: reading .json/.jsonl/.csv into `sentence`/`label`, clear errors, the download cache, the shipped sample."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import helpers.data as hd
from helpers import UserError, load_data
from helpers.settings import SAMPLE_DATA

from conftest import REAL_DATA, headline_records, needs_real_data, write_table

REAL_SCHEMA = {"article_link", "headline", "is_sarcastic"}


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


def test_load_csv_with_other_columns(tmp_path, make_settings):
    """A CSV with columns text/type (the offline copy's) loads once the settings name those columns."""
    records = headline_records(10)
    path = write_table(tmp_path / "copy.csv", records, columns={"headline": "text", "is_sarcastic": "type"})
    df = load_data(make_settings(data=str(path), text_column="text", label_column="type"))
    assert list(df.columns) == ["sentence", "label"]
    assert df["sentence"].tolist() == [r["headline"] for r in records]
    assert df["label"].tolist() == [r["is_sarcastic"] for r in records]


def test_csv_keeps_words_pandas_would_call_missing(tmp_path, make_settings):
    """Headlines such as "NA" or "null" stay text; they are not read as missing values."""
    records = headline_records(4)
    records[1]["headline"], records[2]["headline"] = "NA", "null"
    df = load_data(make_settings(data=str(write_table(tmp_path / "d.csv", records))))
    assert df["sentence"].tolist()[1:3] == ["NA", "null"]


@pytest.mark.parametrize("bad", [2, -1, "abc", 0.5])
@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_bad_labels(bad, suffix, tmp_path, make_settings):
    """A label that is not one of the ids 0..len(label_names)-1 is a one-line UserError naming it."""
    records = headline_records(6)
    records[3]["is_sarcastic"] = bad
    settings = make_settings(data=str(write_table(tmp_path / f"d{suffix}", records)))
    with pytest.raises(UserError, match="label") as caught:
        load_data(settings)
    assert "\n" not in str(caught.value) and str(bad) in str(caught.value)


def test_more_label_names_allow_more_ids(tmp_path, make_settings):
    """With three label names, label 2 is valid."""
    records = headline_records(6)
    records[3]["is_sarcastic"] = 2
    df = load_data(make_settings(data=str(write_table(tmp_path / "d.json", records)), label_names="a,b,c"))
    assert df["label"].tolist() == [0, 1, 0, 2, 0, 1]


def test_missing_column(tmp_path, make_settings):
    """Asking for a column the file lacks is a UserError listing the columns it has."""
    path = write_table(tmp_path / "d.json", headline_records(4))
    with pytest.raises(UserError) as caught:
        load_data(make_settings(data=str(path), text_column="text"))
    message = str(caught.value)
    assert "'text'" in message and all(column in message for column in REAL_SCHEMA)


def test_missing_file(tmp_path, make_settings):
    """A local path that does not exist is a UserError naming it."""
    missing = tmp_path / "nope.csv"
    with pytest.raises(UserError, match="nope.csv"):
        load_data(make_settings(data=str(missing)))


@pytest.mark.parametrize("name, content", [("d.txt", "a,b\n"), ("d.json", "[{not json"), ("d.jsonl", "{]\n")])
def test_unreadable_file(name, content, tmp_path, make_settings):
    """An unsupported extension or malformed content is a one-line UserError, not a parser traceback."""
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UserError) as caught:
        load_data(make_settings(data=str(path)))
    assert "\n" not in str(caught.value)


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


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    """A connection dropped mid-file leaves neither the destination nor a temporary part file."""

    class Dropping:
        """A response that delivers one chunk, then loses the connection."""

        headers = {"Content-Length": "1000"}

        def __init__(self):
            self.sent = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, size):
            if self.sent:
                raise ConnectionResetError("connection reset by peer")
            self.sent = True
            return b'[{"headline": "half'

    monkeypatch.setattr(hd.urllib.request, "urlopen", lambda url, timeout=None: Dropping())
    monkeypatch.setattr(hd.time, "sleep", lambda seconds: None)
    dest = tmp_path / "cache" / "sarcasm.json"
    with pytest.raises(UserError):
        hd.download("https://example.invalid/sarcasm.json", dest)
    assert list(dest.parent.iterdir()) == []


# ---------------------------------------------------------------------------------------------- sample


def test_sample_is_usable():
    """The shipped sample has at least 200 rows, both classes and the real file's schema."""
    raw = json.loads(SAMPLE_DATA.read_text())
    assert isinstance(raw, list) and len(raw) >= 200
    assert all(set(row) == REAL_SCHEMA for row in raw)
    assert {row["is_sarcastic"] for row in raw} == {0, 1}
    assert all(isinstance(row["headline"], str) and row["headline"].strip() for row in raw)
    assert len({row["headline"] for row in raw}) == len(raw)


def test_sample_loads_with_default_columns(tiny_settings):
    """The tiny profile loads the sample with the default column names."""
    df = load_data(tiny_settings)
    assert len(df) == len(json.loads(SAMPLE_DATA.read_text()))
    assert set(df["label"]) == {0, 1}


@needs_real_data
def test_sample_is_not_taken_from_the_real_data():
    """No sample headline appears in the real dataset: the project ships only data it wrote itself."""
    real = {text.strip().lower() for text in pd.read_csv(REAL_DATA, keep_default_na=False)["text"]}
    sample = {row["headline"].strip().lower() for row in json.loads(SAMPLE_DATA.read_text())}
    assert not sample & real


def test_rows_without_text_are_dropped_and_counted(make_settings, tmp_path, capsys):
    """Empty, blank and missing texts are dropped, with one warning that counts them."""
    records = headline_records(8)
    records[1]["headline"], records[4]["headline"], records[6]["headline"] = "", "   ", None
    path = write_table(tmp_path / "gaps.json", records)
    df = load_data(make_settings(data=str(path)))
    assert sorted(df.index) == [0, 2, 3, 5, 7]
    assert "dropped 3 rows" in capsys.readouterr().err


def test_duplicates_are_counted(make_settings, tmp_path, capsys):
    """Duplicate rows are kept, and a warning says how many there are."""
    records = headline_records(6)
    records += [dict(records[0]), dict(records[2])]
    load_data(make_settings(data=str(write_table(tmp_path / "dupes.jsonl", records))))
    assert "2 duplicate rows" in capsys.readouterr().err


def test_one_class_is_an_error(make_settings, tmp_path):
    """Data with a single class cannot train a classifier: a UserError says so."""
    records = [dict(r, is_sarcastic=1) for r in headline_records(6)]
    with pytest.raises(UserError, match="only one class"):
        load_data(make_settings(data=str(write_table(tmp_path / "one.csv", records))))


def test_a_download_that_does_not_parse_is_not_cached(tmp_path):
    """A downloaded file that is not valid JSON raises a UserError and leaves nothing in the cache."""
    broken = tmp_path / "broken.json"
    broken.write_text('[{"headline": "half a rec')
    cache = tmp_path / "cache"
    with pytest.raises(UserError, match="cannot read"):
        hd.download(broken.as_uri(), cache / "sarcasm.json")
    assert list(cache.iterdir()) == []


# ---------------------------------------------------------------------------------------------- text labels


def test_text_labels_become_ids_with_their_names(tmp_path, make_settings):
    """Labels given as text are mapped to ids 0..n-1, and the names travel with every part of the split."""
    records = [dict(r, is_sarcastic=["satire", "news", "opinion"][i % 3]) for i, r in enumerate(headline_records(12))]
    settings = make_settings(data=write_case(tmp_path, "d.jsonl", records))
    parts = load_split(settings)
    assert parts["train"].attrs["label_names"] == ["news", "opinion", "satire"]
    assert parts["test"].attrs["label_names"] == ["news", "opinion", "satire"]
    df = load_data(settings)
    assert [df.attrs["label_names"][i] for i in df["label"]] == [r["is_sarcastic"] for r in records]


def test_text_labels_follow_the_order_of_label_names(tmp_path, make_settings):
    """When TC_LABEL_NAMES lists every text label, its order decides the ids."""
    records = [dict(r, is_sarcastic=["sarcastic", "not sarcastic"][i % 2]) for i, r in enumerate(headline_records(6))]
    df = load_data(make_settings(data=write_case(tmp_path, "d.csv", records)))
    assert df.attrs["label_names"] == ["not sarcastic", "sarcastic"]
    assert df["label"].tolist() == [1, 0, 1, 0, 1, 0]
