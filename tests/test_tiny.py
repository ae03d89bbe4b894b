"""The tiny model is the same, byte for byte, on every build: same vocabulary, same weights, whatever the hash seed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from helpers.tiny import SPECIAL_TOKENS, wordpiece_vocab

from conftest import ROOT, clean_env

BUILD = """
import hashlib, json, sys
from pathlib import Path
from helpers.tiny import build_tiny_model
folder = build_tiny_model(Path(sys.argv[1]))
print(json.dumps({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}))
"""


def build_in_process(folder, hash_seed: str) -> dict[str, str]:
    """Build the tiny model into `folder` in a fresh Python with PYTHONHASHSEED=`hash_seed`; its files' hashes."""
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(folder)], cwd=ROOT, env=clean_env() | {"PYTHONHASHSEED": hash_seed},
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_tiny_model_is_the_same_whatever_the_hash_seed(tmp_path, tiny_model):
    """Two processes with different PYTHONHASHSEED build identical files, identical to the session's model too."""
    first = build_in_process(tmp_path / "a" / "tiny-distilbert", "1")
    second = build_in_process(tmp_path / "b" / "tiny-distilbert", "2")
    assert {"tokenizer.json", "model.safetensors", "config.json"} <= set(first)
    assert first == second
    session = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(tiny_model.iterdir())}
    assert session == first


def test_vocabulary_breaks_ties_by_text():
    """Equally frequent pairs are merged in the order of their text; the specials come first, then the letters."""
    tokens = list(wordpiece_vocab(["ab ab cd cd"], 14))
    assert tokens[: len(SPECIAL_TOKENS)] == SPECIAL_TOKENS
    assert tokens[len(SPECIAL_TOKENS):] == ["##b", "##d", "a", "c", "ab", "cd"]
    assert list(wordpiece_vocab(["cd cd ab ab"], 14)) == tokens, "the order of the texts does not matter"
