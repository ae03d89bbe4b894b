"""The series headless: `python -m helpers train|predict|bench|sweep|prefetch|settings ...`, flags for `Settings`.

Introduced in the README; the notebooks call the same functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import logging
import os
import sys
from pathlib import Path

from .models import check_hub_model
from .reach import get_settings
from .settings import (FIELDS, TYPES, Settings, UserError, build_settings, requested_profile, settings_page,
                       settings_table)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, and which takes no abbreviated flags."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)  # --epoch must not quietly mean --epochs

    def error(self, message: str):
        self.exit(2, f"error: {message}{flag_suggestion(self, message)} (see {self.prog} --help)\n")


def flag_suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """"; did you mean --epochs?" for an unrecognized flag close to one of `parser`'s (difflib), else ""."""
    if not message.startswith("unrecognized arguments:"):
        return ""
    parsers = [parser] + [sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                          for sub in action.choices.values()]  # the sub-commands' flags are reported from the top
    flags = sorted({option for each in parsers for action in each._actions for option in action.option_strings
                    if option.startswith("--")})
    for word in message.split(":", 1)[1].split():
        close = difflib.get_close_matches(word.split("=")[0], flags, n=1, cutoff=0.75)
        if word.startswith("--") and close:
            return f"; did you mean {close[0]}?"
    return ""


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """A `--flag` for every `Settings` field; only the flags given override the profile and `TC_*`."""
    for name, f in FIELDS.items():
        extra = {"nargs": "?", "const": "true"} if TYPES[name] is bool else {}
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, default=argparse.SUPPRESS, metavar=name.upper(),
            help=f"{f.metadata['help']} (default: {f.default})", **extra,
        )


def build_parser() -> Parser:
    """The `python -m helpers` parser with its sub-commands."""
    parser = Parser(prog="python -m helpers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    train = commands.add_parser("train", help="fine-tune, evaluate on the test split, save model and metrics")
    add_settings_flags(train)
    train.set_defaults(run=run_train)
    bench = commands.add_parser("bench", help="time the tutorial's pipeline against this project's, same rows; "
                                              "--inference: a fine-tuned model's int8 and ONNX Runtime paths")
    add_settings_flags(bench)
    bench.add_argument("--inference", action="store_true",
                       help="time prediction by the fine-tuned model in --model (a folder, e.g. OUTPUT_DIR/model) in "
                            "float32, this project's way, torch int8 and ONNX Runtime (float32, int8) on the test "
                            "rows (all, or --test-rows); writes bench_inference.json and .png and OUTPUT_DIR/onnx")
    bench.add_argument("--steps", type=int, default=20, help="training batches per pipeline (default: 20)")
    bench.add_argument("--predict-rows", type=int, default=640, help="test rows to predict (default: 640)")
    bench.add_argument("--repeat", type=int, default=5,
                       help="passes of the fast pipelines over the same rows; the tutorial's makes one (default: 5)")
    bench.set_defaults(run=run_bench)
    predict = commands.add_parser("predict", help="label texts with a saved model (one per argument or stdin line)")
    predict.add_argument("--model", required=True,
                         help="folder of a saved model (OUTPUT_DIR/model), or of an exported one (OUTPUT_DIR/onnx: "
                              "ONNX Runtime, its int8 model when there)")
    predict.add_argument("texts", nargs="*", help="texts to label; read from stdin, a line each, when none")
    predict.set_defaults(run=run_predict)
    sweep = commands.add_parser("sweep",
                                help="train a model per point of a search space, keep it in a study, show the best")
    add_settings_flags(sweep)
    sweep.add_argument("--trials", type=int, default=4,
                       help="trials of random or tpe; grid tries every point of the space (default: 4)")
    sweep.add_argument("--space", action="append", metavar="KNOB=V1,V2,...", type=space_entry, default=[],
                       help="values to try for one setting, repeatable (default: the space in helpers/sweep.py, its "
                            "learning rates scaled to the settings' own)")
    sweep.add_argument("--search", choices=["grid", "random", "tpe"], default="random",
                       help="how optuna chooses the points: all of them, seeded random draws, or TPE learning from "
                            "the scores so far (default: random)")
    sweep.add_argument("--storage", metavar="URL",
                       help="an optuna storage URL that many machines share, e.g. postgresql://user:password@host:"
                            "5432/db, an @ in the password written %%40 (docs/teaching.md, 'A class sweep'; default: "
                            "OUTPUT_DIR/sweep/study.log)")
    sweep.set_defaults(run=run_sweep)
    prefetch = commands.add_parser("prefetch", help="bring the data and the model (and wheels) here, to work offline")
    add_settings_flags(prefetch)
    prefetch.add_argument("--also-model", action="append", default=[], metavar="NAME",
                          help="another hub model to fetch, repeatable (notebook 07 suggests klue/bert-base)")
    prefetch.add_argument("--wheels", type=Path, metavar="DIR",
                          help="also download the wheels of requirements.txt into DIR (for this platform and Python)")
    prefetch.set_defaults(run=run_prefetch)
    page = commands.add_parser("settings", help="the settings in effect with these flags, and where each value comes "
                                                "from; --page: docs/settings.md")
    add_settings_flags(page)
    page.add_argument("--page", action="store_true",
                      help="print docs/settings.md instead: every setting, its flag, variable, default and profiles")
    page.set_defaults(run=run_settings)
    launch = commands.add_parser(
        "torchrun", add_help=False,
        help="torchrun's launcher (same arguments), whose failure ends in the failed process's one error line",
    )
    launch.add_argument("arguments", nargs=argparse.REMAINDER,
                        help="torchrun's: e.g. --standalone --nproc_per_node 2 -m helpers train --profile tiny")
    launch.set_defaults(run=run_torchrun)
    return parser


def space_entry(text: str) -> tuple[str, list[str]]:
    """`learning_rate=2e-5,5e-5` as ("learning_rate", ["2e-5", "5e-5"]); the sweep checks the values."""
    name, _, values = text.partition("=")
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} is not KNOB=V1,V2,... (for example learning_rate=2e-5,5e-5)")
    return name.strip().replace("-", "_"), [value.strip() for value in values.split(",")]


