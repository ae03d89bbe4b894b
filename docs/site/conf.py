"""The course as a website: Sphinx with myst-nb and sphinx-book-theme, from the notebooks `make run` executed.

`make site` (or `.venv/bin/sphinx-build -b html site build`) writes it into build/, build/index.html its entry page.
Why this builder, and how to hand the site to a class: docs/teaching.md, "The course as a website".

Before Sphinx reads anything, `stage` copies the sources into this folder (notebooks/, docs/: copies, rebuilt on
every build and ignored by git; edit the originals): each executed notebook build/NN_name.ipynb, the worked
solutions and figures of notebooks/, and docs/*.md. Nothing is executed (myst-nb's execution is off): the pages
show the outputs as `make run` produced them, and build/run.json (docs/site/record.py) says on each notebook page which
profile and which machine produced them. Nothing is fetched either: the theme's files come with its wheel, and the
search (Sphinx's own, its index a script beside the pages) works from the folder (file://) as well as served.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

from sphinx.application import Sphinx

HERE = Path(__file__).resolve().parent
STAGED = ("notebooks", "docs")  # the folders `stage` makes here, as the repository lays them out (links keep working)

project = "Fine-tune a transformer to spot sarcastic headlines"
author = ""  # no byline in the footer
extensions = ["myst_nb", "sphinx.ext.githubpages"]  # githubpages: an empty .nojekyll, for GitHub Pages
exclude_patterns = ["**/.ipynb_checkpoints"]
nb_execution_mode = "off"  # the builder never runs a notebook: `make run` did
nb_merge_streams = True
myst_heading_anchors = 3  # docs link to headings, e.g. teaching.md#a-class-sweep
html_theme = "sphinx_book_theme"
html_title = project
html_last_updated_fmt = None
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_prev_next": True,
}


def stage(app: Sphinx) -> None:
    """Copy the executed notebooks, the solutions, the figures and the docs pages here, as laid out in the repository."""
    root, build = Path(app.config.course_root), Path(app.config.course_build)
    executed = sorted(build.glob("[0-9]*.ipynb"))
    if not executed:
        sys.exit(f"error: no executed notebooks (NN_name.ipynb) in {build}; run `make run` first, then `make site`")
    for name in STAGED:
        shutil.rmtree(Path(app.srcdir) / name, ignore_errors=True)
    for folder in ("solutions", "figures"):  # a copy handed out without its solutions builds without them
        if (root / "notebooks" / folder).is_dir():
            shutil.copytree(root / "notebooks" / folder, Path(app.srcdir) / "notebooks" / folder,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (Path(app.srcdir) / "notebooks").mkdir(exist_ok=True)
    for notebook in executed:  # copy2 keeps the times: an unchanged notebook is not read again
        shutil.copy2(notebook, Path(app.srcdir) / "notebooks" / notebook.name)
    (Path(app.srcdir) / "docs").mkdir()
    for page in sorted((root / "docs").glob("*.md")):  # the pages only: this site's own folder sits in docs/ too
        shutil.copy2(page, Path(app.srcdir) / "docs" / page.name)


def link_solutions(app: Sphinx, docname: str, source: list[str]) -> None:
    """A notebook's exercises name its worked solutions, `notebooks/solutions/NN_name_solutions.ipynb`: make it a link."""
    if docname.startswith("notebooks/") and not docname.startswith("notebooks/solutions/"):
        solutions = Path(app.srcdir) / "notebooks" / "solutions"
        source[0] = re.sub(r"(?<!\[)`notebooks/solutions/([\w-]+\.ipynb)`",
                           lambda m: f"[{m[0]}](solutions/{m[1]})" if (solutions / m[1]).is_file() else m[0], source[0])


def run_record(app: Sphinx) -> str:
    """build/run.json in words: the profile and the machine that produced the outputs, or that none was recorded."""
    path = Path(app.config.course_build) / "run.json"
    if not path.is_file():
        return "No record of the run that produced these outputs (build/run.json: `make run` writes it)."
    run = json.loads(path.read_text(encoding="utf-8"))
    bf16 = "computes bfloat16 natively" if run.get("cpu_bf16") else "no native bfloat16"
    return (f"Outputs as make run produced them: the <b>{run['profile']}</b> profile, on {run['device']}"
            f" (CPU: {run['cpu']}, {bf16}), torch {run['torch']}.")


def show_record(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Each executed notebook's page opens with the run's record (the theme's announcement bar)."""
    if pagename.startswith("notebooks/") and not pagename.startswith("notebooks/solutions/"):
        context["theme_announcement"] = run_record(app)
    elif pagename.startswith("notebooks/solutions/"):
        context["theme_announcement"] = "A worked solution, as written: not executed for this site."


def outputs_in_doctrees(app: Sphinx) -> None:
    """myst-nb writes the outputs' files (plots) into jupyter_execute/ beside the build folder (the repository's
    root for build/): keep them with Sphinx's other intermediate files, in build/.doctrees/."""
    app.env.mystnb_config = app.env.mystnb_config.copy(output_folder=str(Path(app.doctreedir) / "jupyter_execute"))


def setup(app: Sphinx) -> dict:
    """Where the repository and the executed notebooks are (`-D course_build=DIR` for another run), and the hooks."""
    app.add_config_value("course_root", str(HERE.parent.parent), "env")
    app.add_config_value("course_build", str(HERE.parent.parent / "build"), "env")
    app.connect("builder-inited", stage)
    app.connect("builder-inited", outputs_in_doctrees, priority=900)  # after myst-nb's own (500) set its folder
    app.connect("source-read", link_solutions)
    app.connect("html-page-context", show_record)
    return {"parallel_read_safe": True}
