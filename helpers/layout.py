"""The run folder's layout: every name a run keeps in its output folder, in one place.

`OUTPUT_DIR/` holds `model/` (the saved model and its card), `checkpoint-N/` (a run's checkpoints), `split.json`
(notebook 02), `metrics.json` (`python -m helpers train`), `sweep/` (notebook 06: `sweep/study.log` and a folder
per trial), `onnx/` and `bench_inference.json` (notebook 08, `bench --inference`), and while a run holds it,
`.run.lock` and `.run.pid`; a save being written goes to `.model-partial`.
Introduced in notebook 02 (`split.split_path`); finetune, split, sweep and the CLI take their paths from here.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from .settings import Settings, UserError, how_to_set

LOCK, HOLDER = ".run.lock", ".run.pid"  # held by the run using the folder, and that run's process id
PARTIAL, REPLACED = ".model-partial", ".model-replaced"  # beside model/: a save being written, the model it replaces
STUDY_FILE = "study.log"  # in sweep/: the sweep's optuna journal


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The paths of one run's output folder (nothing is made or read until `make` or a caller does)."""

    root: Path

    @property
    def model(self) -> Path:
        """The saved model, its tokenizer, training log and card."""
        return self.root / "model"

    @property
    def partial(self) -> Path:
        """A save being written, renamed to `model` once complete."""
        return self.root / PARTIAL

    @property
    def replaced(self) -> Path:
        """The model a save is replacing, until the new one is in place."""
        return self.root / REPLACED

    @property
    def lock(self) -> Path:
        """The lock file of the run holding the folder."""
        return self.root / LOCK

    @property
    def holder(self) -> Path:
        """The process id of the run holding the folder."""
        return self.root / HOLDER

    @property
    def split(self) -> Path:
        """The saved split: each part's row indices and the recipe that made them."""
        return self.root / "split.json"

    @property
    def metrics(self) -> Path:
        """The test metrics `python -m helpers train` writes."""
        return self.root / "metrics.json"

    @property
    def onnx(self) -> Path:
        """The exported model: model.onnx, model_int8.onnx, its tokenizer and config (notebook 08)."""
        return self.root / "onnx"

    @property
    def sweep(self) -> Path:
        """The folder of a search: a folder per trial, and the study."""
        return self.root / "sweep"

    @property
    def study(self) -> Path:
        """The sweep's study journal (when no database is given)."""
        return self.sweep / STUDY_FILE

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
        raise UserError(
            f"output folder {folder} cannot be made: {blocker} is a file, not a folder; "
            f"choose another {how_to_set('output_dir')}"
        ) from None
    except OSError as error:
        raise UserError(
            f"cannot make output folder {folder} ({error.strerror}); choose another {how_to_set('output_dir')}"
        ) from None
    return folder


def swap_in(partial: Path, folder: Path, replaced: Path) -> Path:
    """Put the complete folder `partial` in place of `folder`, the old one kept as `replaced` until the new one is
    in: a save cut short never leaves a half-written `folder` (notebook 04's save, notebook 08's export)."""
    import shutil

    shutil.rmtree(replaced, ignore_errors=True)
    if folder.exists():
        folder.rename(replaced)
    partial.rename(folder)
    shutil.rmtree(replaced, ignore_errors=True)
    return folder
