"""The run folder's layout: one home for the paths in OUTPUT_DIR, which the modules that write there all use."""

from __future__ import annotations

import json

import pytest

from helpers import UserError, split, sweep
from helpers.layout import RunFolder, atomic, run_folder, write_json


def test_the_modules_take_their_paths_from_the_layout(make_settings):
    """The model, the split, the sweep and its study, and a trial's folder are where the layout says."""
    settings = make_settings()
    folder = run_folder(settings)
    split.load_split(settings)  # saves the split
    assert folder.split.is_file() and sweep.where(settings) == str(folder.study)
    trial = sweep.trial_settings(settings, {"learning_rate": "1e-4"})
    assert trial.output_dir == str(folder.trial(sweep.run_id(trial))) and folder.trial("x").parent == folder.sweep


def test_checkpoints_in_step_order_not_name_order(tmp_path):
    """checkpoint-10 comes after checkpoint-9 (a name sort would put it first); a name without a step comes last."""
    for name in ("checkpoint-10", "checkpoint-9", "checkpoint-x", "other"):
        (tmp_path / name).mkdir()
    assert [path.name for path in RunFolder(tmp_path).checkpoint_folders()] == [
        "checkpoint-9", "checkpoint-10", "checkpoint-x"]


def test_make_names_the_file_in_the_way(tmp_path):
    """A file where a folder of the output folder's path should be: one line naming it."""
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="file is a file, not a folder"):
        RunFolder(tmp_path / "file" / "out").make()
    assert RunFolder(tmp_path / "new" / "out").make().is_dir()


@pytest.mark.parametrize("folder", [False, True])
def test_atomic_writes_whole_or_not_at_all(tmp_path, folder):
    """A block that fails leaves the old file or folder as it was and nothing beside it; one that ends puts the new
    one in its place, with nothing left beside it either."""
    path = tmp_path / "out" / ("onnx" if folder else "metrics.json")
    write_json(path / "old.json" if folder else path, {"old": True})

    def contents() -> dict:
        return json.loads((path / "old.json" if folder else path).read_text()) if path.exists() else {}

    with pytest.raises(RuntimeError), atomic(path, folder=folder) as partial:
        (partial / "old.json" if folder else partial).write_text('{"half": ')
        raise RuntimeError("a full disk, a killed kernel")
    assert contents() == {"old": True} and sorted(path.parent.iterdir()) == [path]
    with atomic(path, folder=folder) as partial:
        write_json(partial / "old.json" if folder else partial, {"new": True})
    assert contents() == {"new": True} and sorted(path.parent.iterdir()) == [path]
