"""Is this machine ready for the series? The checks of notebook 00, each a line a learner can read aloud.

Introduced in notebook 00 (setup): versions, the device and precision (helpers/hardware.py), whether the data and
the model are cached or reachable, the profile, how long its training takes here (measured, not guessed), and
finally "ready" or exactly what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import platform
import tempfile
from pathlib import Path

import torch
import transformers

from .bench import run_pipeline
from .data import load_data
from .hardware import device_name, quiet_transformers
from .models import load_tokenizer
from .reach import data_status, model_status
from .settings import (HOME_VARIABLE, Settings, build_settings, checkout_root, how_to_set, requested_profile,
                       working_folder)
from .split import split_data, split_validation

DATA_SOURCES = {"local file": "a local file", "cached": "downloaded before, in the cache",
                "reachable": "reachable, downloads on first use", "missing": "MISSING: neither cached nor reachable"}
MODEL_SOURCES = {"tiny": "the tiny model, built on this machine", "local folder": "a local folder",
                 "cached": "in the Hugging Face cache", "reachable": "reachable on the hub, downloads on first use",
                 "missing": "MISSING: neither cached nor reachable"}
PREFETCH = "while online, run `python -m helpers prefetch` (or `make prefetch`) once"
STEPS, PREDICT_ROWS = 6, 64  # batches trained and rows predicted to measure the speeds (2 steps and a pass untimed)


def versions() -> str:
    """Python, torch and transformers versions, in one line (notebook 00)."""
    return f"Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}"


def sources(settings: Settings) -> str:
    """Where the data and the model come from, two lines (notebook 00)."""
    return (f"data: {settings.data} ({DATA_SOURCES[data_status(settings)]})\n"
            f"model: {settings.model} ({MODEL_SOURCES[model_status(settings)]})")


def files_line(settings: Settings) -> str:
    """The working folder, why it is that one, and where downloads and trained models go, one line (notebook 00)."""
    if os.environ.get(HOME_VARIABLE, "").strip():
        why = f"named by {HOME_VARIABLE}"
    elif checkout_root():
        why = f"this checkout; {HOME_VARIABLE} names another"
    else:
        why = f"the folder this runs in; {HOME_VARIABLE} names another"
    return (f"working folder: {working_folder()} ({why}); downloads and the tiny model go to {settings.cache_dir}, "
            f"trained models to {settings.output_dir}")


def row_counts(settings: Settings) -> dict[str, int]:
    """The rows the profile trains, evaluates each epoch, and tests on, from the split it makes (notebook 00)."""
    train, test = split_data(load_data(settings), settings)
    train, validation = split_validation(train, settings)
    return {"train": len(train), "eval": len(test if validation is None else validation), "test": len(test)}


def measure_speed(settings: Settings) -> dict[str, float]:
    """Train `STEPS` real batches of the profile's model and predict `PREDICT_ROWS` rows: rows per second (notebook 00).
    The first 2 steps and the first prediction pass are not timed (start-up), as in `python -m helpers bench`."""
    rows = load_data(settings)
    tokenizer = load_tokenizer(settings)
    train = rows.sample(n=STEPS * settings.train_batch_size, replace=True, random_state=settings.seed)
    # no loading bar, no "newly initialized" report (explained in notebook 04), no printed train metrics; the Trainer
    # keeps nothing
    with quiet_transformers(), contextlib.redirect_stdout(io.StringIO()), tempfile.TemporaryDirectory() as tmp:
        figures = run_pipeline("this project", dataclasses.replace(settings, output_dir=tmp), train,
                               rows.head(PREDICT_ROWS), tokenizer)
    return {"train": figures["train_samples_per_second"], "predict": figures["predict_samples_per_second"]}


def estimate_seconds(settings: Settings, counts: dict[str, int], speed: dict[str, float]) -> float:
    """A training of the profile: its optimizer steps, an evaluation each epoch and the test rows once (notebook 00)."""
    steps = math.ceil(counts["train"] / settings.train_batch_size * settings.epochs)
    if settings.max_steps > 0:
        steps = min(steps, settings.max_steps)
    evaluated = math.ceil(settings.epochs) * counts["eval"] + counts["test"]
    return steps * settings.train_batch_size / speed["train"] + evaluated / speed["predict"]


def duration(seconds: float) -> str:
    """Seconds for people: "40 s", "7 min", "2.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def training_time(settings: Settings) -> dict | None:
    """The profile's rows, the measured speeds and the seconds of one training; None without data or model."""
    if "missing" in (data_status(settings), model_status(settings)):
        return None
    counts, speed = row_counts(settings), measure_speed(settings)
    return {"counts": counts, "speed": speed, "seconds": estimate_seconds(settings, counts, speed)}


def timing_lines(settings: Settings, timing: dict | None) -> str:
    """Which profile runs, and how long its training takes here, with what that was measured from (notebook 00)."""
    if timing is None:
        return f"profile: {settings.profile}; its training time cannot be measured without its data and model"
    speed, epochs = timing["speed"], f"{settings.epochs:g} epoch{'' if settings.epochs == 1 else 's'}"
    return (f"profile: {settings.profile} ({timing['counts']['train']:,} train rows, {epochs})\n"
            f"training takes about {duration(timing['seconds'])} here "
            f"(measured: {speed['train']:,.1f} rows/s training, {speed['predict']:,.0f} rows/s predicting)")


def verdict(settings: Settings, timing: dict | None = None) -> str:
    """The last line: "ready: ..." or "not ready: " and exactly what to do (notebook 00)."""
    seconds = timing["seconds"] if timing else None
    # the settings the series meant to run: when auto fell back to tiny, the profile auto takes with a network
    real = build_settings("auto") if settings.profile == "tiny" and requested_profile() == "auto" else settings
    status = {"data": data_status(real), "model": model_status(real)}
    missing = [what for what, found in status.items() if found == "missing"]
    if missing:
        named = " and ".join(f"the {what} {getattr(real, what)}" for what in missing)
        variables = " and ".join(f"TC_{what.upper()}" for what in missing)
        fallback = "; until then the notebooks run on the tiny profile" if real is not settings else ""
        return (f"not ready: {named} cannot be reached and {'is' if len(missing) == 1 else 'are'} not cached; "
                f"{PREFETCH}, or set {variables} to a local copy{fallback}")
    local = status["model"] in ("tiny", "local folder")
    line = f"ready: profile {settings.profile}, model {Path(settings.model).name if local else settings.model} on " \
           f"{device_name()}"
    if seconds is not None:
        line += f", about {duration(seconds)} per training"
    if settings.profile == "tiny":
        line += " (made-up headlines, an untrained tiny model: the series runs, its numbers mean nothing)"
    elif settings.profile == "full" and seconds is not None and seconds > 3600:
        line += f"; for a workshop, {how_to_set('profile', 'quick')} trains in minutes"
    if "reachable" in status.values():
        line += f"; if the room's network may fail, {PREFETCH}"
    return line
