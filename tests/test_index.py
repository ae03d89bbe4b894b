"""`make run`'s build/index.html: every executed notebook linked, in order, under its first heading."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support import one_line_error, run_cli


def notebook(folder: Path, name: str, *sources: str, html: bool = True) -> None:
    """An executed notebook NAME.ipynb with markdown cells `sources` (and a code cell), and its NAME.html."""
    cells = [{"cell_type": "code", "source": ["print(1)"], "metadata": {}, "outputs": []}]
    cells += [{"cell_type": "markdown", "source": source.splitlines(keepends=True), "metadata": {}}
              for source in sources]
    (folder / f"{name}.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5}))
    if html:
        (folder / f"{name}.html").write_text("<html></html>")


@pytest.mark.slow
def test_index_links_each_executed_notebook_in_order(tmp_path):
    """One link a notebook, by file name, titled by its first heading; a notebook without HTML is left out."""
    notebook(tmp_path, "04_finetune", "Some words first.\n\n# 4. Fine-tune with `transformers.Trainer`\n\n## Later")
    notebook(tmp_path, "00_setup", "# 0. Setup check <& friends>")
    notebook(tmp_path, "02_split", "## 2. Split", "# not this one")
    notebook(tmp_path, "03_tokenize", "# 3. Tokenize", html=False)  # its run failed half way
    done = run_cli("index", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "index.html")
    page = (tmp_path / "index.html").read_text()
    links = re.findall(r'<li><a href="([^"]+)">(.*)</a></li>', page)
    assert links == [("00_setup.html", "0. Setup check &lt;&amp; friends&gt;"), ("02_split.html", "2. Split"),
                     ("04_finetune.html", "4. Fine-tune with <code>transformers.Trainer</code>")]
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
def test_index_of_an_empty_folder_is_one_line(tmp_path):
    """Nothing executed yet: one error line saying to run `make run`, and no page."""
    done = run_cli("index", str(tmp_path))
    assert done.returncode == 1
    one_line_error(done.stderr)
    assert "make run" in done.stderr and not (tmp_path / "index.html").exists()
