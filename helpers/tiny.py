"""A tiny DistilBERT built on this machine, so the series runs offline and in CI.

Introduced in notebook 03 (tokenize): with the `tiny` profile, `helpers/models.py` has it built on first use.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

from .data import read_table
from .layout import atomic
from .settings import SAMPLE_DATA, TINY_MODEL, TOPICS_SAMPLE, is_tiny  # is_tiny beside TINY_MODEL

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SAMPLES = {SAMPLE_DATA: "headline", TOPICS_SAMPLE: "title"}  # the shipped samples and their text columns
BUILT_FROM = "built_from.txt"  # in the model folder: the fingerprint of what it was built from
VOCAB_SIZE, SEED = 1000, 0  # room for English, Korean and emoji; the seed of the random body
VOCABULARY = "sorted-merges"  # how the vocabulary is learned (in the fingerprint: a change rebuilds older caches)
MIN_COUNT = 2  # a pair of pieces seen fewer times is not merged (the tokenizers trainer's min_frequency)


def sample_texts() -> list[str]:
    """The headlines of both shipped samples (sarcasm in English; news topics in English and Korean)."""
    return [text for path, column in SAMPLES.items() for text in read_table(path)[column].astype(str)]


def fingerprint(texts: list[str]) -> str:
    """A short hash of what a tiny model is built from: the texts, the vocabulary's size and recipe, the seed."""
    recipe = json.dumps([VOCABULARY, VOCAB_SIZE, SEED, texts], ensure_ascii=False)
    return hashlib.sha256(recipe.encode("utf-8")).hexdigest()[:16]


def words(texts: list[str]) -> Counter:
    """How often each word occurs, split as BERT's uncased tokenizer splits text (lowercased, accents removed)."""
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalizer, splitter = BertNormalizer(lowercase=True), BertPreTokenizer()
    return Counter(word for text in texts for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))


def _merge(pieces: list[str], pair: tuple[str, str], merged: str) -> list[str]:
    """`pieces` with every occurrence of `pair`, left to right, replaced by `merged`."""
    out: list[str] = []
    for piece in pieces:
        if out and (out[-1], piece) == pair:
            out[-1] = merged
        else:
            out.append(piece)
    return out


def wordpiece_vocab(texts: list[str], size: int) -> dict[str, int]:
    """A WordPiece vocabulary learned from `texts` the way the tokenizers trainer learns one, but the same on every run.
    The trainer (tokenizers' `BertWordPieceTokenizer.train_from_iterator`) numbers the `##` pieces in the order of a
    Rust hash map, seeded at random in every process, and breaks ties between equally frequent pairs by those numbers
    (tokenizers issue #1794): another vocabulary in every process, whatever PYTHONHASHSEED. Here the special tokens come
    first, then every character (sorted), then the merges, always the most frequent pair and, among equals, the one that
    sorts first."""
    counts = words(texts)
    pieces = {word: [word[0], *("##" + char for char in word[1:])] for word in sorted(counts)}
    vocab = dict.fromkeys([*SPECIAL_TOKENS, *sorted({piece for split in pieces.values() for piece in split})])
    pairs: Counter = Counter()
    holders = defaultdict(set)  # the words each pair occurs in: a merge re-splits only those

    def count(word: str, sign: int) -> None:
        """Add (1) or take away (-1) the pairs of `word`'s pieces, each as often as the word occurs."""
        for pair in zip(pieces[word], pieces[word][1:]):
            pairs[pair] += sign * counts[word]
            holders[pair].add(word)

    for word in pieces:
        count(word, 1)
    while len(vocab) < size:
        best = min(pairs, key=lambda pair: (-pairs[pair], pair), default=None)
        if best is None or pairs[best] < MIN_COUNT:
            break
        merged = best[0] + best[1].removeprefix("##")
        vocab[merged] = None
        for word in holders.pop(best):
            count(word, -1)
            pieces[word] = _merge(pieces[word], best, merged)
            count(word, 1)
        pairs = +pairs  # the pairs no word holds any more
    return {token: i for i, token in enumerate(vocab)}


def build_tiny_model(folder: Path) -> Path:
    """Learn a WordPiece vocabulary from both samples' headlines and save it with a small random DistilBERT, the
    folder whole or not at all (`layout.atomic`). Built twice, on any machine and with any PYTHONHASHSEED, it is
    the same byte for byte."""
    import torch
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertTokenizer

    texts = sample_texts()
    with atomic(folder, folder=True) as partial:
        tokenizer = DistilBertTokenizer(vocab=wordpiece_vocab(texts, VOCAB_SIZE), model_max_length=512)
        config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, hidden_dim=64, n_layers=2, n_heads=2,
                                  max_position_embeddings=512)
        torch.manual_seed(SEED)
        DistilBertForMaskedLM(config).save_pretrained(partial)  # a "pretrained" body; no task head yet
        tokenizer.save_pretrained(partial)
        (partial / BUILT_FROM).write_text(fingerprint(texts) + "\n")
    return folder


def is_current(folder: Path) -> bool:
    """True when the tiny model in `folder` is built, from the samples shipped now (not an older cache)."""
    stamp = folder / BUILT_FROM
    built = (folder / "config.json").is_file() and stamp.is_file()
    return built and stamp.read_text().strip() == fingerprint(sample_texts())


def ensure_tiny_model(model: str) -> str:
    """Build the tiny model into `model` unless it is already there, built from the current samples; return `model`."""
    if is_tiny(model) and not is_current(Path(model)):
        build_tiny_model(Path(model))
    return model
