"""How the package and its tests fit together: `helpers` imports only down its layers (docs/architecture.md), and
test files take what they share from tests/support.py, never from conftest (pytest advises against importing it)."""

from __future__ import annotations

import ast
import re

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


# ---------------------------------------------------------------------------------------------- helpers' layers

ARCHITECTURE = ROOT / "docs" / "architecture.md"


def layer_table(text: str) -> dict[str, tuple[int, str]]:
    """Each module of docs/architecture.md's table: (its layer's number, the layer's name). A row with an empty first
    cell belongs to the layer above it."""
    layers, layer = {}, None
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3 or not cells[1].startswith("`"):
            continue
        if cells[0]:
            number, name = cells[0].split(" ", 1)
            layer = (int(number), f"layer {number} ({name})")
        for module in re.findall(r"`([\w.]+)`", cells[1]):
            layers[module] = layer
    return layers


def helpers_imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(module of helpers, line) for every import of one in `tree`, however written: `from .data import x`,
    `from . import data`, `from helpers.data import x`, `import helpers.data`, inside functions too."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if not node.level:
                if module != "helpers" and not module.startswith("helpers."):
                    continue
                module = module[len("helpers"):].lstrip(".")
            if module:
                found.append((module.split(".")[0], node.lineno))
            else:  # from . import data, split
                found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name.split(".")[1], node.lineno) for alias in node.names
                      if alias.name.startswith("helpers.")]
    return found


def violations(sources: dict[str, str], layers: dict[str, tuple[int, str]]) -> list[str]:
    """One line for each module not in the table and each import of a higher layer's module."""
    found = []
    for module, source in sorted(sources.items()):
        if module not in layers:
            found.append(f"helpers/{module}.py is in no layer of docs/architecture.md: add it to the table")
            continue
        for imported, line in helpers_imports(ast.parse(source)):
            if imported in layers and layers[imported][0] > layers[module][0]:
                found.append(f"helpers/{module}.py:{line} imports {imported}: {module} is in {layers[module][1]}, "
                             f"{imported} in {layers[imported][1]}, higher")
    return found


def package_sources(folder) -> dict[str, str]:
    """Each module of `folder` by its name; the modules of a sub-package (helpers/exercises/) under the package's
    name, joined, so that the package sits in one layer and its relative imports (`from .. import data`) count."""
    sources: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        name = path.relative_to(folder).parts[0].removesuffix(".py")
        sources[name] = sources.get(name, "") + path.read_text(encoding="utf-8") + "\n"
    return sources


def test_helpers_import_only_down_the_layers():
    """Every helpers module is in docs/architecture.md's layer table, and imports only its own or lower layers."""
    layers = layer_table(ARCHITECTURE.read_text(encoding="utf-8"))
    assert layers["settings"][0] == 0 and layers["cli"][0] == max(n for n, _ in layers.values())  # the table is read
    sources = package_sources(ROOT / "helpers")
    assert not violations(sources, layers), "\n".join(["imports against docs/architecture.md:"]
                                                      + violations(sources, layers))


def test_an_import_up_the_layers_is_named():
    """An upward import, top-level or inside a function and however spelt, is reported with file, import and layers;
    a module missing from the table is reported too."""
    layers = layer_table("| layer | module | for |\n| --- | --- | --- |\n| 0 settings | `settings` | x |\n"
                         "| 1 data | `data` | x |\n| | `tiny`, `extra` | x |\n")
    assert layers == {"settings": (0, "layer 0 (settings)"), "data": (1, "layer 1 (data)"),
                      "tiny": (1, "layer 1 (data)"), "extra": (1, "layer 1 (data)")}
    sources = {
        "settings": "import os\n\ndef f():\n    from .data import load_data\n",
        "data": "from .settings import Settings\nfrom . import tiny\nimport helpers.settings\n",
        "tiny": "from helpers.data import read_table\n",
        "extra": "from . import settings\n",
        "stray": "x = 1\n",
    }
    assert violations(sources, layers) == [
        "helpers/settings.py:4 imports data: settings is in layer 0 (settings), data in layer 1 (data), higher",
        "helpers/stray.py is in no layer of docs/architecture.md: add it to the table",
    ]
    assert sorted(helpers_imports(ast.parse(sources["data"]))) == [("settings", 1), ("settings", 3), ("tiny", 2)]


# ---------------------------------------------------------------------------------------------- errors by type

SYSTEM_WORDS = ["not known", "connection refused", "no route to host", "timed out", "no such file",
                "temporary failure in name resolution", "nodename nor servname", "network is unreachable"]


def message_matches(tree: ast.AST) -> list[int]:
    """Lines that look for text inside an error's message: `"..." in str(error)` (or `error.strerror`, `.args`),
    and `str(error).startswith(...)` or `.endswith(...)`."""

    def is_message(node: ast.AST) -> bool:
        return ((isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str")
                or (isinstance(node, ast.Attribute) and node.attr in {"strerror", "args", "reason", "message"}))

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str) \
                    and any(is_message(right) for right in node.comparators):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in {"startswith", "endswith"} and is_message(node.func.value):
            lines.append(node.lineno)
    return lines


def test_no_helper_tells_an_error_by_its_message():
    """Failures are told apart by exception type, errno or HTTP status, never by the words of a message (they are the
    system's, in its language): no helpers module matches message text, nor holds an operating system's phrase."""
    found = []
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        found += [f"{path.name}:{line} matches an error's message" for line in message_matches(ast.parse(source))]
        found += [f"{path.name} holds the system's words {word!r}" for word in SYSTEM_WORDS if word in source.lower()]
    assert not found, found


def test_the_message_scan_sees_a_match():
    """The scan catches the usual spellings of matching a message."""
    source = ('if "Name or service not known" in str(error): pass\n'
              'if "refused" not in error.strerror: pass\n'
              'ok = str(error).startswith("[Errno")\n'
              'fine = "tiny" in settings.model\n')
    assert message_matches(ast.parse(source)) == [1, 2, 3]
