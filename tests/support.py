"""What many test files share: paths, sample data, running the command line, and the checks on what a user reads.

Test files import it (`from support import ...`); tests/conftest.py holds only pytest's fixtures and hooks (pytest
advises against importing conftest as a library). tests/ is on `sys.path` through pyproject.toml's `pythonpath`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import helpers
import helpers.cli
from helpers.settings import ENV_PREFIX, TOPICS_SAMPLE

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sarcasm_headlines.csv"
needs_real_data = pytest.mark.skipif(
    not REAL_DATA.is_file(), reason=f"the real dataset copy {REAL_DATA} is not on this machine"
)


# ---------------------------------------------------------------------------------------------- environment


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): a host, or the hub's address, that cannot answer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def remove_tc_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Delete every `TC_*` environment variable for the duration of `monkeypatch`."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)


def clean_env() -> dict[str, str]:
    """A copy of the environment without `TC_*` variables, for subprocesses (one torch thread, as in the tests)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    return env | {"OMP_NUM_THREADS": "1"}


# ---------------------------------------------------------------------------------------------- settings


def tiny_settings_for(output_dir: Path, cache_dir: Path, **overrides) -> helpers.Settings:
    """`get_settings("tiny")` writing into `output_dir`, with the tiny model found in `cache_dir`."""
    return helpers.get_settings("tiny", output_dir=str(output_dir), cache_dir=str(cache_dir), **overrides)


def another_value(name: str):
    """A valid value of setting `name` other than its default: what changing that setting alone means."""
    from helpers import settings as hs

    default, kind = hs.FIELDS[name].default, hs.kind(name)
    if hs.choices(name):
        return next(value for value in hs.choices(name) if value != default)
    if name in ("max_steps", "train_layers"):  # -1 + 1 is no number of steps; "all" is a word
        return {"max_steps": 7, "train_layers": "head"}[name]
    if kind is bool:
        return not default
    if kind is int:
        return default + 1
    if kind is float:
        return default / 2 if default else 0.1
    return default + "-other"


# ---------------------------------------------------------------------------------------------- data files


def headline_records(n: int = 12) -> list[dict]:
    """`n` rows in the real file's schema, labels alternating 0, 1, with headlines of varied length."""
    return [
        {
            "article_link": f"https://example.com/story-{i}",
            "headline": f"headline number {i} " + "about things " * (i % 4),
            "is_sarcastic": i % 2,
        }
        for i in range(n)
    ]


def write_table(path: Path, records: list[dict], columns: dict[str, str] | None = None) -> Path:
    """Write `records` as .json (array), .jsonl or .csv according to `path`'s suffix; rename keys by `columns`."""
    columns = columns or {}
    rows = [{columns.get(key, key): value for key, value in record.items()} for record in records]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows))
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        raise ValueError(path)
    return path


