"""The tiny model is the same, byte for byte, on every build: same vocabulary, same weights, whatever the hash seed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from helpers.tiny import SPECIAL_TOKENS, wordpiece_vocab

from conftest import ROOT, clean_env, finish_all

BUILD = """
import hashlib, json, sys
from pathlib import Path
from helpers.tiny import build_tiny_model
folder = build_tiny_model(Path(sys.argv[1]))
print(json.dumps({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}))
"""


def start_build(folder, hash_seed: str) -> subprocess.Popen:
    """Start building the tiny model into `folder` in a fresh Python with PYTHONHASHSEED=`hash_seed`."""
    return subprocess.Popen([sys.executable, "-c", BUILD, str(folder)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=clean_env() | {"PYTHONHASHSEED": hash_seed})


def test_tiny_model_is_the_same_whatever_the_hash_seed(tmp_path, tiny_model):
    """Two processes with different PYTHONHASHSEED build identical files, identical to the session's model too."""
    builds = {seed: start_build(tmp_path / seed / "tiny-distilbert", seed) for seed in ("1", "2")}
    done = finish_all(builds)
    assert all(build.returncode == 0 for build in done.values()), [build.stderr[-3000:] for build in done.values()]
    first, second = (json.loads(done[seed].stdout.splitlines()[-1]) for seed in ("1", "2"))
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
