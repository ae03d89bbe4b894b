"""A learner's hosted notebook: the package installed non-editable, with the lowest transformers pyproject.toml
allows, into a fresh environment, and notebooks 03 and 04 opened alone in an empty folder on the tiny profile: the
two that call transformers (tokenizer, collator, model, `Trainer`). Notebooks 01 and 02 call only pandas and
scikit-learn, at the versions pinned, as every other test does.

Slow (one fresh venv, pip from its cache, two notebooks): it checks the lower bounds are honest, that nothing is
written into site-packages, and that the data cache, the tiny model and the trained model land in the working
folder, which, with no checkout around, is the folder the notebook runs in.

Measured on the project's 2-core machine in `make test` from a fresh clone (pip's cache warm from .ci/run's own
install, the other worker busy): 131 s. With notebooks 01-04, alone: 185 s (`pytest -s tests/test_lowest.py` prints
its parts: install 63 s, notebooks 107 s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from support import ROOT
from test_packaging import declared, lowest, pinned, project

# The libraries whose lowest allowed versions are installed together: transformers and what it needs at its
# lowest (the rest of the dependencies come as pip resolves them, mostly the pinned versions from pip's cache), and
# notebook 08's ONNX libraries and notebook 09's peft at theirs (the versions pinned: no lower one was tried).
AT_LOWEST = ("transformers", "tokenizers", "huggingface-hub", "accelerate", "safetensors", "onnx", "onnxscript",
             "onnxruntime", "peft")
NOTEBOOKS = sorted(ROOT.glob("notebooks/0[34]_*.ipynb"))
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "build", "results", "cache", "__pycache__", "*.egg-info")


def pip(python: Path, *args: str) -> None:
    """`python -m pip install ARGS`, quietly; the error output in the failure message."""
    done = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *args],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def paths_under(folder: Path) -> set[str]:
    """Every file and folder below `folder`, relative to it."""
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def learner_env(bytecode: Path) -> dict[str, str]:
    """The environment of a learner's process: no TC_* variables, no PYTHONPATH, and Python's bytecode cache kept
    in `bytecode` rather than beside the modules, so that any file that appears in site-packages is one the series
    wrote (and the modules a notebook imports are compiled once, not in every kernel)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("TC_")}
    return env | {"PYTHONPYCACHEPREFIX": str(bytecode), "OMP_NUM_THREADS": "1"}


def in_venv(python: Path, code: str, cwd: Path) -> str:
    """Run `code` with the fresh environment's Python in `cwd`; its standard output."""
    done = subprocess.run([str(python), "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=learner_env(cwd.parent / "bytecode"))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


@pytest.mark.slow
def test_lowest_transformers_installed_non_editable_runs_notebooks_in_an_empty_folder(tmp_path, monkeypatch):
    """Lowest transformers (and tokenizers, hub, accelerate, safetensors), `pip install CHECKOUT` (not -e), notebooks
    03 and 04 from an empty folder: they run, site-packages gains nothing, the trained model is in that folder."""
    started = time.monotonic()
    deps = declared()
    source = tmp_path / "source"  # a copy: building from the checkout itself would leave build/ and egg-info there
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, timeout=300)
    python = tmp_path / "venv" / "bin" / "python"
    floors = [f"{name}=={lowest(deps[name])}" for name in AT_LOWEST]
    # One resolution; --no-compile saves compiling torch's thousands of modules (learner_env compiles what is used)
    pip(python, "--no-compile", f"torch=={pinned()['torch']}", *floors, "ipykernel", str(source))
    kernels = tmp_path / "jupyter"
    subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(kernels), "--name", "tc-lowest"],
                   check=True, capture_output=True, timeout=120)
    installed = time.monotonic()

    empty = tmp_path / "learner"
    empty.mkdir()
    site = Path(in_venv(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])", empty))
    report = json.loads(in_venv(python, (
        "import importlib.metadata as m, json, helpers, transformers.dependency_versions_table as t; "
        f"print(json.dumps({{'file': helpers.__file__, 'versions': {{n: m.version(n) for n in {AT_LOWEST!r}}}, "
        f"'dist': m.distribution('{project()['name']}').metadata['Name'], 'torch': t.deps['torch']}}))"), empty))
    assert Path(report["file"]).is_relative_to(site), "helpers comes from the fresh environment, not the checkout"
    assert {name: Version(v) for name, v in report["versions"].items()} == {
        name: Version(lowest(deps[name])) for name in AT_LOWEST}
    assert canonicalize_name(report["dist"]) != "helpers"
    torch_needs = SpecifierSet(report["torch"].removeprefix("torch"))
    assert lowest(deps["torch"]) in torch_needs, f"transformers' lowest needs {report['torch']}"

    before = paths_under(site)
    monkeypatch.setenv("JUPYTER_PATH", str(kernels / "share" / "jupyter"))
    env = learner_env(tmp_path / "bytecode") | {"TC_PROFILE": "tiny"}
    assert len(NOTEBOOKS) == 2, "notebooks 03 and 04 found"
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, kernel_name="tc-lowest", timeout=600,
                                resources={"metadata": {"path": str(empty)}})
        client.execute(env=env)  # raises CellExecutionError, naming the cell, when one fails
    ran = time.monotonic()

    assert paths_under(site) == before, f"written into site-packages: {sorted(paths_under(site) - before)[:10]}"
    assert (empty / "cache").is_dir(), "the data cache and the tiny model are in the working folder"
    models = [p.parent for p in empty.rglob("model.safetensors") if (p.parent / "config.json").is_file()]
    trained = [m for m in models if "ForSequenceClassification" in (m / "config.json").read_text()]
    assert trained, f"a trained model under {empty}: found {models}"
    print(f"\ninstall {installed - started:.0f} s, notebooks {ran - installed:.0f} s")
