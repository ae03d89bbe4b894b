"""Helpers for the notebook series: fine-tune a Hugging Face transformer to spot sarcastic headlines.

One module per step of the flow, each introduced in its notebook (docs/architecture.md has their layers):
settings (all notebooks), reach (00, 01: can the data and the model be reached; its `get_settings` is the
package's), hardware (00: device and precision), layout (02: a run's files), data and download (01, 07), split
(02), models (03-05: resolve and load models and tokenizers), tokenization and tiny (03), card (04: the model card
saved with the model), finetune (04, 07), predict (05), sweep (06), bench (04, docs/speed.md), inference (08),
plots (the pictures in every notebook), readiness (00: is this machine ready?), prefetch (docs/teaching.md: an
offline classroom), cli (`python -m helpers`); exercises (01-09: the checks under each exercise's starter cell,
one module per notebook).
`import helpers` loads neither torch nor pandas: `load_data` and `split_data` import them when first used.
"""

import importlib

from .reach import get_settings
from .settings import ROOT, SAMPLE_DATA, TOPICS_SAMPLE, Settings, UserError, working_folder

# What the notebooks use as `helpers.NAME`; every other helper is called as `module.function`, after
# `from helpers import module` (one import style in every notebook).
__all__ = ["ROOT", "SAMPLE_DATA", "TOPICS_SAMPLE", "Settings", "UserError", "get_settings", "load_data", "split_data",
           "working_folder"]
LAZY = {"load_data": "data", "split_data": "split"}  # the module of each


def __getattr__(name: str):
    """`helpers.load_data` (notebook 01) and `helpers.split_data` (notebook 02), imported on first use."""
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{LAZY[name]}", __name__), name)
