"""The run folder's layout: every name a run keeps in its output folder (`RunFolder`, one documented path each),
the one way a finished file or folder is written (`atomic`: under a temporary name beside it, then renamed, so a
reader never sees half of one), and the folder's lock (`run_lock`: one run at a time). Introduced in notebook 02
(`run_folder(settings).split`); every module takes its paths from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .settings import Settings, UserError, how_to_set

LOCK, HOLDER = ".run.lock", ".run.pid"  # held by the run using the folder, and that run's process id
STUDY_FILE = "study.log"  # in sweep/: the sweep's optuna journal
LOG_HISTORY = "log_history.json"  # in model/: the Trainer's log, every evaluation of the run
BENCH, BENCH_INFERENCE = "bench.json", "bench_inference.json"  # `bench`'s figures, `bench-inference`'s


def _path(*names: str, doc: str) -> property:
    """A path of the run folder, `names` under its root, read-only and documented: one row of `RunFolder`'s table."""
    return property(lambda self: self.root.joinpath(*names), doc=doc)


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The paths of one run's output folder (nothing is made or read until `make` or a caller does)."""

    root: Path

    model = _path("model", doc="The saved model, its tokenizer, training log and card.")
    partial = _path(".model-partial", doc="A save being written, renamed to `model` once complete.")
    replaced = _path(".model-replaced", doc="The model a save replaces, until the new one is in (`swap_in`).")
    log_history = _path("model", LOG_HISTORY, doc="The saved model's training log (notebook 06 reads a trial's).")
    lock = _path(LOCK, doc="The lock file of the run holding the folder.")
    holder = _path(HOLDER, doc="The process id of the run holding the folder.")
    split = _path("split.json", doc="The saved split: each part's row indices and the recipe that made them.")
    metrics = _path("metrics.json", doc="The test metrics `python -m helpers train` writes.")
    bench = _path(BENCH, doc="The pipelines' figures `python -m helpers bench` writes (its chart beside, .png).")
    bench_inference = _path(BENCH_INFERENCE, doc="The prediction paths' figures `bench-inference` writes (its "
                            "chart beside, .png; notebook 08).")
    onnx = _path("onnx", doc="The exported model: model.onnx, model_int8.onnx, its tokenizer and config (notebook 08).")
    sweep = _path("sweep", doc="The folder of a search: a folder per trial, and the study.")
    study = _path("sweep", STUDY_FILE, doc="The sweep's study journal (when no database is given).")

    def trial(self, run_id: str) -> Path:
        """The output folder of the sweep's trial `run_id`."""
        return self.sweep / run_id

    def checkpoint_folders(self) -> list[Path]:
        """Every `checkpoint-N` folder, complete or not, in step order (a name without a number last)."""

        def step(path: Path) -> tuple[float, str]:
            number = path.name.rsplit("-", 1)[1]
            return (int(number) if number.isdigit() else math.inf, path.name)

        return sorted(self.root.glob("checkpoint-*"), key=step)

    def make(self) -> Path:
        """The folder, made if missing (`make`)."""
        return make(self.root)


def run_folder(settings: Settings) -> RunFolder:
    """The layout of the settings' output folder."""
    return RunFolder(Path(settings.output_dir))


def make(folder: Path) -> Path:
    """`folder`, made if missing; one clear line when a file stands in its way or it cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((path for path in [folder, *folder.parents] if path.exists() and not path.is_dir()), folder)
        raise UserError(f"output folder {folder} cannot be made: {blocker} is a file, not a folder; "
                        f"choose another {how_to_set('output_dir')}") from None
    except OSError as error:
        raise UserError(f"cannot make output folder {folder} ({error.strerror}); choose another "
                        f"{how_to_set('output_dir')}") from None
    return folder


def swap_in(new: Path, folder: Path) -> Path:
    """Put the complete folder `new` in place of `folder`, the old one kept as `.NAME-replaced` until the new one is
    in: a save cut short never leaves a half-written `folder` (notebook 04's save, notebook 08's export)."""
    old = folder.with_name(f".{folder.name}-replaced")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    new.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


@contextlib.contextmanager
def atomic(path: Path, folder: bool = False) -> Iterator[Path]:
    """A temporary name beside `path` for the block to write a file (`folder`: a folder) into, renamed to `path` when
    the block ends and removed when it fails: a reader sees the old `path` or the new, never half (notebook 02)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")  # one per writer (torchrun's)
    if folder:
        tmp.mkdir()
    try:
        yield tmp
        if folder:
            swap_in(tmp, path)
        else:
            os.replace(tmp, path)
    finally:  # still there when the block failed
        if folder:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> Path:
    """`obj` as indented JSON in `path`, whole or not at all (`atomic`): metrics.json, bench.json, split.json."""
    with atomic(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
    return path


class FolderInUse(UserError):
    """The output folder is held by another run (`run_lock`)."""


@contextlib.contextmanager
def run_lock(settings: Settings) -> Iterator[Path]:
    """Hold the output folder for one run (train, bench, a sweep's trial): a second run on it stops at once, naming it.

    Taken once a run, by what starts it; the system releases it when the process ends, however it ends. Under
    torchrun, process 0 holds it. A folder the run made and left empty (it failed early) is removed again.
    """
    made = not Path(settings.output_dir).exists()
    layout = run_folder(settings)
    folder = layout.make()
    if int(os.environ.get("RANK", "0")) != 0:
        yield folder
        return
    lock = FileLock(layout.lock, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        holder = layout.holder.read_text().strip() if layout.holder.is_file() else ""
        raise FolderInUse(f"{folder} is in use by another run (process {holder or 'unknown'}); wait for it to "
                          f"finish, or choose another {how_to_set('output_dir')}") from None
    try:
        layout.holder.write_text(f"{os.getpid()}\n")
        yield folder
    finally:
        layout.holder.unlink(missing_ok=True)
        layout.lock.unlink(missing_ok=True)
        lock.release()
        if made and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
