"""An offline classroom: `python -m helpers prefetch` brings the data, the models and the wheels onto the machine.

Introduced in docs/teaching.md (an offline classroom) and notebook 00. Afterwards, with the network gone and
`HF_HUB_OFFLINE=1`, the same profile runs on the cached data and model instead of falling back to tiny.
Each part is all or nothing: a failure is one line, and leaves nothing half-written behind.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .data import fetch, online_hint
from .reach import model_source
from .settings import ROOT, Settings, UserError, cached_path, first_line, is_url

BUILD_REQUIREMENTS = ["setuptools>=68"]  # pyproject.toml's build-system requires: pip needs it to install the project
# What `from_pretrained` reads for a model and its tokenizer, and the weights: safetensors, or else PyTorch's.
MODEL_FILES = ["config.json", "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json", "added_tokens.json",
               "*.model"]
SAFETENSORS = ["model*.safetensors", "model.safetensors.index.json"]
PYTORCH = ["pytorch_model*.bin", "pytorch_model.bin.index.json"]
OFFLINE_REMEDY = "check the name and the network (and that HF_HUB_OFFLINE is not set while fetching)"


def size(path: Path) -> int:
    """Bytes in a file, or in every file under a folder (following the Hugging Face cache's links to its blobs)."""
    if path.is_file():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def human(count: int) -> str:
    """A byte count for people: 512 bytes, 1.2 MB, 268.0 MB, 3.4 GB."""
    if count < 1000:
        return f"{count:,} bytes"
    power = min(int(math.log10(count)) // 3, 3)
    return f"{count / 1000 ** power:.1f} {' KMG'[power]}B"


def prefetch_data(settings: Settings) -> str:
    """Bring the data into the download cache (notebook 01's `fetch`); one line saying what and how big."""
    if not is_url(settings.data):
        path = fetch(settings)  # a missing file is a UserError
        return f"data: {path} is a local file, nothing to fetch ({human(size(path))})"
    had = cached_path(settings).exists()
    path = fetch(settings, hint=online_hint)  # prefetch is how one prepares to work offline: no advice to do so
    return f"data: {settings.data} {'was already' if had else 'fetched'} in {path} ({human(size(path))})"


def snapshot(name: str) -> Path:
    """`snapshot_download` of what `from_pretrained` loads: config, tokenizer, and one format of the weights."""
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(name, allow_patterns=MODEL_FILES + SAFETENSORS))
    if not any(folder.glob("*.safetensors")):  # an older repository: PyTorch's weights only
        folder = Path(snapshot_download(name, allow_patterns=MODEL_FILES + PYTORCH))
    return folder


def prefetch_model(name: str) -> str:
    """Bring hub model `name` into the Hugging Face cache (`snapshot_download`); one line saying where and how big.
    snapshot_download writes every file to a temporary name first; when a first fetch of `name` fails half way, its
    folder in the cache is removed, so the cache never holds a model that looks complete but is not."""
    source = model_source(name)
    if source == "tiny":
        return "model: the tiny model is built on this machine, nothing to fetch"
    if source == "folder":
        return f"model: {name} is a local folder, nothing to fetch ({human(size(Path(name).expanduser()))})"
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    try:
        folder = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=name, repo_type="model")
    except ValueError as error:  # not a hub name
        raise UserError(f"cannot fetch model {name!r} ({first_line(error, 2)}); give a hub name such as "
                        "distilbert-base-uncased, or a local folder") from None
    fresh = not folder.exists()
    try:
        fetched = snapshot(name)
    except Exception as error:  # the hub's errors, and its HTTP client's (whose classes change between versions)
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        raise UserError(f"could not fetch model {name!r} from the hub ({type(error).__name__}: "
                        f"{first_line(error, 2)}); {OFFLINE_REMEDY}") from None
    return f"model: {name} is in the Hugging Face cache, {fetched} ({human(size(fetched))})"


def requirements(path: Path = ROOT / "requirements.txt") -> list[str]:
    """The pinned packages of requirements.txt, and setuptools to install the project itself (not `-e .`)."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-")] + BUILD_REQUIREMENTS


def prefetch_wheels(dest: Path, packages: list[str] | None = None, pip_options: tuple[str, ...] = ()) -> str:
    """`pip download` the wheels of requirements.txt into `dest`, for this machine's platform and Python.
    They go to a temporary folder inside `dest` first and move in only when all have come, so a failed download adds
    nothing to `dest`. Introduced in docs/teaching.md (an offline classroom)."""
    dest = dest.expanduser()
    if dest.exists() and not dest.is_dir():
        raise UserError(f"--wheels {dest} is a file; give a folder (it is created if missing)")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".partial-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "-d", tmp,
                   *pip_options, *(requirements() if packages is None else packages)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or [done.stderr.strip()]
            raise UserError(f"pip download failed ({errors[0]}); nothing was added to {dest}")
        wheels = sorted(Path(tmp).iterdir())
        for wheel in wheels:
            wheel.replace(dest / wheel.name)
    total = sum(size(dest / wheel.name) for wheel in wheels)
    return (f"wheels: {len(wheels)} files in {dest} ({human(total)}); on a machine of the same kind: "
            f"pip install --no-index --find-links {dest} -r requirements.txt")


def prefetch(settings: Settings, also_models: list[str] = (), wheels: Path | None = None) -> list[str]:
    """Fetch the data, the model, the `also_models` and (with `wheels`) the wheels; print and return a line each."""
    steps = [lambda: prefetch_data(settings), lambda: prefetch_model(settings.model)]
    steps += [lambda name=name: prefetch_model(name) for name in also_models]
    if wheels is not None:
        steps.append(lambda: prefetch_wheels(wheels))
    lines = []
    for step in steps:
        lines.append(step())
        print(lines[-1], flush=True)
    return lines
