"""Notebooks are committed clean: valid JSON, no outputs, no execution counts (outputs belong in build/)."""

from __future__ import annotations

import json

import pytest

from support import ROOT

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_notebook_folder_is_not_empty():
    """The notebooks folder holds notebooks (so the checks below, one per notebook, do not pass vacuously)."""
    assert NOTEBOOKS, f"{NOTEBOOK_DIR} has no .ipynb file"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_clean(path):
    """The notebook is valid nbformat-4 JSON whose code cells have no outputs and no execution counts."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook.get("nbformat") == 4 and isinstance(notebook.get("cells"), list) and notebook["cells"]
    dirty = [
        i for i, cell in enumerate(notebook["cells"])
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; clear them before committing"
