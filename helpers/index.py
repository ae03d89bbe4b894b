"""`build/index.html`: the notebooks `make run` executed, linked in order, one line each, to read in a browser.

Introduced in the README (`make run`): `python -m helpers index build` writes it after the notebooks ran.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from .settings import UserError

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
<p>Each notebook as it ran with <code>make run</code>, in order.</p>
<ul>
{items}
</ul>
</body>
</html>
"""
TITLE = "Fine-tune a transformer to spot sarcastic headlines"


def title(notebook: Path) -> str:
    """The first markdown heading of a notebook, without its #s; the file's name when it has none."""
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for line in source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return notebook.stem


def inline(text: str) -> str:
    """Markdown text as HTML: escaped, with `code` spans kept as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def write_index(folder: Path) -> Path:
    """Write `folder`/index.html linking each executed notebook's HTML page (NAME.ipynb beside NAME.html), by name."""
    pages = [notebook for notebook in sorted(Path(folder).glob("*.ipynb")) if notebook.with_suffix(".html").is_file()]
    if not pages:
        raise UserError(f"no executed notebooks (NAME.ipynb with NAME.html) in {folder}; run `make run` first")
    items = "\n".join(f'<li><a href="{html.escape(page.with_suffix(".html").name)}">{inline(title(page))}</a></li>'
                      for page in pages)
    path = Path(folder) / "index.html"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(PAGE.format(title=html.escape(TITLE), items=items), encoding="utf-8")
    tmp.replace(path)
    return path
