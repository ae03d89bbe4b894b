"""The command line: `python -m helpers train|predict`, its metrics file, and one-line errors."""

from __future__ import annotations

import json
import math
import re
import shlex
import subprocess
import sys

import pytest

from helpers import cli
from helpers.data import read_table
from helpers.settings import SAMPLE_DATA, flag, having, settings_page

from support import another_value, clean_env, finish_all, one_line_error, piped, refused, run_cli, run_main, start_cli

LABEL_NAMES = {"sarcastic", "not sarcastic"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_cache):
    """A tiny training run (the profile's, as a user runs it) and a mistaken `predict`, started together and finished:
    name -> (result, output)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    started = {"train": start_cli("train", "--profile", "tiny", "--output-dir", str(out),
                                  "--cache-dir", str(tiny_cache)),
               "mistake": start_cli("predict", "--model", "/nonexistent", "a headline")}
    return finish_all(started), out


@pytest.fixture(scope="module")
def trained_dir(runs):
    """The output folder of the successful training run."""
    results, out = runs
    assert results["train"].returncode == 0, results["train"].stderr[-3000:]
    return out


@pytest.mark.slow
def test_train_writes_sensible_metrics(trained_dir):
    """`train` writes metrics.json with accuracy, F1, loss, the split sizes and speeds, all in range."""
    metrics = json.loads((trained_dir / "metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["f1"] <= 1
    assert math.isfinite(metrics["eval_loss"]) and metrics["eval_loss"] > 0
    rows = len(read_table(SAMPLE_DATA))
    assert metrics["train_rows"] + metrics["validation_rows"] + metrics["test_rows"] == rows
    assert metrics["validation_rows"] == math.ceil(0.1 * (rows - metrics["test_rows"])) and metrics["train_rows"]
    assert 0 <= metrics["validation_accuracy"] <= 1, "the kept epoch's score on the validation rows"
    assert metrics["test_rows"] == math.ceil(0.25 * rows)
    assert metrics["train_samples_per_second"] > 0 and metrics["predict_samples_per_second"] > 0
    assert (trained_dir / "model" / "config.json").is_file() and (trained_dir / "split.json").is_file()


@pytest.mark.slow
def test_train_prints_the_metrics(runs, trained_dir):
    """`train` prints the same metrics it saves, and where it saved them."""
    results, _ = runs
    stdout = results["train"].stdout
    saved = json.loads((trained_dir / "metrics.json").read_text())
    lines = stdout.splitlines()
    start = len(lines) - 1 - lines[::-1].index("{")  # the metrics are printed last, as indented JSON
    end = lines.index("}", start)
    printed = json.loads("\n".join(lines[start:end + 1]))
    assert printed == saved
    assert str(trained_dir / "model") in stdout


@pytest.mark.slow
def test_predict_labels_each_text(trained_dir):
    """`predict` prints one line per text: a label name, its probability (at least 0.5) and the text."""
    texts = ["area man finally reads terms and conditions", "senator proposes housing proposal"]
    result = run_cli("predict", "--model", str(trained_dir / "model"), *texts)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) == len(texts)
    for line, text in zip(lines, texts):
        label, probability, echoed = line.split("\t")
        assert label in LABEL_NAMES
        assert 0.5 <= float(probability) <= 1
        assert echoed == text


@pytest.mark.slow
def test_a_mistake_ends_the_process_in_one_line(runs):
    """`python -m helpers`, a real process, exits with status 1 and one `error:` line on stderr: no traceback
    (every mistake is tested in process, in test_errors)."""
    results, _ = runs
    assert results["mistake"].returncode == 1
    assert "/nonexistent" in one_line_error(results["mistake"].stderr)


def test_flags_reach_the_settings():
    """Every flag given sets its setting (typed by HfArgumentParser); flags not given leave the profile's values."""
    args = cli.build_parser().parse_args(["train", "--profile", "tiny", "--epochs", "2", "--stratify",
                                          "--no-group-by-length", "--text-column", "text", "--cache-dir", "/tmp/x"])
    assert set(vars(args)) & set(cli.FIELDS) == {"profile", "epochs", "stratify", "group_by_length", "text_column",
                                                 "cache_dir"}, "only the flags given: the rest come from the profile"
    settings = cli.settings_from(args)
    assert settings.profile == "tiny" and settings.epochs == 2.0 and settings.stratify is True
    assert settings.group_by_length is False and settings.text_column == "text" and settings.learning_rate == 3e-3


