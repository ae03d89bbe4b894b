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
from packaging.version import Version

from support import ROOT


def declared() -> dict[str, Requirement]:
    """pyproject.toml's runtime dependencies by canonical name."""
    return {canonicalize_name(r.name): r for r in map(Requirement, project()["dependencies"])}


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


def project() -> dict:
    """pyproject.toml's [project] table."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lowest(requirement: Requirement) -> str:
    """The lowest version a requirement allows: its `>=` bound."""
    bounds = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    assert len(bounds) == 1, f"{requirement} has no single >= bound"
    return bounds[0]


def test_the_distribution_has_its_own_name():
    """The distribution is not named "helpers" (another project's name on PyPI: `pip install -U helpers` would swap
    this package for a stranger's), while the import name stays helpers, as the notebooks write it."""
    name = canonicalize_name(project()["name"])
    assert name != "helpers" and "helpers" not in name.split("-")
    layout = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "helpers" in layout["packages"] and all(p.split(".")[0] == "helpers" for p in layout["packages"])


def test_every_dependency_has_a_lower_bound_the_pins_meet():
    """Every runtime dependency names the lowest version the code needs; the pinned version is at or above it."""
    deps, pins = declared(), pinned()
    for name, requirement in deps.items():
        floor = Version(lowest(requirement))
        assert floor in requirement.specifier, f"{requirement}: its lower bound is not allowed"
        if name in pins:
            assert Version(pins[name]) >= floor


def test_ranges_leave_torch_to_the_platform_and_hold_the_pins():
    """torch is only bounded below (any newer platform torch is kept); every pinned version in requirements.txt lies
    in its declared range; the other libraries stop before their next major version."""
    deps, pins = declared(), pinned()
    assert {spec.operator for spec in deps["torch"].specifier} == {">="}
    for name in ("transformers", "tokenizers", "accelerate"):
        major = Version(lowest(deps[name])).major
        assert f"{major + 1}.0.0" not in deps[name].specifier and f"{major}.99" in deps[name].specifier, name
    both = set(deps) & set(pins)
    assert {"torch", "transformers", "accelerate", "pandas", "scikit-learn"} <= both
    outside = {name: (pins[name], str(deps[name].specifier)) for name in both if pins[name] not in deps[name].specifier}
    assert not outside
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()


def test_the_site_builder_is_pinned_for_make_only():
    """The site's builder (make run, make site: Sphinx, myst-nb and the book theme) is pinned in requirements.txt and
    is no dependency of the package: `pip install` on Colab or a laptop does not pull a documentation toolchain."""
    builder = {"sphinx", "myst-nb", "myst-parser", "sphinx-book-theme", "pydata-sphinx-theme"}
    assert builder <= set(pinned())
    assert not builder & set(declared())
    extras = {canonicalize_name(Requirement(r).name) for group in project().get("optional-dependencies", {}).values()
              for r in group}
    assert not builder & extras


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
    names = [canonicalize_name(item["metadata"]["name"]) for item in install]
    assert names == [canonicalize_name(project()["name"])]  # torch and every dependency stay as they are
    requires = {canonicalize_name(Requirement(r).name) for r in install[0]["metadata"]["requires_dist"]
                if "extra ==" not in r}  # an optional extra's (`class`) are not installed by default
    assert requires == set(declared())
