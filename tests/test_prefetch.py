"""`python -m helpers prefetch`, then offline: a loopback server stands in for the dataset URL and the model hub.

The fake hub answers the few requests huggingface_hub's `snapshot_download` makes (repository info, file tree,
HEAD and GET of each file) with the tiny model's files, as if it were a hub model. Afterwards, with the server
stopped and HF_HUB_OFFLINE=1, the auto profile must still take the cached data and model, and train on them.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import reach
from helpers import prefetch
from helpers.settings import SAMPLE_DATA, UserError

from support import ROOT, clean_env, one_line_error, refused

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "teacher/tiny-hub"


class FakeHub(http.server.BaseHTTPRequestHandler):
    """Serves `files` (URL path or hub file -> bytes) as a data host and a model hub with one repository."""

    files: dict[str, bytes] = {}
    missing: set[str] = set()  # files listed in the tree but answered with 404

    def log_message(self, *args):  # quiet
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None, send_body: bool = True):
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def answer(self, send_body: bool):
        path = self.path.split("?")[0]
        api = f"/api/models/{REPO}/"
        if path.startswith(api + "revision/"):
            return self.reply(200, json.dumps({"id": REPO, "sha": COMMIT}).encode())
        if path.startswith(api + "tree/"):
            tree = [{"type": "file", "path": name, "size": len(body), "oid": hashlib.sha1(body).hexdigest()}
                    for name, body in self.files.items() if not name.startswith("/")]
            return self.reply(200, json.dumps(tree).encode(), {"Content-Type": "application/json"})
        prefix = f"/{REPO}/resolve/"
        if path.startswith(prefix):
            name = path[len(prefix):].split("/", 1)[1]
            if name in self.files and name not in self.missing:
                body = self.files[name]
                etag = f'"{hashlib.sha256(body).hexdigest()}"'
                return self.reply(200, body, {"X-Repo-Commit": COMMIT, "ETag": etag}, send_body)
            return self.reply(404, b"", {"X-Repo-Commit": COMMIT, "X-Error-Code": "EntryNotFound"}, send_body)
        if path in self.files:  # the data file
            return self.reply(200, self.files[path], send_body=send_body)
        return self.reply(404, send_body=send_body)

    def do_GET(self):
        self.answer(send_body=True)

    def do_HEAD(self):
        self.answer(send_body=False)


@contextmanager
def serving(files: dict[str, bytes], missing: set[str] = frozenset(), lifetime: float = 120):
    """A FakeHub on 127.0.0.1 for the block (and never longer than `lifetime` seconds); its base URL."""
    handler = type("Hub", (FakeHub,), {"files": files, "missing": set(missing)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    deadline = threading.Timer(lifetime, server.shutdown)
    deadline.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join()


def hub_files(model: Path) -> dict[str, bytes]:
    """The tiny model's files as a hub repository, and the sample headlines as the data file."""
    files = {path.name: path.read_bytes() for path in model.iterdir() if path.is_file()}
    return files | {"/data/sarcasm.json": SAMPLE_DATA.read_bytes()}


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python ARGS` from the project root with `env` on top of the clean test environment."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean_env() | env, capture_output=True, text=True,
                          timeout=timeout)


def classroom(tmp_path: Path, url: str) -> dict[str, str]:
    """The settings and Hugging Face folders of one machine: data from `url`, the hub model, fresh caches."""
    return {"TC_DATA": f"{url}/data/sarcasm.json", "TC_MODEL": REPO, "TC_CACHE_DIR": str(tmp_path / "cache"),
            "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": url, "HF_HUB_DISABLE_TELEMETRY": "1"}


@pytest.mark.slow
def test_prefetch_then_train_offline(tmp_path, tiny_model):
    """Prefetch brings data and model into the caches; offline, auto takes them (not tiny) and trains on them."""
    with serving(hub_files(tiny_model)) as url:
        env = classroom(tmp_path, url)
        fetched = run(["-m", "helpers", "prefetch"], env)
    assert fetched.returncode == 0, fetched.stderr
    lines = fetched.stdout.splitlines()
    assert lines[0].startswith(f"data: {url}/data/sarcasm.json fetched in {tmp_path / 'cache' / 'sarcasm.json'} (")
    assert lines[1].startswith(f"model: {REPO} is in the Hugging Face cache") and lines[1].endswith(" KB)")
    assert "profile quick" in lines[-1]
    assert (tmp_path / "cache" / "sarcasm.json").read_bytes() == SAMPLE_DATA.read_bytes()
    snapshot = tmp_path / "hf" / "hub" / "models--teacher--tiny-hub" / "snapshots" / COMMIT
    assert {"config.json", "model.safetensors"} <= {path.name for path in snapshot.iterdir()}
    assert not list((tmp_path / "hf").rglob("*.incomplete"))

    offline = env | {"HF_HUB_OFFLINE": "1"}  # the server is gone too: any request would fail
    check = "import helpers; s = helpers.get_settings(); print(s.profile, s.model, s.data)"
    chosen = run(["-c", check], offline)
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.splitlines() == [f"quick {REPO} {url}/data/sarcasm.json"]  # no fallback line either
    trained = run(["-m", "helpers", "train", "--output-dir", str(tmp_path / "out")], offline | {"TC_TEST_ROWS": "40"})
    assert trained.returncode == 0, trained.stderr
    assert "!!!" not in trained.stdout and "device: CPU" in trained.stdout
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    # the 300 served rows, not the tiny profile's: 225 train rows, a tenth of them for validation; 40 of 75 test rows
    assert metrics["train_rows"] == 202 and metrics["validation_rows"] == 23 and metrics["test_rows"] == 40
    saved = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert saved["dim"] == 32 and saved["id2label"] == {"0": "not sarcastic", "1": "sarcastic"}

    # HF_HUB_OFFLINE forgotten: the hub's address refuses (the server is gone), and the cached model loads at once,
    # without huggingface_hub's retries
    forgot = run(["-m", "helpers", "train", "--output-dir", str(tmp_path / "out2"), "--max-steps", "2"],
                 env | {"TC_TEST_ROWS": "40"})
    assert forgot.returncode == 0, forgot.stderr[-3000:]
    assert "Retrying" not in forgot.stderr and "thrown while requesting" not in forgot.stderr
    assert (tmp_path / "out2" / "model" / "config.json").is_file()


QUIET = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}  # stderr then holds the error line alone


@pytest.mark.slow
def test_a_model_that_fails_half_way_leaves_no_trace(tmp_path, tiny_model):
    """The hub lists the weights but does not serve them: one error line, and no model folder in the cache."""
    with serving(hub_files(tiny_model), missing={"model.safetensors"}) as url:
        env = classroom(tmp_path, url)
        failed = run(["-m", "helpers", "prefetch", "--profile", "quick"], env | QUIET)
    assert failed.returncode == 1
    one_line_error(failed.stderr)
    assert (f"could not fetch model '{REPO}' from the hub (RemoteEntryNotFoundError: 404 Client Error. "
            "Entry Not Found for url: ") in failed.stderr
    assert failed.stdout.startswith("data: ")  # the data came before, whole
    assert not (tmp_path / "hf" / "hub" / "models--teacher--tiny-hub").exists()


@pytest.mark.slow
def test_data_that_cannot_be_fetched_leaves_no_file(tmp_path):
    """A data URL that answers 404: one error line, and nothing in the download cache."""
    with serving({}) as url:
        failed = run(["-m", "helpers", "prefetch", "--profile", "quick"], classroom(tmp_path, url) | QUIET)
    assert failed.returncode == 1
    one_line_error(failed.stderr)
    assert "could not download" in failed.stderr
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_tiny_needs_nothing(tiny_settings, capsys):
    """The tiny profile's data ships with the project and its model is built here: nothing to fetch, it says so."""
    lines = prefetch.prefetch(tiny_settings)
    assert lines[0].startswith(f"data: {SAMPLE_DATA} is a local file, nothing to fetch (")
    assert lines[1] == "model: the tiny model is built on this machine, nothing to fetch"
    assert capsys.readouterr().out.splitlines() == lines


def test_a_local_model_folder_needs_nothing(tiny_model, tmp_path):
    """A model folder is already here: nothing to fetch, and its size; a folder that is not there is an error."""
    folder = shutil.copytree(tiny_model, tmp_path / "my-model")
    assert prefetch.prefetch_model(str(folder)) == \
        f"model: {folder} is a local folder, nothing to fetch ({prefetch.human(prefetch.size(folder))})"
    with pytest.raises(UserError, match="does not exist"):
        prefetch.prefetch_model(str(tmp_path / "missing"))
    message = refused(prefetch.prefetch_model, "bad name!!")
    assert re.search("cannot fetch model 'bad name!!' .*give a hub name", message)


@pytest.mark.slow
def test_only_the_weights_from_pretrained_loads(tmp_path, tiny_model):
    """An older repository with PyTorch and TensorFlow weights: the PyTorch ones are fetched, the rest left."""
    files = {name: body for name, body in hub_files(tiny_model).items() if name != "model.safetensors"}
    files |= {"pytorch_model.bin": b"torch weights", "tf_model.h5": b"tensorflow weights", "README.md": b"# card"}
    with serving(files) as url:
        fetched = run(["-m", "helpers", "prefetch", "--profile", "tiny", "--also-model", REPO],
                      classroom(tmp_path, url) | QUIET)
    assert fetched.returncode == 0, fetched.stderr
    snapshot = tmp_path / "hf" / "hub" / "models--teacher--tiny-hub" / "snapshots" / COMMIT
    names = {path.name for path in snapshot.iterdir()}
    assert {"config.json", "pytorch_model.bin", "tokenizer.json"} <= names and not {"tf_model.h5", "README.md"} & names


def fake_wheel(folder: Path, name: str = "tinypkg", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel, so that pip can download it from a local folder."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}/__init__.py", "")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{info}/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


@pytest.mark.slow
def test_wheels_come_whole_or_not_at_all(tmp_path):
    """pip download fills the folder when every package comes, and adds nothing when one does not."""
    index = tmp_path / "index"
    index.mkdir()
    wheel = fake_wheel(index)
    local = ("--no-index", "--find-links", str(index))
    line = prefetch.prefetch_wheels(tmp_path / "usb", ["tinypkg==1.0"], local)
    assert line.startswith(f"wheels: 1 files in {tmp_path / 'usb'} (")
    assert (tmp_path / "usb" / wheel.name).read_bytes() == wheel.read_bytes()
    assert "pip download failed" in refused(prefetch.prefetch_wheels, tmp_path / "usb2",
                                            ["tinypkg==1.0", "no-such-package==9.9"], local)
    assert list((tmp_path / "usb2").iterdir()) == []


def test_wheel_list_is_requirements_and_build_backend():
    """The wheels are requirements.txt's pins and pyproject's build backend, never the project itself (-e .)."""
    import tomllib

    packages = prefetch.requirements()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert "torch==2.13.0" in packages and "-e ." not in packages and packages[-len(build):] == build


def test_a_cached_hub_model_counts_only_with_its_weights(tmp_path, monkeypatch, make_settings):
    """Offline, a hub model whose config is cached but not its weights is missing; with the weights, cached."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "models--teacher--tiny-hub"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    settings = make_settings(model=REPO)
    assert reach.model_status(settings) == "missing"
    (snapshot / "model.safetensors").write_bytes(b"weights")
    assert reach.model_status(settings) == "cached"
