"""Helpers for the notebook series: fine-tune a Hugging Face transformer to spot sarcastic headlines.

One module per step of the flow, each introduced in its notebook:
settings (all notebooks), hardware (00: device and precision), data (01, 07), split (02), tokenization and tiny (03), finetune (04, 07),
predict (05), sweep (06), bench (04, docs/speed.md), plots (the pictures in every notebook),
setup (00: is this machine ready?), prefetch (docs/teaching.md: an offline classroom), index (`make run`'s index page),
cli (`python -m helpers`).
"""

from .data import load_data
from .settings import Settings, UserError, get_settings
from .split import split_data

__all__ = ["Settings", "UserError", "get_settings", "load_data", "split_data"]
