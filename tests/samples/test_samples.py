"""The shipped samples are exactly what their generators, kept here outside the package, write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers.settings import SAMPLE_DATA, TOPICS_SAMPLE

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("script, sample", [("make_sample.py", SAMPLE_DATA), ("make_topics.py", TOPICS_SAMPLE)])
def test_shipped_sample_is_what_its_generator_writes(script, sample, tmp_path):
    """Run again (it is seeded), the generator writes the shipped file byte for byte."""
    subprocess.run([sys.executable, HERE / script, tmp_path], check=True, capture_output=True, cwd=tmp_path)
    assert (tmp_path / sample.name).read_bytes() == sample.read_bytes()
