"""Small and fast: the fine-tuned model in int8 and under ONNX Runtime, each path measured on the same test rows.

Introduced in notebook 08 (small and fast); `python -m helpers bench-inference` and `python -m helpers predict`
on an exported folder (`OUTPUT_DIR/onnx`) call the same functions.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import softmax

from . import hardware, models
from .baselines import scores
from .data import label_names
from .layout import RunFolder, atomic, run_folder, write_json
from .models import from_pretrained, is_adapter, load_trained, token_limit, with_padding
from .predict import BATCH, predict, saved_pipeline
from .settings import Settings, UserError
from .split import load_split
from .tokenization import tokenize, warn_truncated

ONNX_MODEL, ONNX_INT8 = "model.onnx", "model_int8.onnx"  # in OUTPUT_DIR/onnx (layout.RunFolder.onnx)
INPUTS = ("input_ids", "attention_mask")  # what the exported graph takes; BERT's token_type_ids default to zeros
KEYS = ("name", "samples_per_second", "samples_per_second_min", "samples_per_second_max", "runs", "latency_ms_p50",
        "threads", "accuracy", "f1", "test_rows", "size_mb", "agreement")
RUNS = 3  # timed passes over the test rows per path, after one to warm up; the median is reported
LATENCY_ROWS = 50  # headlines answered one at a time for each path's single-headline latency


def check_fine_tuned(folder: str | Path) -> None:
    """`models.check_fine_tuned`, after one line for an exported folder (ONNX Runtime's graphs, no torch weights)."""
    if looks_exported(folder):
        raise UserError(f"{folder} is an exported folder (ONNX Runtime's graphs, no torch weights), not a saved "
                        f"model; pass the folder a training saved: --model {RunFolder(Path(folder).parent).model}")
    models.check_fine_tuned(folder)


def quantize_torch(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` whose Linear layers compute in int8, their weights stored in int8 (notebook 08)."""
    import warnings

    with warnings.catch_warnings():  # torch 2.13: torch.ao.quantization and qint8 tensors are marked deprecated
        warnings.filterwarnings("ignore", ".*deprecated.*")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).float().eval(), {torch.nn.Linear},
                                                      dtype=torch.qint8)


def sample_inputs(tokenizer) -> dict[str, torch.Tensor]:
    """Two headlines of different lengths, padded into one batch: the inputs the exporter traces (notebook 08)."""
    batch = tokenizer(["a short headline", "and a somewhat longer headline, to pad the first"], padding=True,
                      return_tensors="pt")
    return {name: batch[name] for name in INPUTS}


def export_onnx(model: torch.nn.Module, tokenizer, path: Path) -> Path:
    """`torch.onnx.export` of `model` in float32 to `path`, batch and sequence length dynamic (notebook 08)."""
    import warnings

    model = copy.deepcopy(model).float().eval()
    if hasattr(model, "merge_and_unload"):  # a peft model (LoRA): its adapters merged into the weights, one graph
        model = model.merge_and_unload()
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    registry = "torch.onnx._internal.exporter._registration"  # its "torchvision is not installed"
    with torch.no_grad(), warnings.catch_warnings(), hardware.quiet_transformers(registry):
        warnings.simplefilter("ignore")  # the exporter's notes on axis names and pytree internals
        torch.onnx.export(model, (), str(path), kwargs=sample_inputs(tokenizer), input_names=list(INPUTS),
                          output_names=["logits"], dynamic_shapes={name: {0: batch, 1: sequence} for name in INPUTS},
                          external_data=False, verbose=False)
    return path


def quantize_onnx(source: Path, target: Path) -> Path:
    """ONNX Runtime's dynamic int8 quantization of `source` into `target` (notebook 08)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the root logger: its note suggesting a pre-processing step is within run-to-run noise here (notebook 08)
    with hardware.quiet_transformers(""):
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    return target


def export_folder(model: torch.nn.Module, tokenizer, folder: Path) -> Path:
    """Write `folder` whole or not at all (`layout.atomic`): model.onnx, model_int8.onnx, the tokenizer files and
    config.json (labels) (notebook 08)."""
    with atomic(Path(folder), folder=True) as partial:
        export_onnx(model, tokenizer, partial / ONNX_MODEL)
        quantize_onnx(partial / ONNX_MODEL, partial / ONNX_INT8)
        tokenizer.save_pretrained(partial)
        model.config.save_pretrained(partial)
    return Path(folder)


def session(path: Path):
    """An `onnxruntime.InferenceSession` on the CPU, every graph optimization on, on torch's number of threads (as
    the torch paths it is measured against) (notebook 08)."""
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    # ONNX Runtime's exception classes (InvalidProtobuf, NoSuchFile, Fail, ...) derive from no common one but Exception
    ort_errors = tuple(kind for kind in vars(state).values() if isinstance(kind, type) and issubclass(kind, Exception))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3  # errors only
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (OSError, *ort_errors) as error:  # cut short, damaged, missing: ONNX Runtime's own exception classes
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0].split(" failed:")[-1].strip()
        raise UserError(f"{path} is not a whole ONNX model ({type(error).__name__}: {detail.rstrip('.')}), as when "
                        f"an export or a copy is cut short; {export_again(Path(path).parent)}") from None


def export_again(folder: Path) -> str:
    """What to run to write exported folder `folder` again, from the model saved beside it."""
    root = Path(folder).parent
    return (f"write it again: python -m helpers bench-inference --model {RunFolder(root).model} "
            f"--output-dir {root} (with the --profile it was trained with)")


def onnx_logits(runner, tokenizer, encodings: dict, batch_size: int) -> np.ndarray:
    """The logits of ONNX session `runner` for tokenized rows, fed in batches sorted by length, in the rows' order."""
    order = np.argsort([len(row) for row in encodings["input_ids"]], kind="stable")
    wanted, batches = [i.name for i in runner.get_inputs()], []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = tokenizer.pad({name: [encodings[name][i] for i in rows] for name in INPUTS}, return_tensors="np")
        batches.append(runner.run(None, {name: batch[name].astype(np.int64) for name in wanted})[0])
    logits = np.concatenate(batches) if batches else np.empty((0, 0), dtype=np.float32)
    return logits[np.argsort(order)]  # back in the rows' order


def size_mb(*files: Path) -> float:
    """The files' size on disk together, in MB (10^6 bytes)."""
    return sum(Path(file).stat().st_size for file in files) / 1e6


def weights_mb(folder: Path) -> float:
    """The size of a saved model's weights (its safetensors files), in MB."""
    return size_mb(*sorted(Path(folder).glob("*.safetensors")))


def torch_size_mb(model: torch.nn.Module) -> float:
    """The size of `model`'s state dict saved with `torch.save` (a quantized model's packed int8 weights), in MB."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.pt"
        torch.save(model.state_dict(), path)
        return size_mb(path)


def stopwatch(call: Callable, *args) -> float:
    """The seconds one `call(*args)` takes."""
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


def timed(run: Callable[[], np.ndarray], runs: int = RUNS) -> tuple[np.ndarray, list[float]]:
    """Run once to warm up, then `runs` times timed: the logits of the warm-up pass and each timed pass's seconds."""
    return run(), [stopwatch(run) for _ in range(runs)]


def latency_ms(answer: Callable[[str], object], texts: list[str]) -> float:
    """The median milliseconds `answer` takes for one text, over `texts` one at a time, after one call to warm up."""
    answer(texts[0])
    return 1000 * statistics.median(stopwatch(answer, text) for text in texts)


def torch_answer(net: torch.nn.Module, tokenizer, precision: str) -> Callable[[str], np.ndarray]:
    """One headline's logits from a torch model: tokenized alone, one forward pass under the path's autocast."""
    device = next(net.parameters()).device  # a dynamically quantized model keeps its embeddings as parameters
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def answer(text: str) -> np.ndarray:
        batch = tokenizer([text], return_tensors="pt").to(device)
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return net(**{name: batch[name] for name in INPUTS}).logits.float().cpu().numpy()

    return answer


def onnx_answer(runner, tokenizer) -> Callable[[str], np.ndarray]:
    """One headline's logits from an ONNX Runtime session: tokenized alone, one run of the graph."""
    wanted = [i.name for i in runner.get_inputs()]

    def answer(text: str) -> np.ndarray:
        batch = tokenizer([text], return_tensors="np")
        return runner.run(None, {name: batch[name].astype(np.int64) for name in wanted})[0]

    return answer


def row(name: str, logits: np.ndarray, seconds: list[float], latency: float, size: float, labels: np.ndarray,
        reference: np.ndarray | None) -> dict:
    """One path's figures: speed (the median of the timed passes, and their spread), one headline's latency, the
    threads, accuracy, F1, rows, size and agreement with the `reference` predicted classes."""
    predicted = logits.argmax(axis=-1)
    agreement = 1.0 if reference is None else float((predicted == reference).mean())
    speeds = [len(labels) / second for second in seconds]
    return {"name": name, "samples_per_second": statistics.median(speeds), "samples_per_second_min": min(speeds),
            "samples_per_second_max": max(speeds), "runs": len(speeds), "latency_ms_p50": latency,
            "threads": torch.get_num_threads(), **scores(labels, predicted, logits.shape[-1]),
            "test_rows": len(labels), "size_mb": size, "agreement": agreement}


def measure_paths(folder: str | Path, settings: Settings, test: pd.DataFrame | None = None,
                  export_to: Path | None = None, runs: int = RUNS) -> list[dict]:
    """Every prediction path on the same test rows: float32, this project's, torch int8, ONNX Runtime float32 and
    int8, in that order (notebook 08, `bench-inference`).
    `folder`: a fine-tuned model; `test`: the rows (the settings' test split by default); the ONNX files are exported
    into `export_to` (default `OUTPUT_DIR/onnx`). Every path predicts the rows in batches sorted by length (float32 too:
    sorting is its own lever, in "this project"'s settings), `runs` timed passes each (the median reported), then one
    headline at a time for the latency; ONNX Runtime runs on torch's number of threads."""
    if runs < 1:
        raise UserError(f"runs={runs} must be 1 or more (3 or more for a median worth the name)")
    check_fine_tuned(folder)
    test = load_split(settings)["test"] if test is None else test
    model, tokenizer = load_trained(folder, label_names(settings))
    model.eval()
    data = tokenize(test, tokenizer, settings)
    labels = np.asarray(data.labels)
    # a LoRA run's folder holds the adapter only: the model served is its base with the adapter merged in
    served_mb = torch_size_mb(model) if is_adapter(folder) else weights_mb(folder)
    texts = test["sentence"].astype(str).tolist()[:LATENCY_ROWS]

    rows, reference = [], None
    sorted_fp32 = {"precision": "fp32", "sort_predictions": True}
    quantized = quantize_torch(model)
    for name, net, changes, size in (
        ("float32", model, sorted_fp32, served_mb),
        ("this project", model, {}, served_mb),
        ("torch int8 (dynamic)", quantized, sorted_fp32, torch_size_mb(quantized)),
    ):
        chosen = dataclasses.replace(settings, **changes)
        logits, seconds = timed(lambda: predict(net, tokenizer, data, chosen).predictions, runs)
        latency = latency_ms(torch_answer(net, tokenizer, hardware.precision(chosen)), texts)
        rows.append(row(name, logits, seconds, latency, size, labels, reference))
        reference = logits.argmax(axis=-1) if reference is None else reference
    del quantized
    exported = export_folder(model, tokenizer, run_folder(settings).onnx if export_to is None else export_to)
    for name, file in (("ONNX Runtime float32", ONNX_MODEL), ("ONNX Runtime int8", ONNX_INT8)):
        runner = session(exported / file)
        logits, seconds = timed(lambda: onnx_logits(runner, tokenizer, data.encodings, settings.eval_batch_size), runs)
        latency = latency_ms(onnx_answer(runner, tokenizer), texts)
        rows.append(row(name, logits, seconds, latency, size_mb(exported / file), labels, reference))
    return rows


def table(rows: list[dict]) -> str:
    """The paths' figures as a Markdown table, with each path's speed and size against float32's: samples/s is the
    median of the timed passes (their lowest and highest beside it), latency one headline's median."""
    first = rows[0]
    lines = ["| path | samples/s | lowest to highest | × float32 | one headline, ms | accuracy | F1 | size, MB | "
             "× float32 size | agreement | test rows |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['samples_per_second']:,.1f} | {r['samples_per_second_min']:,.1f} to "
                     f"{r['samples_per_second_max']:,.1f} | {r['samples_per_second'] / first['samples_per_second']:.2f} "
                     f"| {r['latency_ms_p50']:,.2f} | {r['accuracy']:.4f} | {r['f1']:.4f} | {r['size_mb']:,.1f} | "
                     f"{r['size_mb'] / first['size_mb']:.2f} | {r['agreement']:.4f} | {r['test_rows']:,} |")
    return "\n".join(lines)


def timing_note(rows: list[dict]) -> str:
    """How the table's speeds were taken: passes per path, threads, and the machine (printed under the table)."""
    machine, threads = hardware.record(), rows[0]["threads"]
    return (f"samples/s: the median of {rows[0]['runs']} timed passes per path over {rows[0]['test_rows']:,} test "
            f"rows, in batches sorted by length; {threads} thread{'' if threads == 1 else 's'}; {machine['cpu']} "
            f"({machine['cpu_capability']}, bfloat16 {'native' if machine['cpu_bf16'] else 'not native'})")


def draw(rows: list[dict], fig) -> None:
    """Onto matplotlib figure `fig`: speed against accuracy, one dot per path sized by its MB; size bars beside."""
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    biggest = max(r["size_mb"] for r in rows)
    for i, r in enumerate(rows):
        axes[0].scatter(r["samples_per_second"], r["accuracy"], s=40 + 400 * r["size_mb"] / biggest,
                        color=f"C{i}", alpha=0.7, label=r["name"])
    axes[0].set(title="Speed and accuracy (dot area: size)", xlabel="test rows per second", ylabel="accuracy")
    for handle in axes[0].legend(fontsize="small").legend_handles:
        handle.set_sizes([40])  # the legend's dots all alike: their sizes are the chart's
    names = [r["name"] for r in rows]
    bars = axes[1].barh(names, [r["size_mb"] for r in rows], color=[f"C{i}" for i in range(len(rows))])
    axes[1].bar_label(bars, labels=[f"{r['size_mb']:,.1f} MB" for r in rows], padding=3)
    axes[1].set(title="Size on disk", xlabel="MB", xlim=(0, biggest * 1.5))
    axes[1].invert_yaxis()
    fig.suptitle(f"speed: the median of {rows[0]['runs']} passes, threads: {rows[0]['threads']}, "
                 f"{hardware.cpu_model()}", fontsize=9)
    fig.tight_layout()


def chart(rows: list[dict], path: Path) -> Path:
    """Save `draw`'s chart to `path` on a `Figure` of its own (matplotlib's object API: no pyplot state touched)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.6))
    draw(rows, fig)
    fig.savefig(path, dpi=120)
    return path


def write(rows: list[dict], folder: Path) -> tuple[Path, Path]:
    """Write bench_inference.json (the machine under `hardware`, and under `paths` the rows, `KEYS` each) and its
    chart, .png, into `folder` (`layout.RunFolder.bench_inference`)."""
    path = RunFolder(folder).bench_inference
    write_json(path, {"hardware": hardware.record(), "paths": [{key: r[key] for key in KEYS} for r in rows]})
    return path, chart(rows, path.with_suffix(".png"))


def is_exported(folder: str | Path) -> bool:
    """True when `folder` holds an exported ONNX model (`export_folder`'s config.json and model.onnx or its int8
    model_int8.onnx)."""
    folder = Path(folder)
    return (folder / "config.json").is_file() and any((folder / name).is_file() for name in (ONNX_MODEL, ONNX_INT8))


def looks_exported(folder: str | Path) -> bool:
    """True when `folder` is, or was meant to be, an exported folder: it holds an .onnx file, or it is an output
    folder's `onnx/` (`layout.RunFolder.onnx`) with a config.json and no torch weights."""
    folder = Path(folder)
    unweighted = (folder / "config.json").is_file() and not any(folder.glob("*.safetensors"))
    return folder.is_dir() and (any(folder.glob("*.onnx")) or (folder == RunFolder(folder.parent).onnx and unweighted))


class OnnxClassifier:
    """Texts in, `{"label", "score"}` out, as `pipeline("text-classification")`, on an exported folder (notebook 08).
    Runs model_int8.onnx when the folder has it, else model.onnx; texts longer than the model takes are cut."""

    def __init__(self, folder: str | Path):
        from transformers import AutoConfig, AutoTokenizer

        folder = Path(folder)
        self.file = folder / (ONNX_INT8 if (folder / ONNX_INT8).is_file() else ONNX_MODEL)
        self.config = from_pretrained(AutoConfig, str(folder))
        self.tokenizer = with_padding(from_pretrained(AutoTokenizer, str(folder)), str(folder))
        self.runner = session(self.file)

    def __call__(self, texts: str | list[str]) -> list[dict]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        limit = token_limit(self.tokenizer, self.config)
        warn_truncated(texts, self.tokenizer, limit, "the most this model takes")
        encodings = self.tokenizer(texts, truncation=True, max_length=limit)
        probabilities = softmax(onnx_logits(self.runner, self.tokenizer, encodings, BATCH), axis=-1)
        return [{"label": self.config.id2label[int(p.argmax())], "score": float(p.max())} for p in probabilities]


def labeller(folder: str | Path) -> Callable[[list[str]], list[dict]]:
    """What labels texts from `folder`: ONNX Runtime on an exported folder, else the torch pipeline (notebook 08)."""
    if is_exported(folder):
        return OnnxClassifier(folder)
    if looks_exported(folder):  # config and tokenizer, but neither graph
        raise UserError(f"{folder} is an exported folder without {ONNX_MODEL} or {ONNX_INT8}; {export_again(folder)}")
    if not Path(folder).is_dir() or not ((Path(folder) / "config.json").is_file() or models.has_weights(Path(folder))):
        raise UserError(f"no model in {folder}: neither saved weights nor an exported model.onnx; pass a folder "
                        "a training saved (OUTPUT_DIR/model) or an exported one (OUTPUT_DIR/onnx)")
    return saved_pipeline(folder)
