"""Small and fast (helpers/inference.py, notebook 08): every prediction path of a fine-tuned model agrees with its
float32 answers, int8 is smaller, `bench-inference` writes its rows, an exported folder predicts through
`python -m helpers predict`, a wrong folder is one line, and an export that fails leaves nothing behind.

The paths are measured once for the module, on the session's trained tiny model (`trained`), exported into a folder
of their own.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from helpers import hardware, inference, predict, split, tokenization
from helpers.data import label_names
from helpers.settings import UserError

from support import files_in, finish_all, one_line_error, run_main, start_cli

PATHS = ["float32", "this project", "torch int8 (dynamic)", "ONNX Runtime float32", "ONNX Runtime int8"]  # in order
HEADLINES = ["area man wins argument with self in shower", "senate passes bill to fund school lunches",
             "nation's cats announce plans to knock everything off every table"]


@pytest.fixture(scope="module")
def measured(trained, tmp_path_factory):
    """Every path measured on the tiny model's test rows, the ONNX files exported once: (rows, exported folder).

    The settings of every torch prediction pass are kept in `PASSES`, to see how each path fed its rows."""
    settings, trainer = trained
    folder = tmp_path_factory.mktemp("inference") / "onnx"
    real = inference.predict

    def watched(model, tokenizer, dataset, chosen):
        PASSES.append((chosen.precision, chosen.sort_predictions))
        return real(model, tokenizer, dataset, chosen)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(inference, "predict", watched)
        rows = inference.measure_paths(settings.output_dir + "/model", settings, export_to=folder)
    return rows, folder


PASSES: list[tuple[str, bool]] = []  # (precision, sorted by length) of each torch pass `measured` made


@pytest.mark.slow
def test_every_path_answers_like_the_float32_model(measured, trained):
    """One row per path, in order, on all the test rows; each gives the float32 model's class for most rows, and
    scores are in range."""
    rows, _ = measured
    settings, _ = trained
    test = split.load_split(settings)["test"]
    assert [r["name"] for r in rows] == PATHS
    for r in rows:
        assert r["test_rows"] == len(test)
        assert r["agreement"] >= 0.9, r
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["f1"] <= 1 and r["samples_per_second"] > 0
    assert rows[0]["agreement"] == 1.0, "float32 is the reference"


@pytest.mark.slow
def test_every_path_is_timed_alike(measured, trained):
    """Every torch pass predicts in batches sorted by length, float32's too (ONNX Runtime's always are); each path
    is timed over at least 3 passes, reporting their median within their spread, a single headline's latency and
    the threads it ran on."""
    rows, _ = measured
    settings, _ = trained
    assert PASSES and all(sort for _, sort in PASSES), PASSES
    assert {precision for precision, _ in PASSES} <= {"fp32", hardware.precision(settings)}
    for r in rows:
        assert r["runs"] >= 3 and r["runs"] == inference.RUNS, r
        assert 0 < r["samples_per_second_min"] <= r["samples_per_second"] <= r["samples_per_second_max"], r
        assert 0 < r["latency_ms_p50"] < 1000 * r["test_rows"] / r["samples_per_second_min"], "one row, not all"
        assert r["threads"] == torch.get_num_threads()


@pytest.mark.slow
def test_one_headline_answers_like_the_batches(trained, tiny_tokenizer):
    """The latency's one-headline answers give the logits of the batched pass, for torch and its int8 copy."""
    settings, trainer = trained
    model = trainer.model.eval()
    test = split.load_split(settings)["test"].head(4)
    batched = predict.predict(model, tiny_tokenizer, tokenization.tokenize(test, tiny_tokenizer, settings),
                              dataclasses.replace(settings, precision="fp32")).predictions
    one = inference.torch_answer(model, tiny_tokenizer, "fp32")
    alone = np.concatenate([one(text) for text in test["sentence"]])
    np.testing.assert_allclose(alone, batched, rtol=1e-4, atol=1e-5)
    assert inference.latency_ms(one, test["sentence"].tolist()) > 0
    with pytest.raises(UserError, match="runs=0"):
        inference.measure_paths(settings.output_dir + "/model", settings, runs=0)


@pytest.mark.slow
def test_int8_is_smaller(measured):
    """Both int8 paths take less disk than their float32 counterparts (torch: the safetensors weights)."""
    rows, folder = measured
    size = {r["name"]: r["size_mb"] for r in rows}
    assert size["torch int8 (dynamic)"] < size["float32"]
    assert size["ONNX Runtime int8"] < size["ONNX Runtime float32"]
    assert size["ONNX Runtime int8"] == pytest.approx(inference.size_mb(folder / inference.ONNX_INT8))


@pytest.mark.slow
def test_the_exported_folder_is_whole(measured):
    """The exported folder holds both models, the tokenizer and the config with the labels, and no temporary folder
    is left beside it."""
    _, folder = measured
    names = set(files_in(folder))
    assert {inference.ONNX_MODEL, inference.ONNX_INT8, "config.json", "tokenizer.json"} <= names
    assert json.loads((folder / "config.json").read_text())["id2label"]
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


