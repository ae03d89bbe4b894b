"""The tiny model (`helpers/tiny.py`): small, the same byte for byte on every build whatever the hash seed, rebuilt
when the samples change, and a vocabulary that covers the samples' Korean and emoji; the tiny recipe learns on
seeds other than the default, and gives the same figures with one torch thread or two."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import unicodedata
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from helpers.baselines import majority_accuracy
from helpers.finetune import run
from helpers.predict import evaluate_test
from helpers.settings import TINY_MODEL
from helpers.tiny import (BUILT_FROM, MIN_COUNT, SPECIAL_TOKENS, _merge, build_tiny_model, ensure_tiny_model, is_current,
                          wordpiece_vocab, words)

from support import EMOJI, ROOT, clean_env, finish_all, is_special, run_main, tiny_settings_for, topic_records

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


@pytest.mark.slow
def test_tiny_model_is_the_same_whatever_the_hash_seed(tmp_path, tiny_model):
    """A process with another PYTHONHASHSEED than this one's (which built the session's model) builds identical
    files."""
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"  # unset or "random" here: any fixed one differs
    build = start_build(tmp_path / "tiny-distilbert", seed)
    done = finish_all({seed: build})[seed]
    assert done.returncode == 0, done.stderr[-3000:]
    built = json.loads(done.stdout.splitlines()[-1])
    assert {"tokenizer.json", "model.safetensors", "config.json"} <= set(built)
    session = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(tiny_model.iterdir())}
    assert session == built


def test_vocabulary_breaks_ties_by_text():
    """Equally frequent pairs are merged in the order of their text; the specials come first, then the letters."""
    tokens = list(wordpiece_vocab(["ab ab cd cd"], 14))
    assert tokens[: len(SPECIAL_TOKENS)] == SPECIAL_TOKENS
    assert tokens[len(SPECIAL_TOKENS):] == ["##b", "##d", "a", "c", "ab", "cd"]
    assert list(wordpiece_vocab(["cd cd ab ab"], 14)) == tokens, "the order of the texts does not matter"


def recounted_vocab(texts: list[str], size: int) -> list[str]:
    """The vocabulary `wordpiece_vocab` learns, by the plain method: every pair counted again before each merge."""
    counts = words(texts)
    pieces = {word: [word[0], *("##" + char for char in word[1:])] for word in counts}
    vocab = [*SPECIAL_TOKENS, *sorted({piece for split in pieces.values() for piece in split})]
    while len(vocab) < size:
        pairs = Counter()
        for word, split in pieces.items():
            for pair in zip(split, split[1:]):
                pairs[pair] += counts[word]
        best = min(pairs, key=lambda pair: (-pairs[pair], pair), default=None)
        if best is None or pairs[best] < MIN_COUNT:
            return vocab
        vocab.append(best[0] + best[1].removeprefix("##"))
        pieces = {word: _merge(split, best, vocab[-1]) for word, split in pieces.items()}
    return vocab


@given(st.lists(st.text("aabcb ", max_size=40), max_size=12), st.integers(6, 40))
def test_the_counts_kept_between_merges_learn_what_counting_again_learns(texts, size):
    """`wordpiece_vocab` updates the pair counts of the words a merge changed; counting every pair again before each
    merge learns the same vocabulary (words such as "aaaa" hold a pair twice)."""
    assert list(wordpiece_vocab(texts, size)) == recounted_vocab(texts, size)


def test_korean_and_emoji_tokenize_to_known_tokens(tiny_tokenizer):
    """The tiny vocabulary covers the sample's Korean and emoji: no [UNK], and the tokens give the text back."""
    texts = [record["title"] for record in topic_records() if is_special(record["title"])]
    texts += ["화성 탐사선 발사 성공", "한강 파랑새, 아시아 컵 우승 차지 🏆"]  # new headlines, known letters
    rows = tiny_tokenizer(texts)["input_ids"]
    assert all(tiny_tokenizer.unk_token_id not in row for row in rows)
    for text, row in zip(texts, rows):
        decoded = unicodedata.normalize("NFC", tiny_tokenizer.decode(row, skip_special_tokens=True))
        assert decoded.replace(" ", "") == text.lower().replace(" ", "").replace("\ufe0f", ""), text
    assert {mark for text in texts for mark in EMOJI.findall(text)} <= set(tiny_tokenizer.get_vocab())


