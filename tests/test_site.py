"""The course as a website (docs/site/conf.py: Sphinx, myst-nb, sphinx-book-theme), built as `make site` builds it and
read in headless Chromium from the folder (file://), as a learner with the USB stick would.

The site is built once for the module from the repository's notebooks standing in for `make run`'s executed ones
(the builder executes nothing, so no notebook runs here), with an output that no run would produce put into
notebook 04: seeing it on the page shows the site keeps the outputs as they are and executes nothing again.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from postgres import CHROMIUM, missing
from support import ROOT, clean_env, one_line_error

pytestmark = pytest.mark.slow  # starts Sphinx and Chromium
NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9]*.ipynb"))  # the order is the file names'
MARK = "an output kept as it ran: the site executes nothing"  # what no notebook's code prints
TERMS = ("DataCollatorWithPadding", "TrainingArguments", "LoraConfig")  # API names the search must find


def with_fixture_output(notebook: dict) -> dict:
    """The notebook with its first code cell's outputs replaced by a printed line and a PNG (a plot, as it ran)."""
    png = base64.b64encode((ROOT / "notebooks" / "figures" / "bench.png").read_bytes()).decode()
    cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": [MARK + "\n"]},
                       {"output_type": "display_data", "metadata": {}, "data": {"image/png": png}}]
    return notebook


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built into a temporary build/ from the notebooks, the run's record (tiny profile) and site/'s config."""
    work = tmp_path_factory.mktemp("site")
    build, config = work / "build", work / "site"
    build.mkdir()
    for name in NOTEBOOKS:
        notebook = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
        if name.startswith("04_"):
            notebook = with_fixture_output(notebook)
        (build / name).write_text(json.dumps(notebook), encoding="utf-8")
    env = {**clean_env(), "TC_PROFILE": "tiny"}
    subprocess.run([sys.executable, str(ROOT / "docs" / "site" / "record.py"), str(build / "run.json")], env=env, check=True,
                   timeout=300)
    done = build_site(build, config)
    assert done.returncode == 0, done.stderr[-3000:]  # -W: a warning (a broken cross-reference) fails the build
    return build


def build_site(build: Path, config: Path) -> subprocess.CompletedProcess:
    """`make site` on the notebooks in `build`, with a copy of site/ (its config) at `config`: Sphinx, warnings fatal."""
    shutil.copytree(ROOT / "docs" / "site", config, ignore=shutil.ignore_patterns("notebooks", "docs", "__pycache__"))
    return subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going", "-b", "html",
                           "-D", f"course_root={ROOT}", "-D", f"course_build={build}", str(config), str(build)],
                          env={**clean_env(), "TC_PROFILE": "tiny"}, capture_output=True, text=True, timeout=600)


def test_a_site_before_make_run_is_one_line(tmp_path):
    """`make site` with no executed notebook in build/ ends in one error line saying to run `make run`; no page."""
    (tmp_path / "build").mkdir()
    done = build_site(tmp_path / "build", tmp_path / "site")
    assert done.returncode == 1
    assert "make run" in one_line_error(done.stderr)
    assert not (tmp_path / "build" / "index.html").exists()


def chromium(url: str, tmp_path: Path, *action: str) -> str:
    """What headless Chromium makes of `url` once its scripts ran: the DOM, or with `action` (--screenshot) its log."""
    if CHROMIUM is None:
        missing("Chromium (a headless browser)", "chromium")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=10000"]
    page = subprocess.run([CHROMIUM, *flags, *(action or ["--dump-dom"]), url], capture_output=True, text=True,
                          timeout=120)
    assert page.returncode == 0, page.stderr[-2000:]
    return page.stdout


class Links(HTMLParser):
    """The href and src of a page's elements, and the ids it defines."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, dict]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        for name in ("href", "src"):
            if found.get(name) is not None:
                self.links.append((tag, found[name], found))


def parsed(text: str) -> Links:
    """The links and ids of an HTML text."""
    links = Links()
    links.feed(text)
    return links


def hrefs(dom: str, css_class: str | None = None) -> list[str]:
    """The href of each <a> in `dom` (with `css_class` among its classes, when given), in document order."""
    return [href for tag, href, attrs in parsed(dom).links
            if tag == "a" and (css_class is None or css_class in (attrs.get("class") or "").split())]


def page(name: str) -> str:
    """The site's page of notebook `name` (04_finetune.ipynb), relative to build/."""
    return f"notebooks/{Path(name).stem}.html"


def test_the_entry_page_links_every_notebook_page_in_order(site, tmp_path):
    """build/index.html, rendered in Chromium, links each notebook's page, in the order of the notebooks' names, and
    each docs page; the build leaves .nojekyll for GitHub Pages (docs/teaching.md)."""
    assert (site / ".nojekyll").is_file()
    links = hrefs(chromium((site / "index.html").as_uri(), tmp_path))
    wanted = [page(name) for name in NOTEBOOKS]
    firsts = [link for link in dict.fromkeys(links) if link in wanted]  # each page's first link, in page order
    assert firsts == wanted, links
    assert {link for link in links if link.startswith("docs/")} == {f"docs/{path.stem}.html"
                                                                     for path in (ROOT / "docs").glob("*.md")}