def settings_from(args: argparse.Namespace, online: bool = False) -> Settings:
    """`get_settings` with the flags the user gave; `online`: auto is the profile this machine takes with a network."""
    given = {name: value for name, value in vars(args).items() if name in FIELDS}
    profile = given.pop("profile", None)
    if online:  # prefetch: what the auto profile will want, never its offline fallback
        return build_settings(profile, **given)
    return get_settings(profile, **given)


def run_train(args: argparse.Namespace) -> int:
    """Train, evaluate on the test split, save the model and write metrics.json."""
    settings = settings_from(args)  # checked before the slow imports, so a typo is reported at once
    check_hub_model(settings.model)  # and a hub model that cannot be reached, before torch is imported
    from .card import write_card
    from .finetune import run, run_lock
    from .hardware import record
    from .layout import run_folder, write_json
    from .predict import evaluate_test

    folder = run_folder(settings)
    with run_lock(settings):  # the folder is this run's until its metrics are written
        trainer, parts, report = run(settings)  # the data read once, the baselines fitted once: the report
        metrics = evaluate_test(trainer, settings, parts)  # every process predicts its share; process 0 writes
        if not trainer.is_world_process_zero():
            return 0
        metrics["hardware"] = record()  # the machine the figures (the speeds above all) were measured on
        write_json(folder.metrics, metrics)
        write_card(folder.model, dataclasses.replace(report, test=metrics))  # the same report, with the test metrics
    print(json.dumps(metrics, indent=2))
    print(f"model saved in {folder.model}, metrics in {folder.metrics}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    """Time the three pipelines on the same rows; print a table, write bench.json and bench.png (--inference:
    `run_bench_inference`)."""
    settings = settings_from(args)
    if args.inference:
        return run_bench_inference(settings)
    from transformers.utils import logging

    from .bench import bench, table, write
    from .finetune import run_lock

    logging.set_verbosity_error()  # three fresh heads: the same "newly initialized" report three times
    with run_lock(settings) as folder:
        report = bench(settings, args.steps, args.predict_rows, args.repeat)
        print(table(report))
        paths = write(report, folder)
    print(f"{report['train_rows']} train rows, {report['predict_rows']} predicted rows; wrote", *paths)
    return 0


def run_bench_inference(settings: Settings) -> int:
    """Time each prediction path of the fine-tuned model `settings.model` on the test rows; print a table, write
    bench_inference.json and bench_inference.png, and the exported model into OUTPUT_DIR/onnx."""
    from transformers.utils import logging

    from .finetune import run_lock
    from .inference import check_fine_tuned, measure_paths, table, timing_note, write
    from .layout import run_folder

    check_fine_tuned(settings.model)  # a folder that is not a fine-tuned model: one line, before anything is written

    logging.set_verbosity_error()
    with run_lock(settings) as folder:
        rows = measure_paths(settings.model, settings)
        print(table(rows))
        print(timing_note(rows))
        paths = write(rows, folder)
    print(f"{rows[0]['test_rows']:,} test rows; wrote", *paths, run_folder(settings).onnx)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Print each text's label name and its probability (ONNX Runtime on an exported folder)."""
    from .inference import labeller
    from .predict import as_bytes, read_texts

    if args.texts:
        texts = read_texts(map(as_bytes, args.texts), "argument {}")
    else:  # bytes, whatever the locale: a Latin-1 file piped in is refused by its line, not a traceback
        texts = read_texts(sys.stdin.buffer.read().split(b"\n"), "line {} of stdin")
    if not texts:
        raise UserError("no text to label; pass texts as arguments or one per line on stdin")
    label = labeller(args.model)
    if hasattr(sys.stdout, "reconfigure"):  # a text this terminal's encoding cannot show is escaped, not a traceback
        sys.stdout.reconfigure(errors="backslashreplace")
    for text, result in zip(texts, label(texts)):
        print(f"{result['label']}\t{result['score']:.3f}\t{text}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    """Train the points not trained yet; print every trial best first (then per setting), the best, the study."""
    settings = settings_from(args)
    if args.trials <= 0:
        raise UserError(f"--trials {args.trials} must be > 0")
    from transformers.utils import logging

    from .sweep import best_call, best_command, by_setting, search, table, where

    import optuna

    logging.set_verbosity_error()  # a fresh head per trial: the same "newly initialized" report each time
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # each trial says its own one line, not optuna's too
    space = dict(args.space) or None
    runs = search(settings, space, trials=args.trials, search=args.search, storage=args.storage)
    print(table(runs))
    settings_table = by_setting(runs)
    if len(settings_table) < len(runs):  # some setting ran with several seeds: choose on the mean over seeds
        print("\nmean over seeds, best first:")
        print(table(settings_table))
    print("best settings:", best_call(settings_table))
    print("to train them:", best_command(settings_table))
    print("study:", where(settings, args.storage))
    return 0


def run_prefetch(args: argparse.Namespace) -> int:
    """Fetch the data, the model(s) and the wheels the settings' profile needs; a line each, with its size."""
    settings = settings_from(args, online=True)
    from .prefetch import prefetch

    prefetch(settings, args.also_model, args.wheels)
    print(f"done: with HF_HUB_OFFLINE=1 and no network, profile {settings.profile} runs on what is cached here")
    return 0


def run_settings(args: argparse.Namespace) -> int:
    """Print the settings in effect with the flags given, and where each value comes from; --page: docs/settings.md."""
    if args.page:
        print(settings_page(), end="")
        return 0
    settings = settings_from(args)
    given = {name for name in vars(args) if name in FIELDS}
    print(settings_table(settings, given, requested_profile(getattr(args, "profile", None))))
    return 0


def run_torchrun(args: argparse.Namespace) -> int:
    """torchrun (`torch.distributed.run`) with its arguments; a failed process's own error line is the whole report.

    torchrun's launcher turns a process's non-zero exit into a `ChildFailedError` traceback (its `@record` main);
    here the same launcher runs without that wrapper: the exit status of the first failed process, no traceback.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    arguments = parse_args(args.arguments)
    # the launcher's own line for a failed process ("failed (exitcode: 1) local_rank: 0 ..."): the process said why
    logging.getLogger("torch.distributed.elastic.multiprocessing.api").setLevel(logging.CRITICAL)
    if "OMP_NUM_THREADS" not in os.environ and arguments.nproc_per_node.isdigit():  # torchrun would set 1, and say so
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(arguments.nproc_per_node)))
    try:
        run(arguments)
    except ChildFailedError as failed:
        status = failed.get_first_failure()[1].exitcode
        return status if status > 0 else 1  # killed by a signal: negative
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; a user's mistake ends in one line on stderr and exit status 1."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["torchrun"]:  # its flags (and --help) are torchrun's, not ours
        args = argparse.Namespace(command="torchrun", arguments=argv[1:], run=run_torchrun)
    else:
        args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as error:
        if int(os.environ.get("RANK", "0")) == 0:  # under torchrun every process checks the same: the first says it
            print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = " (to continue a training from its last checkpoint: the same command with --resume)"
        print("\ninterrupted" + (resume if args.command == "train" else ""), file=sys.stderr)  # below any progress bar
        return 130
