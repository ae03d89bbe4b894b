"""The series headless: `python -m helpers train|predict|bench|bench-inference|sweep|prefetch|settings ...`.

Introduced in the README; the notebooks call the same functions. Each command takes the flags of the settings it
uses (`HfArgumentParser` over `Settings`' fields) and imports what it runs: importing this loads no torch or pandas.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from transformers import HfArgumentParser

from .reach import get_settings
from .settings import (FIELDS, ROLES, TYPES, Settings, UserError, build_settings, having, requested_profile,
                       settings_page, settings_table)

EVERY_ROLE = tuple(ROLES)


class Parser(HfArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2), and which takes no abbreviated flags."""

    def __init__(self, *args, **kwargs):
        self.flags: set[str] = set()  # every --flag, for a suggestion when one is mistyped
        super().__init__(*args, allow_abbrev=False, formatter_class=argparse.HelpFormatter, **kwargs)

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        """`ArgumentParser.add_argument` without HfArgumentParser's underscored spellings (`--learning-rate`, not
        `--learning_rate`), its long flags kept for `error`'s suggestion."""
        action = super().add_argument(*[arg for arg in args if "_" not in arg or arg[:2] != "--"], **kwargs)
        self.flags.update(option for option in action.option_strings if option.startswith("--"))
        return action

    def error(self, message: str):
        """Exit with status 2 and argparse's message in one line; "did you mean --epochs?" for a close flag."""
        unknown = message.split(":", 1)[1].split() if message.startswith("unrecognized arguments:") else []
        close = [match for word in unknown if word.startswith("--") and word.split("=")[0] not in self.flags
                 for match in difflib.get_close_matches(word.split("=")[0], sorted(self.flags), n=1, cutoff=0.75)]
        hint = f"; did you mean {close[0]}?" if close else ""
        self.exit(2, f"error: {message}{hint} (see {self.prog} --help)\n")


class Switch(argparse.BooleanOptionalAction):
    """`--group-by-length` / `--no-group-by-length` for a boolean setting: HfArgumentParser's `--x [true|false]`
    (its type, nargs and const) is not needed."""

    def __init__(self, option_strings, dest, nargs=None, const=None, type=None, **kwargs):
        super().__init__(option_strings, dest, **kwargs)


def flags_of(roles: tuple[str, ...]) -> type:
    """A dataclass of the settings of `roles` for `HfArgumentParser`: a flag each, left out of the parsed arguments
    unless given (only given flags beat the profile and `TC_*` variables), its default in its help."""

    def field(name: str) -> dataclasses.Field:
        default = FIELDS[name].default
        help = FIELDS[name].metadata["help"] + (f" (default: {default})" if default != "" else "")
        metadata = {"help": help.replace("%", "%%"), **({"action": Switch} if TYPES[name] is bool else {})}
        return dataclasses.field(default=argparse.SUPPRESS, metadata=metadata)

    return dataclasses.make_dataclass("Flags", [(name, TYPES[name], field(name)) for name in having(*roles)])


