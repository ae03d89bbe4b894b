"""Helpers for the notebook series: fine-tune a Hugging Face transformer to spot sarcastic headlines.

One module per step of the flow, each introduced in its notebook; docs/architecture.md lists them and their layers.
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
