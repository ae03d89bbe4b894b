"""The documentation runs as written: every fenced ```bash block of README.md and docs/*.md, offline on the tiny
profile, in a copy of the project (contract 4 of the project's conventions).

A block that cannot run there carries one tag word after `bash` on its fence line, and is skipped, saying why:
`needs-network`, `needs-gpu`, `needs-real-data` (../shared/data and MiniLM), `needs-postgres`, `needs-windows`, or
`manual` (long-running or interactive: `make run`, a server). Any other tag, two tags, or a shell block fenced with
another word (sh, shell, console) fails. Non-shell examples use other fences (```python, ```text) and are not run.

The blocks run in document order, one file after another, in one working folder for the whole session (a copy of
the project, the virtual environment linked into it, the session's tiny model in its cache), so that a block may
use what an earlier block of its page made, as a reader would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import ROOT, clean_env, closed_port

TAGS = {
    "needs-network": "needs the network (the hub, the dataset URL, PyPI)",
    "needs-gpu": "needs a CUDA GPU",
    "needs-real-data": "needs ../shared/data and MiniLM",
    "needs-postgres": "needs a PostgreSQL server",
    "needs-windows": "needs Windows",
    "manual": "long-running or interactive",
}
SHELLS = {"bash", "sh", "shell", "console", "zsh", "shell-session"}
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,}|~{3,})(?P<info>.*)$")
NOT_COPIED = {".venv", ".git", "results", "cache", "build", "usb", "__pycache__", ".ipynb_checkpoints",
              ".pytest_cache"}


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it starts, its language and tags (the fence line's words), its text."""

    page: Path
    line: int
    language: str
    tags: tuple[str, ...]
    text: str

    def __str__(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, their indentation (a block inside a list item) removed."""
    found, lines, number = [], page.read_text(encoding="utf-8").splitlines(), 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        number += 1
        if not opening:
            continue
        indent, ticks, words = len(opening["indent"]), opening["ticks"], opening["info"].split()
        start, body = number, []
        while number < len(lines) and not re.fullmatch(rf"\s*{re.escape(ticks[0])}{{{len(ticks)},}}\s*", lines[number]):
            body.append(lines[number][indent:] if lines[number][:indent].isspace() else lines[number].lstrip())
            number += 1
        number += 1  # the closing fence
        found.append(Block(page, start, words[0] if words else "", tuple(words[1:]), "\n".join(body) + "\n"))
    return found


BLOCKS = [block for page in PAGES for block in fenced_blocks(page)]
SHELL_BLOCKS = [block for block in BLOCKS if block.language in SHELLS]


def test_the_pages_have_commands():
    """The README's and docs' commands are found (a parser that finds nothing would pass everything)."""
    assert len(SHELL_BLOCKS) >= 10 and any(not block.tags for block in SHELL_BLOCKS)


def problem(block: Block) -> str | None:
    """What is wrong with a shell block's fence line under contract 4, or None."""
    if block.language != "bash":
        return f"{block}: fenced ```{block.language}; shell commands are fenced ```bash (with a tag if they cannot run)"
    if len(block.tags) > 1:
        return f"{block}: tags {' '.join(block.tags)}; give one, the first reason it cannot run offline"
    if block.tags and block.tags[0] not in TAGS:
        return f"{block}: unknown tag {block.tags[0]!r}; use one of {', '.join(TAGS)}"
    return None


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=str)
def test_every_shell_block_is_bash_with_one_known_tag_at_most(block):
    """Each shell block is ```bash, bare (it runs here) or with one tag word from contract 4."""
    assert problem(block) is None, problem(block)


def test_an_unknown_or_second_tag_is_refused(tmp_path):
    """The check itself: a made-up tag, two tags and a ```sh fence are each refused; a known tag is not."""
    page = tmp_path / "page.md"
    page.write_text("```bash needs-coffee\nmake\n```\n\n```bash manual needs-gpu\nmake\n```\n\n```sh\nls\n```\n\n"
                    "   ```bash needs-gpu\n   nvidia-smi\n   ```\n")
    found = fenced_blocks(page)
    assert [block.text for block in found] == ["make\n", "make\n", "ls\n", "nvidia-smi\n"]
    assert [bool(problem(block)) for block in found] == [True, True, True, False]
    assert "unknown tag 'needs-coffee'" in problem(found[0])


@pytest.fixture(scope="session")
def workspace(tmp_path_factory, tiny_cache) -> tuple[Path, dict[str, str]]:
    """A copy of the project with the virtual environment linked in and the session's tiny model in its cache, and
    the environment the blocks run in: offline (the hub a closed port), the tiny profile, a home of its own, and
    one epoch per training unless a block says otherwise (a variable: any flag a block gives beats it), since the
    test checks that each command works, not what it learns."""
    folder = tmp_path_factory.mktemp("docs") / "project"
    shutil.copytree(ROOT, folder, ignore=lambda _, names: [name for name in names if name in NOT_COPIED])
    (folder / ".venv").symlink_to(ROOT / ".venv")
    shutil.copytree(tiny_cache / "tiny-distilbert", folder / "cache" / "tiny-distilbert")
    home = folder.parent / "home"
    home.mkdir()
    env = clean_env() | {
        "TC_PROFILE": "tiny", "TC_EPOCHS": "1",
        "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        "HOME": str(home), "HF_HOME": str(home / "hf"), "MPLCONFIGDIR": str(home / "mpl"),
        "PIP_NO_INDEX": "1", "NO_PROXY": "*",
    }
    env.pop("VIRTUAL_ENV", None)
    return folder, env


@pytest.mark.slow
@pytest.mark.parametrize("block", [block for block in SHELL_BLOCKS if block.language == "bash"], ids=str)
def test_the_block_runs_as_written(block, workspace):
    """A bare ```bash block exits 0 run by bash (-e, -u, pipefail) in the project's copy; a tagged one says why not."""
    assert problem(block) is None, problem(block)
    if block.tags:
        pytest.skip(f"{block.tags[0]}: {TAGS[block.tags[0]]}")
    folder, env = workspace
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"{block} failed ({done.returncode}):\n{block.text}\n{done.stdout[-2000:]}\n" \
                                 f"{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