def labelled_frame(n: int = 1000, positives: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """A `sentence`/`label` frame of `n` rows, exactly `positives` of them labelled 1, in random order."""
    labels = np.zeros(n, dtype=int)
    labels[: int(round(n * positives))] = 1
    labels = np.random.default_rng(seed).permutation(labels)
    return pd.DataFrame({"sentence": [f"text {i}" for i in range(n)], "label": labels})


TOPICS = ["politics", "sports", "science", "entertainment"]  # the topics sample's classes, largest first
TOPIC_COLUMNS = dict(text_column="title", label_column="topic")
HANGUL = re.compile("[\uac00-\ud7a3]")
EMOJI = re.compile("[\u2600-\u27bf\U0001F300-\U0001FAFF]")


def topic_records() -> list[dict]:
    """The rows of the shipped topics sample, as written in the file."""
    return [json.loads(line) for line in TOPICS_SAMPLE.read_text(encoding="utf-8").splitlines()]


def is_special(text: str) -> bool:
    """True for a headline with Korean letters or an emoji."""
    return bool(HANGUL.search(text) or EMOJI.search(text))


# ---------------------------------------------------------------------------------------------- predictions

LABELS = np.array([1, 1, 1, 0, 0, 0, 1, 0, 1, 0])
PREDICTED = np.array([1, 0, 1, 0, 1, 0, 1, 1, 0, 0])


def logits_for(predicted: np.ndarray, classes: int = 2, seed: int = 0) -> np.ndarray:
    """Random logits whose argmax is `predicted` in every row."""
    logits = np.random.default_rng(seed).normal(size=(len(predicted), classes)).astype(np.float32)
    logits[np.arange(len(predicted)), predicted] = logits.max(axis=1) + 1.0
    return logits


# ---------------------------------------------------------------------------------------------- command line


def start_cli(*args: str) -> subprocess.Popen:
    """Start `python -m helpers ARGS` from the project root, without `TC_*` variables."""
    return subprocess.Popen(
        [sys.executable, "-m", "helpers", *args], cwd=ROOT, env=clean_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    """Wait for a process from `start_cli` (killing it if it overruns `timeout`); its exit status and output."""
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def finish_all(processes: dict[str, subprocess.Popen]) -> dict[str, subprocess.CompletedProcess]:
    """Wait for several processes started together; none is left running, whatever happens."""
    try:
        return {name: finish(process) for name, process in processes.items()}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m helpers ARGS` to completion."""
    return finish(start_cli(*args))


def piped(data: bytes):
    """A stand-in for `sys.stdin` with `data` piped in: text on top of bytes (`.buffer`), as a real pipe."""
    import io

    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def run_main(*argv: str, capsys) -> tuple[int, str, str]:
    """Run the command line (`helpers.cli.main`) in this process, as `python -m helpers` runs it (its hints name
    flags, not `TC_` variables): its exit status, stdout and stderr (its own only)."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [str(Path(helpers.__file__).with_name("__main__.py")), *argv])
        try:
            status = helpers.cli.main(list(argv))
        except SystemExit as exit:
            status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


# ---------------------------------------------------------------------------------------------- what a user reads


def one_line(text: str) -> str:
    """`text` stripped, after checking it is exactly one non-empty line and no traceback."""
    assert "Traceback" not in text, text
    assert len(text.strip().splitlines()) == 1, text
    return text.strip()


def one_line_error(stderr: str) -> str:
    """The single `error: ...` line a user's mistake leaves on stderr (nothing else, never a traceback)."""
    line = one_line(stderr)
    assert line.startswith("error: ") and line[len("error: "):].strip(), stderr
    return line


def refused(call, *args, **kwargs) -> str:
    """Call `call` expecting a `UserError`; its message, checked to be one line."""
    with pytest.raises(helpers.UserError) as caught:
        call(*args, **kwargs)
    return one_line(str(caught.value))


def warnings_in(stderr: str) -> list[str]:
    """The `warning: ...` lines of `stderr`."""
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def files_in(folder: Path) -> list[str]:
    """Every file under `folder`, relative to it (none when it does not exist)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------- notebooks


def notebook_path(number: str, solutions: bool = False) -> Path:
    """The path of notebook `number` ("05"), or of its worked solutions."""
    folder = ROOT / "notebooks" / "solutions" if solutions else ROOT / "notebooks"
    (path,) = folder.glob(f"{number}_*.ipynb")
    return path


def notebook_cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of each cell of the notebook at `path`."""
    return [(cell["cell_type"], "".join(cell["source"])) for cell in json.loads(path.read_text())["cells"]]


def notebook_text(number: str) -> str:
    """The markdown of notebook `number`, in one string, every run of white space one space."""
    return re.sub(r"\s+", " ", " ".join(source for kind, source in notebook_cells(notebook_path(number))
                                      if kind == "markdown"))


# ---------------------------------------------------------------------------------------------- exercise checks


def passes(capsys, key: str, *answers) -> str:
    """Check `answers` to exercise `key`; assert a pass and return the printed line."""
    from helpers import exercises

    capsys.readouterr()  # what came before (a Trainer's log lines) is not the check's
    result = exercises.check(key, *answers)
    out = capsys.readouterr().out
    assert result and out.startswith("Correct: "), out
    return out


def fails(capsys, key: str, *answers, saying: str = "") -> str:
    """Check `answers`; assert a `not yet` with a hint (and `saying` in it), no exception, and return the text."""
    from helpers import exercises

    capsys.readouterr()
    result = exercises.check(key, *answers)
    out = capsys.readouterr().out
    assert not result and out.startswith("not yet: "), out
    assert "hint: " in out or "fill in the cell above" in out, out
    assert saying in out, out
    return out


def exercise_env(monkeypatch, output_dir: Path, cache_dir: Path) -> helpers.Settings:
    """Set the variables a notebook's checks read (the tiny profile, writing into `output_dir`); its settings."""
    monkeypatch.setenv("TC_PROFILE", "tiny")
    monkeypatch.setenv("TC_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("TC_OUTPUT_DIR", str(output_dir))
    return helpers.get_settings()


def run_solution(key: str, namespace: dict) -> dict:
    """Run exercise `key`'s worked solution (`exercises.solution(key)`'s code) in `namespace`; the namespace after."""
    from helpers import exercises

    exec(compile(exercises.EXERCISES[key].solution, f"<solution {key}>", "exec"), namespace)
    return namespace


def hides(out: str, *values) -> str:
    """`out` (a check's `not yet` text), after asserting it shows none of `values`, the expected answers."""
    for value in values:
        shown = {str(value)} if isinstance(value, (int, np.integer)) else {f"{value:.4f}", f"{value:.3f}", repr(value)}
        for text in shown | ({f"{value:,}"} if isinstance(value, (int, np.integer)) else set()):
            assert not re.search(rf"(?<![\d.,]){re.escape(text)}(?![\d])", out), (text, out)
    return out


def exercise_namespace(number: str, env: dict[str, str]) -> dict:
    """Run the code cells of notebook `number`'s worked solutions (each asserts its check passes) with the `TC_*`
    variables `env`, as a kernel would; the names they leave."""
    import optuna
    from transformers.utils import logging

    namespace: dict = {"__name__": f"solutions_{number}"}
    loggers = [logging.get_logger(), logging.get_logger("transformers.training_args")]
    levels = [logger.level for logger in loggers]
    bar, said = logging.is_progress_bar_enabled(), optuna.logging.get_verbosity()
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            remove_tc_env(monkeypatch)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            for kind, source in notebook_cells(notebook_path(number, solutions=True)):
                if kind == "code":
                    exec(compile(source, f"{number}_solutions", "exec"), namespace)  # noqa: S102: our own notebook
    finally:  # a notebook's process-wide switches (log levels, bars) stay in its kernel, not in the test session
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        (logging.enable_progress_bar if bar else logging.disable_progress_bar)()
        optuna.logging.set_verbosity(said)
    return namespace


def gives_away(out: str, value) -> bool:
    """True when the printed `out` holds `value` as a learner would read it: a whole number as a word, any other
    number to 2, 3 or 4 decimals (or as a percentage to 0-2 decimals), anything else as its text."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return re.search(rf"(?<![\d.]){int(value)}(?![\d.])", out) is not None
    if isinstance(value, (float, np.floating)):
        written = {f"{value:.{digits}f}" for digits in (2, 3, 4)} | {f"{value:.{digits}%}" for digits in (0, 1, 2)}
        return any(re.search(rf"(?<![\d.]){re.escape(text)}(?!\d)", out) for text in written)
    return str(value) in out


def with_environment(worked: tuple[dict, dict], monkeypatch) -> dict:
    """A solutions notebook's names (`exercise_namespace`), with its `TC_*` environment set, as the checks read it."""
    env, namespace = worked
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return namespace


def no_value(out: str, *values: float) -> None:
    """The printed `not yet` names none of `values` (to 3 or 4 decimals)."""
    for value in values:
        for shown in (f"{value:.3f}", f"{value:.4f}"):
            assert shown not in out, (shown, out)


def parse_call(call: str) -> tuple[list, dict]:
    """The positional and keyword arguments of a `helpers.get_settings(...)` call (the sweep's best settings), read
    without evaluating it."""
    import ast

    tree = ast.parse(call, mode="eval").body
    assert isinstance(tree, ast.Call) and ast.unparse(tree.func) == "helpers.get_settings", call
    return [ast.literal_eval(arg) for arg in tree.args], {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords}