def test_each_notebook_page_links_the_next_and_the_previous(site):
    """Each notebook's page links the next notebook (and back to the previous one) in the HTML Sphinx wrote: the
    theme draws these links without scripts, so the file is the page (Chromium renders the entry page above)."""
    for before, name, after in zip([None, *NOTEBOOKS], NOTEBOOKS, [*NOTEBOOKS[1:], None]):
        dom = (site / page(name)).read_text()
        if after:
            assert hrefs(dom, "right-next") == [Path(page(after)).name], name
        if before:
            assert hrefs(dom, "left-prev") == [Path(page(before)).name], name


def holding(site: Path, term: str) -> set[str]:
    """The notebook and docs pages whose source holds `term` (outside links' addresses)."""
    sources = [*(site / name for name in NOTEBOOKS), *(ROOT / "docs").glob("*.md"),
               *(ROOT / "notebooks" / "solutions").glob("*.ipynb")]
    pages = set()
    for source in sources:
        text = re.sub(r"\]\([^)]*\)", "]", source.read_text(encoding="utf-8"))
        if term in text:
            folder = "docs" if source.suffix == ".md" else \
                "notebooks/solutions" if source.parent.name == "solutions" else "notebooks"
            pages.add(f"{folder}/{source.stem}.html")
    return pages


@pytest.mark.parametrize("term", TERMS)
def test_the_offline_search_finds_the_api_names(site, tmp_path, term):
    """Sphinx's search, opened from the folder in Chromium, lists exactly the pages that hold the name, and finds
    each (LoraConfig: notebook 09)."""
    dom = chromium((site / "search.html").as_uri() + f"?q={term}", tmp_path)
    assert 'id="search-results"' in dom, dom[-2000:]
    listed = set(re.findall(r'<li class="kind-\w+"><a href="([^"#?]+)', dom))  # one item per page, or per heading
    assert listed == holding(site, term)
    assert listed, f"the search found no page for {term}"


def test_no_page_has_a_broken_internal_link(site):
    """Every relative href and src of every page names a file of the site, and its #anchor an id on that page; the
    pages load no script or style from the network (the site works offline)."""
    pages = {path: parsed(path.read_text(encoding="utf-8")) for path in site.rglob("*.html")
             if "_static" not in path.relative_to(site).parts}  # _static: the theme's template macros, no page
    broken, remote = [], []
    for path, links in pages.items():
        for tag, link, attrs in links.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                if tag in ("script", "link", "img") and parts.scheme in ("http", "https"):
                    remote.append((path.name, link))
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append((str(path.relative_to(site)), link))
            elif parts.fragment and target.suffix == ".html" and target in pages \
                    and unquote(parts.fragment) not in pages[target].ids:
                broken.append((str(path.relative_to(site)), link))
    assert len(pages) >= len(NOTEBOOKS) + 2
    assert not broken, broken[:20]
    assert not remote, remote[:20]


def test_notebook_pages_show_their_run_and_their_outputs(site):
    """Each notebook's page says which profile and which machine produced its outputs (build/run.json); notebook
    04's page shows the fixture's printed line and plot as they were (nothing executed); each notebook's exercises
    link its worked solutions."""
    run = json.loads((site / "run.json").read_text())
    assert run["profile"] == "tiny"
    for name in NOTEBOOKS:
        text = (site / page(name)).read_text(encoding="utf-8")
        banner = re.search(r'bd-header-announcement__content">(.*?)</div>', text, re.S)[1]
        assert f"<b>{run['profile']}</b> profile" in banner and run["device"] in banner and run["torch"] in banner
        solutions = ROOT / "notebooks" / "solutions" / f"{Path(name).stem}_solutions.ipynb"
        if solutions.is_file():
            assert f'href="solutions/{solutions.stem}.html"' in text.split('id="exercises"', 1)[-1], name
    finetune = (site / page(next(name for name in NOTEBOOKS if name.startswith("04_")))).read_text(encoding="utf-8")
    assert MARK in finetune and re.search(r'<img[^>]+src="\.\./_images/[^"]+\.png"', finetune)
    assert sorted(path.name for path in site.parent.iterdir()) == ["build", "site"]  # nothing written beside build/


def test_a_screenshot_of_a_notebook_page(site, tmp_path):
    """Chromium draws notebook 03's page into a PNG, kept beside the built site as the test's artifact."""
    shot = site / "screenshot-03_tokenize.png"
    chromium((site / page(NOTEBOOKS[3])).as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1280,1600",
             "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")
