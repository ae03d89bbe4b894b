"""How the package and its tests fit together: `helpers` imports only down its layers (docs/architecture.md), and
test files take what they share from tests/support.py, never from conftest (pytest advises against importing it)."""

from __future__ import annotations

import ast

from support import ROOT


def imported_modules(tree: ast.AST) -> set[str]:
    """The top-level names of every module an `import` or `from ... import` in `tree` names."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_imports_conftest():
    """Every test file takes shared code from `support`; conftest.py is for pytest's fixtures and hooks only."""
    files = sorted((ROOT / "tests").rglob("*.py"))
    assert ROOT / "tests" / "support.py" in files  # precondition: the scan sees the tests folder
    offenders = [str(path.relative_to(ROOT)) for path in files
                 if "conftest" in imported_modules(ast.parse(path.read_text(encoding="utf-8")))]
    assert not offenders, f"import tests/support.py, not conftest, in: {offenders}"


def test_the_scan_finds_an_import_of_conftest():
    """The scan above catches both spellings, at the top of a file or inside a function."""
    source = "import os\ndef f():\n    from conftest import ROOT\n"
    assert "conftest" in imported_modules(ast.parse(source))
    assert "conftest" in imported_modules(ast.parse("import conftest as c"))
    assert "conftest" not in imported_modules(ast.parse("from support import ROOT"))
