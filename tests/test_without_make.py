"""The plain commands of docs/without_make.md (a laptop without make, Windows included) are the Makefile's install,
run and test steps: the same programs of the virtual environment, with the same arguments, and nothing else."""

from __future__ import annotations

import re

from support import ROOT

STEPS = ("install", "run", "test")  # the Makefile targets the plain commands stand for
PAGE = ROOT / "docs" / "without_make.md"
QUIET = {"--quiet", "--disable-pip-version-check"}  # flags that change only what pip prints


def makefile_recipes() -> dict[str, list[str]]:
    """Each Makefile target's recipe, one command a line (continued lines joined), variables expanded."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    variables = dict(re.findall(r"^([A-Z]+) :?= (.+)$", text, re.M))
    recipes: dict[str, list[str]] = {}
    target = None
    for line in text.splitlines():
        if match := re.match(r"^([a-z$()./-]+):", line):
            target = match[1]
        elif line.startswith("\t") and target:
            for _ in range(3):  # nested variables: $(BIN) is $(VENV)/bin
                line = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m[1], m[0]), line)
            recipes.setdefault(target, []).append(line.strip().replace("$$", "$"))
    return recipes


def invocations(commands: str) -> set[str]:
    """The environment's programs the commands start (`.venv/bin/python -m ...`, `.venv/bin/jupyter ...`), each
    cut before its first word that is a shell variable or a quoted path (a loop's notebook), quiet flags dropped."""
    found = set()
    for part in re.split(r"&&|\|\||;|\n|\bdo\b|\{", commands):
        words = part.split()
        while words and re.fullmatch(r"\w+=\S*", words[0]):  # a variable set for the command: TC_PROFILE=tiny
            words.pop(0)
        if not words or not words[0].startswith(".venv/bin/"):
            continue
        kept = []
        for arg in words:
            if "$" in arg or arg.startswith('"'):
                break
            if arg not in QUIET:
                kept.append(arg)
        found.add(" ".join(kept))
    return found


def page_block(fence: str) -> str:
    """The code block of docs/without_make.md fenced with `fence`."""
    blocks = re.findall(rf"^```{re.escape(fence)}\n(.*?)^```$", PAGE.read_text(), re.M | re.S)
    assert len(blocks) == 1, f"one ```{fence} block in {PAGE.name}"
    return blocks[0]


def windows_as_posix(block: str) -> str:
    """A PowerShell block with the venv's programs and paths written as on Linux, to compare with the Makefile."""
    return block.replace("\\", "/").replace(".venv/Scripts/", ".venv/bin/")


def test_the_makefile_is_parsed():
    """The parser finds the steps' commands (else the comparisons below would compare nothing)."""
    recipes = makefile_recipes()
    wanted = {"-m pip install", "docs/site/record.py build/run.json", "nbconvert --to notebook --execute",
              "sphinx-build -q -b html docs/site build", "-m pytest"}
    made = " ".join(" ".join(recipes[step]) for step in STEPS)
    assert all(word in made for word in wanted), recipes


def test_plain_commands_start_the_makefiles_programs():
    """On Linux/macOS and on Windows, the plain commands start exactly the programs, with the arguments, that
    make install, make run and make test start."""
    recipes = makefile_recipes()
    make = set().union(*(invocations("\n".join(recipes[step])) for step in STEPS))
    assert len(make) == 5, make
    assert invocations(page_block("bash manual")) == make
    assert invocations(windows_as_posix(page_block("powershell"))) == make


def test_plain_commands_make_the_same_environment_and_settings():
    """The venv is made in .venv, the notebooks are the Makefile's (every numbered one), and the tests run on the
    tiny profile, as in the Makefile."""
    recipes = makefile_recipes()
    make = "\n".join(line for step in STEPS for line in recipes[step])
    notebooks = re.search(r"^NOTEBOOKS := \$\(sort \$\(wildcard (\S+)\)\)$", (ROOT / "Makefile").read_text(), re.M)[1]
    bash, windows = page_block("bash manual"), page_block("powershell")
    assert "-m venv .venv" in make and "python3 -m venv .venv" in bash and "py -m venv .venv" in windows
    assert "mkdir -p build" in make and "mkdir -p build" in bash and "mkdir build" in windows
    assert notebooks in bash and notebooks in windows_as_posix(windows)
    assert "TC_PROFILE=tiny OMP_NUM_THREADS=1 " in re.search(r"^.*-m pytest.*$", make, re.M)[0]
    assert "TC_PROFILE=tiny OMP_NUM_THREADS=1 .venv/bin/python -m pytest" in bash
    assert '$env:TC_PROFILE = "tiny"; $env:OMP_NUM_THREADS = "1"; .venv\\Scripts\\python -m pytest' in windows


def test_make_site_is_make_runs_last_step():
    """`make site` builds the site exactly as `make run` ends (the plain commands' last step before the tests), so a
    site rebuilt from build/ is the one `make run` made, with nothing executed."""
    recipes = makefile_recipes()
    assert recipes["site"] == recipes["run"][-1:]
    assert "sphinx-build" in recipes["site"][0] and "nbconvert" not in " ".join(recipes["site"])
