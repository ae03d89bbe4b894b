"""The tutorial's pipeline against this project's, side by side: `python -m helpers bench`.

Introduced in notebook 04 (why the defaults are fast) and docs/speed.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import time
from pathlib import Path
from typing import Iterator

import torch
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, default_data_collator

from .data import label_names
from .finetune import NO_EVALUATION, training_arguments
from .hardware import attention, precision, record, reuse_memory
from .layout import RunFolder, write_json
from .models import load_model, load_tokenizer
from .predict import predict
from .settings import Settings, UserError, tagged
from .split import load_split
from .tokenization import TutorialDataset, tokenize

# Each pipeline is the settings' speed levers and how the rows become batches.
LEVERS_OFF = tagged("off")  # each lever at transformers' own default
PIPELINES = {
    "tutorial": {"levers": LEVERS_OFF, "tutorial": True},
    "per-batch padding": {"levers": LEVERS_OFF},
    "this project": {"levers": {}},
}
SKIP = 2  # training steps not timed: start-up


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024


@contextlib.contextmanager
def peak_memory() -> Iterator[dict]:
    """The most memory this process takes on inside the block (Linux: VmHWM, reset on entry); else None."""
    result = {"peak_mb": None}
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the high-water mark to the current size
        start = _status_mb("VmRSS")
    except OSError:
        yield result
        return
    yield result
    result["peak_mb"] = _status_mb("VmHWM") - start


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the system, so the next pipeline starts clean."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class StepClock(TrainerCallback):
    """Times training from the end of step `SKIP` on, leaving out one-off start-up costs."""

    start = end = 0.0

    def on_step_end(self, args, state, control, **kwargs):
        """Start the clock at step `SKIP`; stop it at every step (the last one counts)."""
        if state.global_step == SKIP:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def run_pipeline(name: str, settings: Settings, train_rows, test_rows, tokenizer, repeat: int = 1) -> dict:
    """Train on `train_rows` (`repeat` epochs, timed after `SKIP` steps) and predict `test_rows` (`repeat` + 1 times,
    the first untimed) the way pipeline `name` does: measured warm. The allocator stays as the caller set it
    (notebook 00 times a pipeline in the learner's kernel)."""
    spec = PIPELINES[name]
    settings = dataclasses.replace(settings, **spec["levers"])
    if spec.get("tutorial"):  # tokenized again on every item, padded to 512, stacked as they come
        train_data = TutorialDataset(train_rows["sentence"], train_rows["label"], tokenizer)
        test_data = TutorialDataset(test_rows["sentence"], test_rows["label"], tokenizer)
        collate = default_data_collator
    else:
        train_data, test_data = tokenize(train_rows, tokenizer, settings), tokenize(test_rows, tokenizer, settings)
        collate = DataCollatorWithPadding(tokenizer)
    args = training_arguments(settings, num_train_epochs=repeat, max_steps=-1, logging_strategy="no", disable_tqdm=True,
                              **NO_EVALUATION)
    clock = StepClock()
    with peak_memory() as memory:
        trainer = Trainer(model=load_model(settings, label_names(settings)), args=args, train_dataset=train_data,
                          data_collator=collate, callbacks=[clock])
        trainer.train()
        model = trainer.model
        run = trainer.predict if spec.get("tutorial") else lambda data: predict(model, tokenizer, data, settings)
        run(test_data)
        started = time.perf_counter()
        for _ in range(repeat):
            run(test_data)
        predicted = time.perf_counter()
    del trainer, model
    release_memory()
    timed_rows = (repeat * (len(train_rows) // settings.train_batch_size) - SKIP) * settings.train_batch_size
    return {"train_samples_per_second": timed_rows / (clock.end - clock.start),
            "predict_samples_per_second": repeat * len(test_rows) / (predicted - started),
            "peak_memory_mb": memory["peak_mb"], "repeat": repeat,
            **{lever: getattr(settings, lever) for lever in LEVERS_OFF},
            "precision": precision(settings), "attention": attention(settings.attention)}  # auto's choices: what ran


def bench(settings: Settings, steps: int = 20, predict_rows: int = 640, repeat: int = 5) -> dict:
    """Run every pipeline on the same rows: `steps` training batches, then `predict_rows` test rows; the tutorial's
    once, the fast ones `repeat` times. The caller holds the output folder; the allocator, a lever, is set here."""
    if steps <= SKIP:
        raise UserError(f"--steps {steps} is too few: the first {SKIP} steps are not timed; use {SKIP + 1} or more")
    if repeat < 1 or predict_rows < 1:
        raise UserError(f"--repeat {repeat} and --predict-rows {predict_rows} must both be 1 or more")
    parts = load_split(settings)
    train_rows = parts["train"].head(steps * settings.train_batch_size)
    test_rows = parts["test"].head(predict_rows)
    tokenizer = load_tokenizer(settings)
    release_memory()
    results = {}
    for name in ["per-batch padding", "this project", "tutorial"]:  # the tutorial last: its 512-token batches
        reuse_memory(PIPELINES[name]["levers"].get("reuse_memory", settings.reuse_memory))  # process-wide
        results[name] = run_pipeline(name, settings, train_rows, test_rows, tokenizer,
                                     1 if name == "tutorial" else repeat)
    tutorial = results["tutorial"]
    for figures in results.values():
        figures["train_speedup"] = figures["train_samples_per_second"] / tutorial["train_samples_per_second"]
        figures["predict_speedup"] = figures["predict_samples_per_second"] / tutorial["predict_samples_per_second"]
    return {"model": settings.model, "data": settings.data, "train_rows": len(train_rows),
            "predict_rows": len(test_rows), "train_batch_size": settings.train_batch_size,
            "eval_batch_size": settings.eval_batch_size, "torch_threads": torch.get_num_threads(),
            "hardware": record(), "pipelines": {name: results[name] for name in PIPELINES}}  # this machine's figures


def chart(report: dict, path: Path) -> Path:
    """Save a bar chart of train and predict samples per second for each pipeline, on a `Figure` of its own: no
    pyplot, so the process's backend and open figures stay as they were (a notebook keeps its inline plots)."""
    from matplotlib.figure import Figure

    names = list(report["pipelines"])
    labels = [f"{name}\n({report['pipelines'][name]['precision']})" for name in names]
    fig = Figure(figsize=(10, 3.2))
    for ax, key, title in zip(fig.subplots(1, 2), ("train", "predict"), ("Training", "Prediction")):
        values = [report["pipelines"][name][f"{key}_samples_per_second"] for name in names]
        bars = ax.barh(labels, values, color=["tab:gray", "tab:blue", "tab:orange"])
        ax.bar_label(bars, labels=[f"{v:,.1f}/s" for v in values], padding=3)
        ax.set(title=f"{title}: headlines per second", xscale="log", xlim=(min(values) / 2, max(values) * 8))
        ax.invert_yaxis()
    model = "/".join(Path(report["model"]).parts[-2:])
    fig.suptitle(f"{model}, batch {report['train_batch_size']}, {report['torch_threads']} threads, "
                 f"{report['hardware']['cpu']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def table(report: dict) -> str:
    """The figures as a Markdown table."""
    lines = ["| pipeline | train samples/s | predict samples/s | peak memory, MB | train × tutorial | "
             "predict × tutorial |", "| --- | --- | --- | --- | --- | --- |"]
    for name, f in report["pipelines"].items():
        lines.append(f"| {name} | {f['train_samples_per_second']:.1f} | {f['predict_samples_per_second']:.1f} | "
                     f"{f['peak_memory_mb'] or float('nan'):,.0f} | {f['train_speedup']:.1f} | "
                     f"{f['predict_speedup']:.1f} |")
    return "\n".join(lines)


def write(report: dict, folder: Path) -> tuple[Path, Path]:
    """Write bench.json and bench.png into `folder`."""
    path = write_json(RunFolder(folder).bench, report)
    return path, chart(report, path.with_suffix(".png"))
