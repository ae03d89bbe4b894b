"""The shipped samples are exactly what their generators, kept here outside the package, write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.settings import SAMPLE_DATA, TOPICS_SAMPLE

from support import EMOJI, HANGUL, REAL_DATA, TOPICS, needs_real_data, topic_records

HERE = Path(__file__).resolve().parent
REAL_SCHEMA = {"article_link", "headline", "is_sarcastic"}


@pytest.mark.parametrize("script, sample", [("make_sample.py", SAMPLE_DATA), ("make_topics.py", TOPICS_SAMPLE)])
def test_shipped_sample_is_what_its_generator_writes(script, sample, tmp_path):
    """Run again (it is seeded), the generator writes the shipped file byte for byte."""
    subprocess.run([sys.executable, HERE / script, tmp_path], check=True, capture_output=True, cwd=tmp_path)
    assert (tmp_path / sample.name).read_bytes() == sample.read_bytes()


def test_topics_sample_is_imbalanced_and_multilingual():
    """The topics sample: 240-320 unique headlines, four text topics 40/30/20/10 %, a third Korean, some emoji."""
    records = topic_records()
    assert 240 <= len(records) <= 320
    assert all(set(record) == {"id", "title", "topic"} for record in records)
    assert len({record["title"] for record in records}) == len(records)
    shares = pd.Series([record["topic"] for record in records]).value_counts(normalize=True)
    assert shares.index.tolist() == TOPICS  # largest first: politics, sports, science, entertainment
    assert shares.iloc[0] >= 3 * shares.iloc[-1]
    assert 0.25 <= np.mean([bool(HANGUL.search(record["title"])) for record in records]) <= 0.45
    assert sum(bool(EMOJI.search(record["title"])) for record in records) >= 8


def test_sample_is_usable():
    """The shipped sample has at least 200 rows, both classes and the real file's schema."""
    raw = json.loads(SAMPLE_DATA.read_text())
    assert isinstance(raw, list) and len(raw) >= 200
    assert all(set(row) == REAL_SCHEMA for row in raw)
    assert {row["is_sarcastic"] for row in raw} == {0, 1}
    assert all(isinstance(row["headline"], str) and row["headline"].strip() for row in raw)
    assert len({row["headline"] for row in raw}) == len(raw)


@needs_real_data
def test_sample_is_not_taken_from_the_real_data():
    """No sample headline appears in the real dataset: the project ships only data it wrote itself."""
    real = {text.strip().lower() for text in pd.read_csv(REAL_DATA, keep_default_na=False)["text"]}
    sample = {row["headline"].strip().lower() for row in json.loads(SAMPLE_DATA.read_text())}
    assert not sample & real
