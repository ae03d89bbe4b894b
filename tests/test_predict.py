"""Prediction (`helpers/predict.py`): long texts, the fast paths giving the plain path's answers, the table of
predictions, and the test metrics of a trained model."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForSequenceClassification, AutoTokenizer, default_data_collator
from transformers.trainer_utils import PredictionOutput

from helpers.data import label_names
from helpers.layout import run_folder
from helpers.models import load_model, load_tokenizer, load_trained
from helpers.predict import evaluate_test, predict, prediction_trainer, probabilities, saved_pipeline, with_predictions
from helpers.split import load_split
from helpers.tokenization import TutorialDataset, tokenize

from support import LABELS, PREDICTED, logits_for, one_line_error, piped, run_main, warnings_in

# ---------------------------------------------------------------------------------------------- long texts


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, tiny_model) -> str:
    """A saved sequence classifier on the tiny model (an untrained head: enough to label texts)."""
    folder = tmp_path_factory.mktemp("classifier") / "model"
    AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder)
    return str(folder)


ARTICLE = "area man reads the whole article before sharing it, then writes a long reply about it. " * 60


def test_predict_truncates_a_long_text(classifier_dir, capsys):
    """A pasted article longer than the model takes is labelled, with one warning counting the texts cut."""
    status, out, err = run_main("predict", "--model", classifier_dir, ARTICLE, "short headline", capsys=capsys)
    assert status == 0, err
    assert len(out.splitlines()) == 2
    assert warnings_in(err) == [
        "warning: 1 of 2 texts are longer than 512 tokens (the most this model takes) and were truncated"
    ], err


def test_pipeline_truncates_in_python(classifier_dir, capsys):
    """The notebook's `saved_pipeline(...)` labels long texts too, a single text or a list; short ones quietly."""
    labeller = saved_pipeline(classifier_dir)
    assert len(labeller([ARTICLE, ARTICLE, "short"])) == 3
    assert "2 of 3 texts are longer than 512 tokens" in capsys.readouterr().err
    assert labeller(ARTICLE)[0]["label"] in {"LABEL_0", "LABEL_1"}
    assert "1 of 1 texts are longer than 512 tokens" in capsys.readouterr().err
    labeller(["short", "also short"])
    assert warnings_in(capsys.readouterr().err) == []


# ---------------------------------------------------------------------------------------------- fast paths


@pytest.fixture
def setup(make_settings):
    """Tiny settings in fp32 without levers, the seeded tiny model, its tokenizer and the test rows."""
    settings = make_settings(precision="fp32", group_by_length=False, sort_predictions=False)
    tokenizer, test = load_tokenizer(settings), load_split(settings)["test"]
    return settings, load_model(settings, label_names(settings)).eval(), tokenizer, test


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


# ---------------------------------------------------------------------------------------------- a trained model


def test_probabilities_and_predictions_table():
    """Probabilities are a softmax (rows sum to 1, argmax kept); the table marks right and wrong rows."""
    prediction = PredictionOutput(predictions=logits_for(PREDICTED) * 30, label_ids=LABELS, metrics={})
    probs = probabilities(prediction)
    assert np.allclose(probs.sum(axis=1), 1) and (probs.argmax(axis=1) == PREDICTED).all()
    test = pd.DataFrame({"sentence": [f"t{i}" for i in range(len(LABELS))], "label": LABELS})
    rows = with_predictions(test, prediction, ["not sarcastic", "sarcastic"])
    assert rows["correct"].tolist() == (PREDICTED == LABELS).tolist()
    assert rows["predicted_name"].tolist() == [["not sarcastic", "sarcastic"][p] for p in PREDICTED]
    assert ((rows["confidence"] >= 0.5) & (rows["confidence"] <= 1)).all()
    expected = torch.nn.functional.cross_entropy(torch.tensor(prediction.predictions), torch.tensor(LABELS),
                                                 reduction="none")
    assert np.allclose(rows["loss"], expected.numpy(), rtol=1e-4), "each row's loss is its cross-entropy"
    assert rows.nlargest(4, "loss")["correct"].eq(False).all(), "the highest losses are the mistakes"