@pytest.mark.slow
def test_written_rows_have_exactly_the_keys(measured, tmp_path):
    """bench_inference.json: the machine, and one row per path with exactly the documented keys, the same figures;
    a chart beside; a note on how the speeds were taken names the runs, threads and CPU."""
    rows, _ = measured
    json_path, png = inference.write(rows, tmp_path)
    saved = json.loads(json_path.read_text())
    assert set(saved) == {"hardware", "paths"} and saved["hardware"] == hardware.record()
    assert [r["name"] for r in saved["paths"]] == PATHS
    assert all(set(r) == set(inference.KEYS) for r in saved["paths"])
    assert saved["paths"][-1]["agreement"] == rows[-1]["agreement"]
    assert png.stat().st_size > 0
    assert len(inference.table(rows).splitlines()) == 2 + len(PATHS)
    note = inference.timing_note(rows)
    assert f"median of {inference.RUNS} timed passes" in note and f"; {torch.get_num_threads()} thread" in note
    assert hardware.record()["cpu"] in note


@pytest.mark.slow
def test_onnx_folder_predicts_the_torch_labels_on_the_command_line(measured, trained, capsys):
    """`predict --model OUTPUT_DIR/onnx` (a process of its own) prints the lines `predict --model OUTPUT_DIR/model`
    prints (run in this one meanwhile): the same labels, probabilities within 0.05 (int8 against float32), the same
    texts."""
    _, folder = measured
    settings, _ = trained
    onnx = start_cli("predict", "--model", str(folder), *HEADLINES)
    try:
        status, printed, err = run_main("predict", "--model", settings.output_dir + "/model", *HEADLINES,
                                        capsys=capsys)
    finally:
        done = finish_all({"onnx": onnx})["onnx"]
    assert status == 0, err
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {name: [line.split("\t") for line in text.strip().splitlines()]
             for name, text in (("onnx", done.stdout), ("torch", printed))}
    assert [line[0] for line in lines["onnx"]] == [line[0] for line in lines["torch"]]
    assert [line[2] for line in lines["onnx"]] == HEADLINES
    for onnx, torch_line in zip(lines["onnx"], lines["torch"]):
        assert abs(float(onnx[1]) - float(torch_line[1])) <= 0.05


@pytest.mark.slow
def test_onnx_classifier_labels_the_test_rows_like_the_pipeline(measured, trained):
    """In-process, the ONNX classifier (int8) and the torch pipeline give the same label for most test rows."""
    _, folder = measured
    settings, _ = trained
    texts = split.load_split(settings)["test"]["sentence"].tolist()
    onnx = [answer["label"] for answer in inference.labeller(folder)(texts)]
    torch_answers = [answer["label"] for answer in predict.saved_pipeline(settings.output_dir + "/model")(texts)]
    assert set(onnx) <= set(label_names(settings))
    assert sum(a == b for a, b in zip(onnx, torch_answers)) >= 0.9 * len(texts)


def test_bench_inference_on_a_folder_that_is_not_fine_tuned(tmp_path, tiny_cache, tiny_model, capsys):
    """An empty folder, or a pretrained model without a classification head, is one `error:` line; nothing written."""
    out = tmp_path / "out"
    for folder, saying in ((tmp_path, "no config.json"), (tiny_model, "not a fine-tuned classifier")):
        status, _, err = run_main("bench-inference", "--profile", "tiny", "--cache-dir", str(tiny_cache),
                                  "--output-dir", str(out), "--model", str(folder), capsys=capsys)
        assert status == 1 and saying in one_line_error(err) and str(folder) in err
    assert not out.exists()


def test_predict_on_a_folder_with_neither_weights_nor_onnx(tmp_path, capsys):
    """`predict` on a folder with neither saved weights nor model.onnx: one line naming the folder and both kinds."""
    status, _, err = run_main("predict", "--model", str(tmp_path), "a headline", capsys=capsys)
    line = one_line_error(err)
    assert status == 1 and str(tmp_path) in line and "model.onnx" in line


def test_a_failed_export_leaves_nothing_half_written(tiny_settings, tmp_path, monkeypatch):
    """An export that fails after model.onnx is written leaves no folder and no temporary one; an earlier export in
    its place stays whole."""
    from helpers.models import load_model, load_tokenizer

    tokenizer = load_tokenizer(tiny_settings)
    model = load_model(tiny_settings, ["not sarcastic", "sarcastic"], tokenizer)  # untrained: exported all the same
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()

    def full_disk(source, target):
        assert source.is_file()  # model.onnx was written, into the temporary folder
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(inference, "quantize_onnx", full_disk)
    folder = tmp_path / "onnx"
    with pytest.raises(OSError):
        inference.export_folder(model, tokenizer, folder)
    assert list(tmp_path.iterdir()) == []
    folder.mkdir()
    (folder / "model.onnx").write_text("an earlier export")
    with pytest.raises(OSError):
        inference.export_folder(model, tokenizer, folder)
    assert [p.name for p in tmp_path.iterdir()] == ["onnx"] and files_in(folder) == ["model.onnx"]
    assert (folder / "model.onnx").read_text() == "an earlier export"


def test_the_table_compares_with_float32():
    """The Markdown table gives each path's median speed with its spread, its speed and size as a multiple of the
    float32 row's, and one headline's latency."""
    rows = [{"name": name, "samples_per_second": speed, "samples_per_second_min": speed - 10,
             "samples_per_second_max": speed + 5, "runs": 3, "latency_ms_p50": latency, "threads": 2,
             "accuracy": 0.9, "f1": 0.8, "test_rows": 10, "size_mb": size, "agreement": 1.0}
            for name, speed, latency, size in (("float32", 100.0, 4.0, 80.0), ("ONNX Runtime int8", 250.0, 0.5, 20.0))]
    last = inference.table(rows).splitlines()[-1]
    assert re.search(r"\| 250\.0 \| 240\.0 to 255\.0 \| 2\.50 \| 0\.50 \|.*\| 20\.0 \| 0\.25 \|", last), last