@pytest.mark.parametrize("command, roles", [(name, roles) for name, (_, roles) in cli.COMMANDS.items()
                                            if name != "torchrun"])  # its flags are torchrun's
def test_each_command_takes_the_flags_of_the_settings_it_uses(command, roles, capsys):
    """A command's help lists a flag for each setting of its roles and none other; a setting it does not use, or a
    bad value, is a usage error: exit status 2, argparse's one line."""
    status, out, _ = run_main(command, "--help", capsys=capsys)
    assert status == 0
    for name in cli.FIELDS:
        shown = re.search(rf"{flag(name)}\b(?!-)", out) is not None
        assert shown == (name in having(*roles) or (name == "model" and command.startswith(("predict", "bench-")))), name
    for name in set(cli.FIELDS) - set(having(*roles)) - {"model"}:
        assert run_main(command, *shlex.split(flag(name, another_value(name))), capsys=capsys)[0] == 2, name


@pytest.mark.parametrize("argv, saying", [
    (["prefetch", "--learning-rate", "1e-3"], "unrecognized arguments: --learning-rate 1e-3"),
    (["train", "--precision", "foo"], "argument --precision: invalid choice: 'foo'"),
    (["train", "--epochs", "three"], "argument --epochs: invalid float value: 'three'"),
    (["train", "--stratify=maybe"], "argument --stratify/--no-stratify: ignored explicit argument 'maybe'"),
    (["bench-inference", "--model", "m", "--steps", "3"], "unrecognized arguments: --steps 3"),
    (["bench-inference", "--profile", "tiny"], "the following arguments are required: --model"),
])
def test_usage_errors_are_argparse_lines_with_status_2(argv, saying, capsys):
    """An unknown flag, a bad choice, a value of the wrong type, a missing argument: argparse's message in one line,
    exit status 2, before any setting is built."""
    status, _, err = run_main(*argv, capsys=capsys)
    assert status == 2 and saying in one_line_error(err)


def test_booleans_are_switches_and_every_default_is_shown_once(capsys):
    """A boolean setting is `--x` / `--no-x`; each help line shows its default at most once, never empty."""
    _, out, _ = run_main("train", "--help", capsys=capsys)
    assert "--group-by-length, --no-group-by-length" in out and "[STRATIFY]" not in out
    text = " ".join(out.split())
    assert "(default: )" not in text and not re.search(r"\(default[^)]*\)[^-]*\(default", text)