@pytest.mark.slow
def test_reloaded_model_predicts_the_same(trained):
    """The model reloaded from disk gives the in-memory model's logits on the test split."""
    settings, trainer = trained
    model, tokenizer = load_trained(run_folder(settings).model)
    test = tokenize(load_split(settings)["test"], tokenizer, settings)
    reloaded = predict(model, tokenizer, test, settings).predictions
    in_memory = predict(trainer.model, trainer.processing_class, test, settings).predictions
    assert reloaded.shape == (len(test), 2)
    assert np.allclose(reloaded, in_memory, atol=1e-5)


@pytest.mark.slow
def test_evaluate_test(trained):
    """evaluate_test reports accuracy and F1 of the argmax on the whole test split, with sizes and speeds."""
    settings, trainer = trained
    metrics = evaluate_test(trainer, settings)
    parts = load_split(settings)
    tokenizer = trainer.processing_class
    prediction = predict(trainer.model, tokenizer, tokenize(parts["test"], tokenizer, settings), settings)
    accuracy = float((np.argmax(prediction.predictions, axis=-1) == parts["test"]["label"].to_numpy()).mean())
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert (metrics["train_rows"], metrics["test_rows"]) == (len(parts["train"]), len(parts["test"]))
    assert metrics["eval_loss"] > 0
    assert metrics["train_samples_per_second"] > 0 and metrics["predict_samples_per_second"] > 0


# ---------------------------------------------------------------------------------------------- any input


ANY_CHARACTER = st.one_of(st.characters(), st.characters(categories=["Cs"]))  # lone surrogates too
PATHOLOGICAL = [b"\x00" * 50, b"\xff\xfe\x00h\x00i", b"\xed\xa0\x80 a lone surrogate", b"a " * 50_000, b"\n\n\n",
                b"\t\x0b\x0c\r\n", "\u2028\u2029\x85".encode(), "😀".encode() * 300, b"headline\n" * 10_000]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(data=PATHOLOGICAL[0])
@example(data=PATHOLOGICAL[1])
@example(data=PATHOLOGICAL[2])
@example(data=PATHOLOGICAL[3])
@example(data=PATHOLOGICAL[4])
@example(data=PATHOLOGICAL[5])
@example(data=PATHOLOGICAL[6])
@example(data=PATHOLOGICAL[7])
@example(data=PATHOLOGICAL[8])
@given(data=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                      st.lists(st.text(ANY_CHARACTER, max_size=40), max_size=30)
                      .map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))))
def test_any_input_to_predict_ends_in_labels_or_one_line(data, classifier_dir, monkeypatch, capsys):
    """Whatever bytes come on stdin (random bytes, NULs, lone surrogates, 100,000 characters, 10,000 lines),
    predict labels every non-blank line, in order, or ends in one `error:` line: never a traceback."""
    monkeypatch.setattr("sys.stdin", piped(data))
    status, out, err = run_main("predict", "--model", classifier_dir, capsys=capsys)
    assert "Traceback" not in out + err
    try:
        expected = [line.strip() for line in data.decode("utf-8").removeprefix("\ufeff").split("\n") if line.strip()]
    except UnicodeDecodeError:
        expected = None
    if expected:
        assert status == 0, err
        assert [row.split("\t", 2)[2] for row in out.split("\n")[:-1]] == expected
    else:
        assert status == 1 and out == ""
        assert one_line_error(err).startswith("error: " + ("no text to label" if expected == [] else "line "))


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(texts=["caf\udce9", "fine"])
@example(texts=["\ud800"])
@example(texts=["x " * 50_000])
@given(texts=st.lists(st.text(ANY_CHARACTER, max_size=60), min_size=1, max_size=8))
def test_any_argument_to_predict_ends_in_labels_or_one_line(texts, classifier_dir, capsys):
    """Texts as arguments (lone surrogates too, as Python keeps bytes it cannot decode): labels or one line."""
    status, out, err = run_main("predict", "--model", classifier_dir, "--", *texts, capsys=capsys)
    assert "Traceback" not in out + err
    if status == 0:
        assert len(re.findall(r"^LABEL_[01]\t\d\.\d{3}\t", out, re.MULTILINE)) == sum(1 for text in texts if text.strip())
    else:
        assert status == 1 and out == "", err
        one_line_error(err)