def build_parser() -> Parser:
    """The `python -m helpers` parser with its sub-commands, each with the flags of the settings it uses."""
    parser = Parser(prog="python -m helpers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    made = {}
    for name, (run, roles) in COMMANDS.items():  # each command's help is its function's docstring
        about = " ".join(run.__doc__.split("\n\n")[0].split())
        # a flag added below with a setting's name replaces it (bench-inference's --model: a fine-tuned folder)
        made[name] = commands.add_parser(name, help=about, description=about, add_help=name != "torchrun",
                                         conflict_handler="resolve", dataclass_types=flags_of(roles))
    bench = made["bench"]
    bench.add_argument("--steps", type=int, default=20, help="training batches per pipeline (default: %(default)s)")
    bench.add_argument("--predict-rows", type=int, default=640, help="test rows to predict (default: %(default)s)")
    bench.add_argument("--repeat", type=int, default=5, help="passes of the fast pipelines over the same rows; the "
                                                             "tutorial's makes one (default: %(default)s)")
    made["bench-inference"].add_argument("--model", required=True,
                                         help="folder of the fine-tuned model to time (OUTPUT_DIR/model)")
    predict = made["predict"]
    predict.add_argument("--model", required=True,
                         help="folder of a saved model (OUTPUT_DIR/model), or of an exported one (OUTPUT_DIR/onnx: "
                              "ONNX Runtime, its int8 model when there)")
    predict.add_argument("texts", nargs="*", help="texts to label; read from stdin, a line each, when none")
    sweep = made["sweep"]
    sweep.add_argument("--trials", type=int, default=4,
                       help="trials of random or tpe; grid tries every point of the space (default: %(default)s)")
    sweep.add_argument("--space", action="append", metavar="KNOB=V1,V2,...", type=space_entry, default=[],
                       help="values to try for one setting, repeatable (default: the space in helpers/sweep.py, its "
                            "learning rates scaled to the settings' own)")
    sweep.add_argument("--search", choices=["grid", "random", "tpe"], default="random",
                       help="how optuna chooses the points: all of them, seeded random draws, or TPE learning from "
                            "the scores so far (default: %(default)s)")
    sweep.add_argument("--storage", metavar="URL",
                       help="an optuna storage URL that many machines share, e.g. postgresql://user:password@host:"
                            "5432/db, an @ in the password written %%40 (docs/teaching.md, 'A class sweep'; default: "
                            "OUTPUT_DIR/sweep/study.log)")
    prefetch = made["prefetch"]
    prefetch.add_argument("--also-model", action="append", default=[], metavar="NAME",
                          help="another hub model to fetch, repeatable (notebook 07 suggests klue/bert-base)")
    prefetch.add_argument("--wheels", type=Path, metavar="DIR",
                          help="also download the wheels of requirements.txt into DIR (for this platform and Python)")
    made["settings"].add_argument("--page", action="store_true", help="print docs/settings.md instead: every "
                                  "setting, its flag, variable, default and profiles")
    made["torchrun"].add_argument("arguments", nargs=argparse.REMAINDER, help="torchrun's: e.g. --standalone "
                                  "--nproc_per_node 2 -m helpers train --profile tiny")
    for name, sub in made.items():
        sub.set_defaults(run=COMMANDS[name][0])
        parser.flags |= sub.flags  # an unknown flag is reported by the top parser
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
    profile = given.pop("profile", None)  # online (prefetch): what the auto profile will want, never its fallback
    return (build_settings if online else get_settings)(profile, **given)


def run_train(args: argparse.Namespace) -> int:
    """Train, evaluate on the test split, save the model and write metrics.json."""
    settings = settings_from(args)  # checked before the slow imports, so a typo is reported at once
    from .models import check_hub_model

    check_hub_model(settings.model)  # and a hub model that cannot be reached, before torch is imported
    from .card import write_card
    from .finetune import run
    from .hardware import record
    from .layout import run_folder, run_lock, write_json
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
    """Time the tutorial's pipeline against this project's on the same rows; print a table, write bench.json and
    bench.png."""
    settings = settings_from(args)
    from .bench import bench, table, write
    from .hardware import quiet_transformers
    from .layout import run_lock

    with quiet_transformers(), run_lock(settings) as folder:  # three fresh heads: one "newly initialized" report each
        report = bench(settings, args.steps, args.predict_rows, args.repeat)
        print(table(report))
        paths = write(report, folder)
    print(f"{report['train_rows']} train rows, {report['predict_rows']} predicted rows; wrote", *paths)
    return 0


def run_bench_inference(args: argparse.Namespace) -> int:
    """Time each prediction path of the fine-tuned model in `--model` on the test rows; print a table, write
    bench_inference.json and bench_inference.png, and the exported model into OUTPUT_DIR/onnx."""
    settings = settings_from(args)
    from .hardware import quiet_transformers
    from .inference import check_fine_tuned, measure_paths, table, timing_note, write
    from .layout import run_folder, run_lock

    check_fine_tuned(settings.model)  # a folder that is not a fine-tuned model: one line, before anything is written
    with quiet_transformers(), run_lock(settings) as folder:
        rows = measure_paths(settings.model, settings)
        print(table(rows))
        print(timing_note(rows))
        paths = write(rows, folder)
    print(f"{rows[0]['test_rows']:,} test rows; wrote", *paths, run_folder(settings).onnx)
    return 0


def as_bytes(argument: str) -> bytes:
    """A command-line argument as the bytes it was typed in (Python keeps undecodable bytes as lone surrogates)."""
    try:
        return os.fsencode(argument)
    except UnicodeEncodeError:  # a lone surrogate that no byte became: kept, so that UTF-8 refuses it below
        return argument.encode("utf-8", "surrogatepass")


def read_texts(lines: Iterable[bytes], where: str) -> list[str]:
    """The texts to label from lines of bytes (stdin's, or the arguments'), each decoded as UTF-8 and stripped,
    blank ones skipped; a line that is not UTF-8 refused in one line naming it, `where` ("line {} of stdin") with
    its number (the README)."""
    texts = []
    for number, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UserError(f"{where.format(number)} is not UTF-8 text (byte {line[error.start]:#04x} at position "
                            f"{error.start:,}); convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8") from None
        text = text.removeprefix("\ufeff").strip() if number == 1 else text.strip()  # a byte-order mark: not text
        if text:
            texts.append(text)
    return texts


def run_predict(args: argparse.Namespace) -> int:
    """Label texts with a saved model (one per argument or stdin line): each one's label and its probability."""
    if args.texts:
        texts = read_texts(map(as_bytes, args.texts), "argument {}")
    else:  # bytes, whatever the locale: a Latin-1 file piped in is refused by its line, not a traceback
        texts = read_texts(sys.stdin.buffer.read().split(b"\n"), "line {} of stdin")
    if not texts:
        raise UserError("no text to label; pass texts as arguments or one per line on stdin")
    from .inference import labeller

    label = labeller(args.model)
    if hasattr(sys.stdout, "reconfigure"):  # a text this terminal's encoding cannot show is escaped, not a traceback
        sys.stdout.reconfigure(errors="backslashreplace")
    for text, result in zip(texts, label(texts)):
        print(f"{result['label']}\t{result['score']:.3f}\t{text}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    """Train a model per point of a search space not trained yet, each a trial of one study; print every trial
    best first (then per setting), the best, the study."""
    settings = settings_from(args)
    import optuna

    from .hardware import quiet_transformers
    from .sweep import best_call, best_command, by_setting, search, table, where

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # each trial says its own one line, not optuna's too
    with quiet_transformers():  # a fresh head per trial: the same "newly initialized" report each time
        runs = search(settings, dict(args.space) or None, trials=args.trials, search=args.search,
                      storage=args.storage)
    print(table(runs))
    per_setting = by_setting(runs)
    if len(per_setting) < len(runs):  # some setting ran with several seeds: choose on the mean over seeds
        print("\nmean over seeds, best first:")
        print(table(per_setting))
    print("best settings:", best_call(per_setting))
    print("to train them:", best_command(per_setting))
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
    """torchrun (`torch.distributed.run`) with its arguments; a failed process's own error line is the whole report:
    the `ChildFailedError` torchrun would print as a traceback is caught, the first failed process's status returned."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main, parse_args

    processes = parse_args(args.arguments).nproc_per_node
    # the launcher's own line for a failed process ("failed (exitcode: 1) local_rank: 0 ..."): the process said why
    logging.getLogger("torch.distributed.elastic.multiprocessing.api").setLevel(logging.CRITICAL)
    if "OMP_NUM_THREADS" not in os.environ and processes.isdigit():  # torchrun would set 1, and say so
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(processes)))
    try:
        main(args.arguments)
    except ChildFailedError as failed:
        status = failed.get_first_failure()[1].exitcode
        return status if status > 0 else 1  # killed by a signal: negative
    return 0


# Each command: its function, and the roles (`settings.ROLES`) of the settings it uses, which are its flags.
COMMANDS = {"train": (run_train, EVERY_ROLE), "bench": (run_bench, EVERY_ROLE),
            "bench-inference": (run_bench_inference, ("profile", "split", "task", "folder", "run")),
            "predict": (run_predict, ()), "sweep": (run_sweep, EVERY_ROLE),
            "prefetch": (run_prefetch, ("profile", "split", "task", "folder")), "settings": (run_settings, EVERY_ROLE),
            "torchrun": (run_torchrun, ())}


def main(argv: list[str] | None = None) -> int:
    """Run the command line: a usage error exits 2 (argparse), a user's mistake 1, each in one line on stderr."""
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
