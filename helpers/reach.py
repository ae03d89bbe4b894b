"""Can the data and the model be reached? And so which settings a notebook runs on: `get_settings`.

Introduced in notebook 00 (is this machine ready?) and used by every notebook's first cell (notebook 01). It sits in
the settings layer and does the network I/O `settings` does not; loading models stays in `helpers/models.py`.
"""

from __future__ import annotations

import functools
import os
import urllib.request
from pathlib import Path

from .settings import (TRUE, Settings, UserError, build_settings, cached_path, how_to_set, is_tiny, is_url,
                       requested_profile)

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def model_source(name: str) -> str:
    """Where model `name` comes from: "tiny" (built on this machine), "folder" (a local folder) or "hub" (a hub name,
    downloaded or cached); one line when it is meant as a folder that is not there (notebook 03). Decided here only."""
    if is_tiny(name):
        return "tiny"
    if Path(name).expanduser().is_dir():
        return "folder"
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:  # meant as a folder: hub names are "name", "owner/name"
        raise UserError(f"model folder {name} does not exist; set {how_to_set('model')} to a model folder or hub name")
    return "hub"


@functools.cache
def reachable(url: str, timeout: float = 3.0) -> bool:
    """True when `url` answers a HEAD request within `timeout` seconds, asked once a process for each URL (notebook
    00); `get_settings(fresh=True)` (or `reachable.cache_clear()`) forgets the answers, and the next question asks."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
        return True
    except Exception:
        return False


def data_status(settings: Settings) -> str:
    """Where the data comes from: "local file", "cached", "reachable" or "missing" (notebook 00 prints it)."""
    if not is_url(settings.data):
        return "local file" if Path(settings.data).expanduser().exists() else "missing"
    if cached_path(settings).exists():
        return "cached"
    return "reachable" if reachable(settings.data) else "missing"


def hub_cached(name: str) -> bool:
    """True when the Hugging Face cache holds hub model `name`'s config and weights (`python -m helpers prefetch`)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = [isinstance(try_to_load_from_cache(name, file), str) for file in ("config.json", *WEIGHTS)]
    except ValueError:  # not a valid hub name
        return False
    return cached[0] and any(cached[1:])


def model_status(settings: Settings) -> str:
    """Where the model comes from: "tiny", "local folder", "cached", "reachable" or "missing" (notebook 00); the hub
    is huggingface_hub's endpoint (`HF_ENDPOINT` names a mirror)."""
    try:
        source = model_source(settings.model)
    except UserError:
        return "missing"
    if source != "hub":
        return {"tiny": "tiny", "folder": "local folder"}[source]
    if hub_cached(settings.model):
        return "cached"
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in TRUE:
        return "missing"
    from huggingface_hub import constants

    return "reachable" if reachable(f"{constants.ENDPOINT}/api/models/{settings.model}") else "missing"


def get_settings(profile: str | None = None, *, fresh: bool = False, **overrides) -> Settings:
    """`build_settings`, and with the `auto` profile, the offline `tiny` one when data or model cannot be reached.
    Every notebook starts from it (`helpers.get_settings()`, notebook 01); the fallback is announced in one loud line.
    Whether the data and the model answer is asked once a process; `fresh=True` asks again."""
    if fresh:
        reachable.cache_clear()
    settings = build_settings(profile, **overrides)
    if requested_profile(profile) != "auto":
        return settings
    statuses = {"data": data_status(settings), "model": model_status(settings)}
    missing = [what for what, status in statuses.items() if status == "missing"]
    if not missing:
        return settings
    announce_fallback(" and ".join(missing))
    return build_settings("tiny", **overrides)


@functools.cache
def announce_fallback(missing: str) -> None:
    """Say loudly, once a process, that the auto profile runs tiny: a notebook asks for settings in several cells."""
    print(f"!!! {missing} cannot be reached (no network, nothing cached): falling back to the offline 'tiny' "
          f"profile. Set {how_to_set('profile')} to choose. !!!", flush=True)
