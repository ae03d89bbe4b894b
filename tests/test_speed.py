"""The fast paths give the plain path's answers: per-batch padding, length-sorted prediction, bf16, grouping."""

from __future__ import annotations

import dataclasses
import resource

import numpy as np
import pytest
import torch
from transformers import default_data_collator

from helpers import finetune, hardware
from helpers.bench import bench, chart, table
from helpers.data import label_names
from helpers.models import load_model, load_tokenizer
from helpers.predict import predict, prediction_trainer
from helpers.split import load_split
from helpers.tokenization import TutorialDataset, tokenize

from conftest import tiny_settings_for


@pytest.fixture
def setup(make_settings):
    """Tiny settings in fp32 without levers, the seeded tiny model, its tokenizer and the test rows."""
    settings = make_settings(precision="fp32", group_by_length=False, sort_predictions=False)
    tokenizer, test = load_tokenizer(settings), load_split(settings)["test"]
    return settings, load_model(settings, label_names(test)).eval(), tokenizer, test


def logits(settings, model, tokenizer, data):
    """The logits of `data` predicted with `settings`' levers."""
    return predict(model, tokenizer, data, settings).predictions


def test_per_batch_padding_matches_padding_to_512(setup):
    """Padding each batch to its longest row gives the logits of padding every row to 512 (the tutorial)."""
    settings, model, tokenizer, test = setup
    ours = logits(settings, model, tokenizer, tokenize(test, tokenizer, settings))
    trainer = prediction_trainer(model, tokenizer, settings)
    trainer.data_collator = default_data_collator  # the tutorial's: items already padded to 512
    tutorial = trainer.predict(TutorialDataset(test["sentence"], test["label"], tokenizer)).predictions
    assert ours.shape == tutorial.shape == (len(test), 2)
    assert np.allclose(ours, tutorial, atol=1e-5)


@pytest.mark.parametrize("group_by_length", [False, True])
def test_length_sorted_prediction_keeps_the_order(setup, group_by_length):
    """Predicting in length order returns each row's own logits, in the original order, whatever the sampler."""
    settings, model, tokenizer, test = setup
    data = tokenize(test, tokenizer, settings)
    lengths = [len(ids) for ids in data.encodings["input_ids"]]
    assert sorted(lengths) != lengths, "the test rows should not already be in length order"
    levers = dataclasses.replace(settings, sort_predictions=True, group_by_length=group_by_length)
    predicted = logits(levers, model, tokenizer, data)
    with torch.no_grad():  # one row at a time: no padding, no batching, no reordering
        one_by_one = np.concatenate(
            [model(**{k: torch.tensor([v]) for k, v in tokenizer(text).items()}).logits.numpy()
             for text in test["sentence"]]
        )
    assert np.allclose(predicted, one_by_one, atol=1e-5)
    assert (predict(model, tokenizer, data, levers).label_ids == test["label"].to_numpy()).all()


def test_bf16_predictions_match_fp32(setup):
    """bfloat16 autocast gives logits within bfloat16's precision of float32 and the same classes."""
    settings, model, tokenizer, test = setup
    data = tokenize(test, tokenizer, settings)
    fp32 = logits(settings, model, tokenizer, data)
    bf16 = logits(dataclasses.replace(settings, precision="bf16"), model, tokenizer, data)
    assert np.allclose(fp32, bf16, atol=0.05)
    margin = np.abs(fp32[:, 1] - fp32[:, 0]) > 0.1  # rows not on the decision boundary
    assert (fp32.argmax(1) == bf16.argmax(1))[margin].all()


def test_group_by_length_batches_similar_lengths(make_settings):
    """With group_by_length every row is still seen once an epoch, and batches hold similar lengths."""
    settings = make_settings(group_by_length=True)
    tokenizer = load_tokenizer(settings)
    rows = load_split(settings)["train"]
    train = tokenize(rows, tokenizer, settings)
    trainer = finetune.build_trainer(settings, load_model(settings, label_names(rows)), tokenizer, train, train)
    order = list(trainer._get_train_sampler(train))
    assert sorted(order) == list(range(len(train)))
    lengths = np.array([len(ids) for ids in train.encodings["input_ids"]])
    size = settings.train_batch_size

    def padding(indices):
        batches = [lengths[indices[i:i + size]] for i in range(0, len(indices), size)]
        return sum(b.max() * len(b) - b.sum() for b in batches)

    shuffled = np.random.default_rng(0).permutation(len(train))
    assert padding(order) < padding(shuffled)


def test_bench_reports_every_pipeline(make_settings, tmp_path):
    """The benchmark times the three pipelines on the same rows and writes a table and a chart."""
    report = bench(make_settings(), steps=3, predict_rows=32, repeat=2)
    assert list(report["pipelines"]) == ["tutorial", "per-batch padding", "this project"]
    assert [figures["repeat"] for figures in report["pipelines"].values()] == [1, 2, 2]  # the tutorial's: once
    assert report["train_rows"] == 3 * report["train_batch_size"] and report["predict_rows"] == 32
    for figures in report["pipelines"].values():
        assert figures["train_samples_per_second"] > 0 and figures["predict_samples_per_second"] > 0
        assert figures["peak_memory_mb"] > 0
    assert report["pipelines"]["tutorial"]["train_speedup"] == 1.0
    assert report["pipelines"]["tutorial"]["precision"] == "fp32"
    assert table(report).count("\n") == 4
    assert chart(report, tmp_path / "bench.png").stat().st_size > 1000


def page_faults_allocating(megabytes: int = 64, times: int = 8) -> int:
    """Minor page faults this process takes while it allocates, fills and frees a tensor `times` times."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        torch.ones(megabytes * 2**18)  # float32: `megabytes` MB, every page written
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(not hardware.reuse_memory(False), reason="reuse_memory tunes glibc's malloc; this is not glibc")
def test_reused_memory_is_not_faulted_in_again():
    """With reuse_memory, blocks freed and allocated again mostly skip page faults; glibc's default faults each."""
    default = page_faults_allocating()
    try:
        assert hardware.reuse_memory(True)
        page_faults_allocating(times=4)  # the first blocks come from the kernel
        reused = page_faults_allocating()
    finally:
        hardware.reuse_memory(False)
    assert default > 8 * 64 * 256 * 0.9  # every 4 KB page of every block, every time
    assert reused < default / 4


def test_reused_memory_changes_no_result(tmp_path, tiny_cache):
    """Training with and without reuse_memory gives the same weights, byte for byte."""
    weights = {}
    for reuse in (False, True):
        settings = tiny_settings_for(tmp_path / f"reuse-{reuse}", tiny_cache, reuse_memory=reuse, epochs=1)
        finetune.train(settings)
        weights[reuse] = (finetune.model_dir(settings) / "model.safetensors").read_bytes()
    assert weights[True] == weights[False]