@pytest.mark.slow
def test_a_tiny_model_built_from_other_samples_is_rebuilt(tmp_path):
    """A cached tiny model whose fingerprint is not the current samples' is built again; a current one is kept."""
    folder = build_tiny_model(tmp_path / TINY_MODEL)
    assert is_current(folder)
    built = (folder / "config.json").stat().st_mtime_ns
    ensure_tiny_model(str(folder))
    assert (folder / "config.json").stat().st_mtime_ns == built
    (folder / BUILT_FROM).write_text("an older sample\n")
    assert not is_current(folder)
    ensure_tiny_model(str(folder))
    assert is_current(folder)


def test_tiny_model_loads_and_is_small(tiny_model):
    """The built tiny model loads with the Auto classes and has fewer than 200k parameters."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2)
    assert tokenizer.is_fast and tokenizer("area man")["input_ids"][0] == tokenizer.cls_token_id
    assert sum(p.numel() for p in model.parameters()) < 200_000
    assert sum(f.stat().st_size for f in tiny_model.iterdir()) < 2_000_000
    assert model.config.vocab_size == tokenizer.vocab_size


# ---------------------------------------------------------------------------------------------- the tiny recipe

LEARNS = 0.75  # the test accuracy a class can expect of the tiny recipe on (nearly) every seed (issue 28)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [43, 44, 47])  # three that ended at or near the commonest class before the warmup
def test_the_tiny_recipe_learns_on_other_seeds(seed, tmp_path, tiny_cache):
    """Trained with another seed (another head, data order and dropout), the tiny recipe beats the commonest class
    on the test rows and reaches the accuracy a class compares."""
    settings = tiny_settings_for(tmp_path / "out", tiny_cache, seed=seed)
    trainer, parts, _ = run(settings, announce=False)
    metrics = evaluate_test(trainer, settings, parts)
    majority = majority_accuracy(parts["train"]["label"], parts["test"]["label"])
    assert metrics["accuracy"] >= LEARNS > majority, (seed, metrics["accuracy"], majority)
    assert metrics["validation_accuracy"] > majority_accuracy(parts["train"]["label"], parts["validation"]["label"])


def start_training(out, cache, threads: int) -> subprocess.Popen:
    """Start `python -m helpers train --profile tiny` into `out` with `threads` torch threads (OMP_NUM_THREADS)."""
    command = [sys.executable, "-m", "helpers", "train", "--profile", "tiny", "--output-dir", str(out),
               "--cache-dir", str(cache)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env() | {"OMP_NUM_THREADS": str(threads)})


@pytest.mark.slow
def test_one_thread_or_two_give_the_same_figures(tmp_path, tiny_cache, capsys):
    """The tiny recipe trained with two torch threads (another process) and with one (this one, as every test):
    the same test accuracy, F1 and validation accuracy to 4 decimals (it trains in float32 on every machine), and
    metrics.json names the threads."""
    two = start_training(tmp_path / "2", tiny_cache, 2)
    try:
        status, _, err = run_main("train", "--profile", "tiny", "--output-dir", str(tmp_path / "1"), "--cache-dir",
                                  str(tiny_cache), capsys=capsys)
    finally:
        done = finish_all({2: two})[2]
    assert status == 0, err
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {}
    for threads in (1, 2):
        metrics = json.loads((tmp_path / str(threads) / "metrics.json").read_text())
        assert metrics["hardware"]["torch_threads"] == threads
        figures[threads] = {key: round(metrics[key], 4) for key in ("accuracy", "f1", "validation_accuracy")}
    assert figures[1] == figures[2]
    assert figures[1]["accuracy"] >= LEARNS