def test_importing_the_command_line_loads_no_torch_pandas_or_sklearn():
    """`import helpers.cli` (and so `--help`) imports neither torch, pandas nor scikit-learn: each command imports
    what it runs. Read from `python -X importtime`, which names every module a process imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import helpers.cli"], capture_output=True,
                          text=True, env=clean_env(), check=True)
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "helpers.cli" in imported, done.stderr[-2000:]
    heavy = {name for name in imported if name.split(".")[0] in ("torch", "pandas", "sklearn")}
    assert not heavy, sorted(heavy)


@pytest.mark.slow
def test_predict_reads_stdin(trained_dir, monkeypatch, capsys):
    """With no text arguments, predict labels each non-empty stdin line."""
    monkeypatch.setattr("sys.stdin", piped(b"area man wins argument\n\nsenator delays tax overhaul\n"))
    assert cli.main(["predict", "--model", str(trained_dir / "model")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[2] for line in lines] == ["area man wins argument", "senator delays tax overhaul"]
    assert all(line.split("\t")[0] in LABEL_NAMES for line in lines)


def test_texts_are_read_as_utf8_bytes_one_line_naming_what_is_not():
    """Lines of bytes become stripped texts (a byte-order mark dropped, blank lines skipped); a line that is not
    UTF-8, or an argument holding a lone surrogate, is refused in one line naming it and its byte."""
    assert cli.read_texts([b"\xef\xbb\xbfcaf\xc3\xa9 owner \r", b"", b"  ", b"\x00nul"], "line {} of stdin") == [
        "café owner", "\x00nul"]
    assert "line 2 of stdin is not UTF-8 text (byte 0xe9 at position 3)" in refused(
        cli.read_texts, [b"fine", b"caf\xe9"], "line {} of stdin")
    for argument in ("caf\udce9", "\ud800 alone"):  # an undecodable byte as Python keeps it; a surrogate typed in
        assert "argument 1 is not UTF-8 text" in refused(cli.read_texts, [cli.as_bytes(argument)], "argument {}")
    assert cli.read_texts([cli.as_bytes("café 한국 😀")], "argument {}") == ["café 한국 😀"]


@pytest.mark.slow
def test_latin1_on_stdin_is_one_line_naming_it(trained_dir, tmp_path):
    """A Latin-1 file piped into predict, under a UTF-8 locale or a strict one: one `error:` line naming the line and
    its byte, exit status 1, nothing labelled (the texts are read before the model loads); the same lines in UTF-8
    are labelled, under the strict locale too."""
    lines = ["area man wins argument", "café owner outraged", ""]
    model = str(trained_dir / "model")
    for locale in ("C.UTF-8", "C"):
        env = clean_env() | {"LC_ALL": locale, "LANG": locale}
        latin1 = subprocess.run([sys.executable, "-m", "helpers", "predict", "--model", model], capture_output=True,
                                input="\n".join(lines).encode("latin-1"), env=env, cwd=tmp_path)
        assert latin1.returncode == 1 and latin1.stdout == b"", locale
        line = one_line_error(latin1.stderr.decode())
        assert "line 2 of stdin is not UTF-8 text (byte 0xe9 at position 3)" in line and "iconv" in line
    utf8 = subprocess.run([sys.executable, "-m", "helpers", "predict", "--model", model], capture_output=True,
                          input="\n".join(lines).encode(), env=env, cwd=tmp_path)  # the strict locale, the last
    assert utf8.returncode == 0, utf8.stderr
    assert [row.split(b"\t")[2] for row in utf8.stdout.splitlines()] == [text.encode() for text in lines[:2]]


PROGRESS_BAR = re.compile(r"^\s*(\S.*: *)?\d+%\|.*\|")  # tqdm's "  45%|████▌     | 18/39 [...]"


def printed_lines(result) -> list[str]:
    """What a run printed on stdout and stderr, a line each, without progress bars (redrawn with carriage returns)."""
    lines = [line for text in (result.stdout, result.stderr) for line in re.split(r"[\r\n]+", text)]
    return [line for line in lines if line.strip() and not PROGRESS_BAR.match(line) and line.strip() != "\x1b[A"]


@pytest.mark.slow
def test_a_tiny_train_is_quiet_and_leaves_no_checkpoint(runs, trained_dir):
    """The profile's tiny train prints at most 30 lines besides its progress bars: a line per epoch, the metrics,
    where they went; none of transformers' load report, shard bars or checkpoint notes. Its checkpoints are gone."""
    lines = printed_lines(runs[0]["train"])
    assert len(lines) <= 30, "\n".join(lines)
    assert [line for line in lines if line.startswith("epoch ")] and any("model saved in" in line for line in lines)
    text = runs[0]["train"].stdout + runs[0]["train"].stderr
    for noise in ("LOAD REPORT", "Writing model shards", "Loading weights", "mtime may not", "not sharded", "{'loss'"):
        assert noise not in text, noise
    assert not list(trained_dir.glob("checkpoint-*")), "the model is saved: its checkpoints are removed"


def test_settings_shows_the_values_in_effect_and_their_sources(monkeypatch, capsys):
    """`settings [flags]`: every setting's value with these flags, and whether a flag, a variable, the profile or
    the default gave it; `--page` is docs/settings.md."""
    monkeypatch.setenv("TC_SEED", "7")
    status, out, _ = run_main("settings", "--profile", "tiny", "--epochs", "2", capsys=capsys)
    assert status == 0
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in out.splitlines()}
    assert rows["profile"] == ["tiny", "flag"] and rows["epochs"] == ["2.0", "flag"]
    assert rows["seed"] == ["7", "variable TC_SEED"] and rows["learning_rate"] == ["0.003", "profile tiny"]
    assert rows["weight_decay"] == ["0.01", "default"] and rows["keep_checkpoints"] == ["False", "default"]
    assert len(rows) == len(cli.FIELDS)
    status, page, _ = run_main("settings", "--page", capsys=capsys)
    assert status == 0 and page == settings_page()


@pytest.mark.parametrize("command", [name for name in cli.COMMANDS if name != "torchrun"])
def test_every_command_prints_its_help(command, capsys):
    """`python -m helpers COMMAND --help` prints its flags and exits 0 (argparse reads a help's % as a format)."""
    status, out, err = run_main(command, "--help", capsys=capsys)
    assert status == 0 and err == "" and out.startswith(f"usage: python -m helpers {command}")
