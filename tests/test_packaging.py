"""`pip install` of the project anywhere: pyproject.toml declares what helpers imports, as ranges an installed torch
(Colab's, Kaggle's, a laptop's) already satisfies; requirements.txt pins versions inside those ranges."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT


def declared() -> dict[str, Requirement]:
    """pyproject.toml's runtime dependencies by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def pinned() -> dict[str, str]:
    """requirements.txt's `name==version` lines by canonical name."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pins = [re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip()) for line in lines]
    return {canonicalize_name(m[1]): m[2] for m in pins if m}


def imported_packages() -> set[str]:
    """The top-level names of every non-standard module any helpers/*.py imports (inside functions too)."""
    names = set()
    for path in (ROOT / "helpers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "helpers"}


def test_every_import_is_a_declared_dependency():
    """Each third-party module helpers imports comes from a distribution pyproject.toml declares."""
    owners = importlib.metadata.packages_distributions()
    imports = imported_packages()
    assert {"torch", "transformers", "sklearn", "huggingface_hub"} <= imports  # the scan sees the imports
    undeclared = {name: owners.get(name) for name in imports
                  if not {canonicalize_name(d) for d in owners.get(name, [])} & set(declared())}
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


def test_ranges_leave_torch_to_the_platform_and_hold_the_pins():
    """torch is only bounded below; every pinned version in requirements.txt lies in its declared range."""
    deps, pins = declared(), pinned()
    assert str(deps["torch"].specifier) == ">=2.1"
    assert "2.1.0" in deps["torch"].specifier and "2.13.0" in deps["torch"].specifier
    assert "5.0.0" in deps["transformers"].specifier and "6.0.0" not in deps["transformers"].specifier
    both = set(deps) & set(pins)
    assert {"torch", "transformers", "accelerate", "pandas", "scikit-learn"} <= both
    outside = {name: (pins[name], str(deps[name].specifier)) for name in both if pins[name] not in deps[name].specifier}
    assert not outside
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()


@pytest.mark.slow
def test_pip_install_keeps_the_installed_torch(tmp_path):
    """`pip install -e .` where torch and the rest are installed installs the project alone (a dry run, no index)."""
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--report", str(report), "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", "--quiet", "-e", str(ROOT)],
        check=True, capture_output=True, text=True, timeout=120,
    )
    install = json.loads(report.read_text())["install"]
    assert [item["metadata"]["name"] for item in install] == ["helpers"]  # torch and every dependency stay as they are
    requires = {canonicalize_name(Requirement(r).name) for r in install[0]["metadata"]["requires_dist"]
                if "extra ==" not in r}  # an optional extra's (`class`) are not installed by default
    assert requires == set(declared())
