"""A run does each piece of work once: one `python -m helpers train` reads its data file once and fits TF-IDF once,
and saving a model reads, splits and fits nothing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from huggingface_hub import ModelCard
from sklearn.feature_extraction.text import TfidfVectorizer

import helpers.data
from helpers.layout import RunFolder

from support import run_main


def count_calls(monkeypatch: pytest.MonkeyPatch, owner, name: str, calls: list, key: str) -> None:
    """Replace `owner.name` (an attribute or a dict's item) by a wrapper that records `key` in `calls`, and calls
    it."""
    real = owner[name] if isinstance(owner, dict) else getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append((key, args[0] if args and isinstance(args[0], (str, Path)) else None))
        return real(*args, **kwargs)

    if isinstance(owner, dict):
        monkeypatch.setitem(owner, name, counted)
    else:
        monkeypatch.setattr(owner, name, counted)


@pytest.mark.slow
def test_one_train_reads_the_data_once_and_fits_tfidf_once(tmp_path, tiny_cache, monkeypatch, capsys):
    """In-process `python -m helpers train` on tiny: one read of the data file (by any reader, the project's or
    pandas'), one TF-IDF fit, and still a card with the baselines on the validation and the test rows."""
    helpers.data._read_settled.cache_clear()  # nothing read yet, as in a fresh process
    reads, fits = [], []
    for suffix in list(helpers.data.READERS):  # the project's readers, which pandas' or json's do the reading for
        count_calls(monkeypatch, helpers.data.READERS, suffix, reads, suffix)
    for reader in ("read_json", "read_csv", "read_table"):  # a read that bypasses them
        count_calls(monkeypatch, pd, reader, reads, f"pandas.{reader}")
    for method in ("fit", "fit_transform"):  # a pipeline's fit calls fit_transform
        count_calls(monkeypatch, TfidfVectorizer, method, fits, method)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    status, _, stderr = run_main("train", "--profile", "tiny", "--max-steps", "4", "--output-dir", str(out),
                                 "--cache-dir", str(tiny_cache), capsys=capsys)
    assert status == 0, stderr[-3000:]
    data_file = helpers.get_settings("tiny").data
    assert [path for _, path in reads if Path(path).name == Path(data_file).name] == [Path(data_file)], reads
    assert len({path for _, path in reads}) == len(reads), f"a file read twice: {reads}"  # the tiny model's samples
    assert len(fits) == 1, fits
    folder = RunFolder(out)
    card = ModelCard.load(folder.model / "README.md").text
    metrics = json.loads(folder.metrics.read_text())
    assert f"| test | this model | {metrics['accuracy']:.3f} |" in card
    assert "| validation | TF-IDF + logistic regression |" in card and "| test | TF-IDF + logistic regression |" in card


def test_a_settled_file_is_read_once_and_a_changed_one_again(tmp_path, monkeypatch):
    """`read_table` reads an unchanged file once a process (a copy each time), and again once it changes; a file
    written in the last moments is read every time (two writes within the clock's resolution would look alike)."""
    helpers.data._read_settled.cache_clear()
    reads = []
    count_calls(monkeypatch, helpers.data.READERS, ".csv", reads, ".csv")
    path = tmp_path / "rows.csv"
    path.write_text("text,label\nabc,0\n")
    assert helpers.data.read_table(path)["text"].tolist() == ["abc"] and len(reads) == 1
    helpers.data.read_table(path)
    assert len(reads) == 2, "a file just written is read again"
    settled = time.time() - 60
    os.utime(path, (settled, settled))
    first = helpers.data.read_table(path)
    first.loc[0, "text"] = "changed by a caller"
    assert helpers.data.read_table(path)["text"].tolist() == ["abc"] and len(reads) == 3, "read once, copied"
    path.write_text("text,label\nxyz,1\n")  # the same size
    os.utime(path, (settled + 1, settled + 1))
    assert helpers.data.read_table(path)["text"].tolist() == ["xyz"] and len(reads) == 4
