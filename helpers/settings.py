"""Every knob of the series in one `Settings` object, with profiles and `TC_` overrides: settings only.

Introduced in notebook 01; every later notebook and the command line start from `helpers.get_settings()`.
Nothing here touches the network or loads a model: whether the data and the model can be reached, and so the
`auto` profile's offline fallback (`get_settings`), is decided in `helpers/reach.py`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import shlex
import sys
import tempfile
import typing
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent  # the checkout's root when run from one; installed, the install folder: never write there
DATA_URL = "https://storage.googleapis.com/download.tensorflow.org/data/sarcasm.json"
SAMPLE_DATA = PACKAGE / "sample" / "sarcasm_sample.json"
TOPICS_SAMPLE = PACKAGE / "sample" / "news_topics.jsonl"  # notebook 07: four topics
TINY_MODEL = "tiny-distilbert"
ENV_PREFIX = "TC_"
HOME_VARIABLE = ENV_PREFIX + "HOME"  # names the working folder (not a setting: where every setting's files go)


class UserError(ValueError):
    """A mistake a user can make; its message is one line: what, which value, what to do."""


def first_line(error: BaseException, lines: int = 1) -> str:
    """The cause of `error` for a one-line message: the first `lines` non-blank lines of its text, or its type."""
    text = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(text[:lines]) if text else type(error).__name__


def warn(message: str) -> None:
    """Tell the user something they should know, in one line on stderr, without stopping."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


@functools.cache
def warn_once(message: str) -> None:
    """`warn(message)` the first time only in this process: the steps of one run load the same data (notebook 01)."""
    warn(message)


# What a setting is for; every list of settings elsewhere is made from these tags (`having`), never by hand.
ROLES = {
    "profile": "which profile gives the other defaults",
    "split": "which rows land in train, validation and test (split.json keeps them; a sweep cannot search them)",
    "task": "what is fine-tuned on what: the pretrained model and the labels' names",
    "training": "how the model learns: the hyperparameters the model card lists",
    "folder": "where a run's files go and what happens to those already there (a sweep sets them per trial)",
    "run": "how a run goes, without changing what it learns: evaluation batches, logging, trackers, speed",
}


def _knob(default, help: str, allowed: tuple | None = None, *, role: str, **tags):
    """A dataclass field with help text (shown by `--help`), its role (one of `ROLES`), optionally (a check, what it
    allows), and `tags`: `argument` (the `TrainingArguments` field it is), `off` (its value with the speed lever off,
    transformers' own default), `recorded` (kept with each sweep trial), `repeats` (runs differing only in it
    repeat one setting, averaged over) and `path` (may name a local file or folder, which a trial's id names by its
    name alone)."""
    return field(default=default, metadata={"help": help, "allowed": allowed, "role": role, **tags})


POSITIVE = (lambda v: v > 0, "> 0")
NOT_NEGATIVE = (lambda v: v >= 0, ">= 0")
FRACTION = (lambda v: 0 < v < 1, "between 0 and 1, exclusive")
FRACTION_OR_ZERO = (lambda v: 0 <= v < 1, "0 (none) or a fraction below 1")
STEPS = (lambda v: v == -1 or v > 0, "-1 (all epochs) or > 0")
A_LAYER_CHOICE = (lambda v: v in ("all", "head") or (v.isdigit() and int(v) > 0),
                  "all, head, or a number of last blocks above 0")
# A run that trains less, with no learning rate given, learns at this many times the profile's rate: LoRA's adapters
# start at zero, a frozen body's last blocks and head must move further (notebook 09; MiniLM in docs/results.md)
LORA_RATE_FACTOR = 10
LAYERS_RATE_FACTOR = 20
Profile = Literal["auto", "full", "quick", "tiny"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS = typing.get_args(Precision)


@dataclass(frozen=True)
class Settings:
    """Every knob of the series; build it with `helpers.get_settings()`, change one with `dataclasses.replace`.

    Frozen: what a run was told stays what it ran with. Each field's `role` (one of `ROLES`) says what it is for.
    """

    profile: Profile = _knob("auto", "which profile gives the other defaults (auto: full on a CUDA GPU, quick "
                             "elsewhere, tiny offline)", role="profile", recorded=True)
    # data (notebook 01)
    data: str = _knob(DATA_URL, "URL or local path of a .json (array), .jsonl or .csv file", role="split",
                      recorded=True, path=True)
    text_column: str = _knob("headline", "column holding the text", role="split")
    label_column: str = _knob("is_sarcastic", "column holding the label", role="split")
    label_names: str = _knob("not sarcastic,sarcastic", "comma-separated names of label ids 0, 1, ... (text labels "
                             "name themselves)", role="task")
    cache_dir: str = _knob("", "folder for downloads and the tiny model (default cache/ in the working folder)",
                           role="folder")
    # split (notebook 02)
    test_size: float = _knob(0.25, "fraction of rows held out for the test split", FRACTION, role="split")
    validation_size: float = _knob(0.1, "fraction of the train rows set aside to choose the best epoch on (0: none, "
                                   "the tutorial's setup, which chooses on the test rows)", FRACTION_OR_ZERO,
                                   role="split", recorded=True)
    stratify: bool = _knob(False, "keep the class balance in every split", role="split")
    split_seed: int = _knob(123, "random_state of the split (123 is the tutorial's)", role="split")
    train_rows: int = _knob(0, "use only this many train rows (0: all)", NOT_NEGATIVE, role="split")
    test_rows: int = _knob(0, "use only this many test rows (0: all)", NOT_NEGATIVE, role="split")
    # tokenize (notebook 03)
    model: str = _knob("distilbert-base-uncased", "model name on the hub, or a local folder", role="task",
                       recorded=True, path=True)
    max_length: int = _knob(128, "longest input in tokens; longer texts are truncated", POSITIVE, role="training")
    # fine-tune (notebook 04): the tutorial's TrainingArguments
    output_dir: str = _knob("", "folder for checkpoints, the model and metrics (default results/PROFILE in the "
                            "working folder)", role="folder", argument="output_dir")
    resume: bool = _knob(False, "continue the unfinished run in output_dir from its last checkpoint", role="folder")
    overwrite: bool = _knob(False, "replace a trained model (and checkpoints) already in output_dir", role="folder")
    keep_checkpoints: bool = _knob(False, "keep the checkpoints (checkpoint-*) once the model is saved; until then "
                                   "they are kept, so that a stopped run can be resumed", role="folder")
    epochs: float = _knob(3.0, "number of training epochs", POSITIVE, role="training", argument="num_train_epochs")
    max_steps: int = _knob(-1, "stop after this many optimizer steps (-1: run all epochs)", STEPS, role="training",
                           argument="max_steps")
    train_batch_size: int = _knob(16, "batch size for training", POSITIVE, role="training",
                                  argument="per_device_train_batch_size")
    eval_batch_size: int = _knob(64, "batch size for evaluation and prediction", POSITIVE, role="run",
                                 argument="per_device_eval_batch_size")
    learning_rate: float = _knob(5e-5, "peak learning rate", POSITIVE, role="training", argument="learning_rate")
    warmup_steps: float = _knob(500.0, "warmup steps (below 1: a fraction of all steps)", NOT_NEGATIVE,
                                role="training", argument="warmup_steps")
    weight_decay: float = _knob(0.01, "AdamW weight decay", NOT_NEGATIVE, role="training", argument="weight_decay")
    lr_scheduler: Literal["linear", "cosine", "constant_with_warmup"] = _knob(
        "linear", "how the learning rate falls after warmup (linear: the tutorial's)", role="training",
        argument="lr_scheduler_type")
    label_smoothing: float = _knob(0.0, "share of each label's probability the loss spreads over all classes "
                                   "(0: none)", FRACTION_OR_ZERO, role="training", argument="label_smoothing_factor")
    class_weights: bool = _knob(False, "weight the loss by inverse class frequency, for imbalanced data",
                                role="training")
    logging_steps: int = _knob(200, "log the training loss every this many steps", POSITIVE, role="run",
                               argument="logging_steps")
    report_to: str = _knob("none", "where training logs go besides the notebook: none, or an installed tracker "
                           "transformers supports, e.g. tensorboard (pip install tensorboard; logs in "
                           "OUTPUT_DIR/runs/, or $TENSORBOARD_LOGGING_DIR; watch with tensorboard --logdir)",
                           role="run")
    seed: int = _knob(42, "seed of the model head, the data order and dropout", role="training", argument="seed",
                      recorded=True, repeats=True)
    # speed (notebooks 03 and 04): each lever can be turned off (`off`: transformers' own default)
    precision: Precision = _knob("auto", "auto: bf16 where native, fp16 on older CUDA GPUs, fp32 on Apple GPUs",
                                 role="training", off="fp32")
    group_by_length: bool = _knob(True, "train on batches of similar length (less padding)", role="training",
                                  off=False)
    sort_predictions: bool = _knob(True, "predict in batches sorted by length, answers in the original order",
                                   role="run", off=False)
    reuse_memory: bool = _knob(True, "keep memory a step frees for the next step (glibc), not fresh pages each time",
                               role="run", off=False)
    attention: Literal["auto", "eager", "sdpa"] = _knob(
        "auto", "how attention is computed (transformers' attn_implementation): auto is eager on a CPU, where short "
        "texts train faster without the fused kernel, sdpa on a GPU; the same result either way", role="run",
        off="sdpa")
    optimizer: Literal["adamw_torch_fused", "adamw_torch"] = _knob(
        "adamw_torch_fused", "TrainingArguments' optim: AdamW in one fused kernel per step, or the same AdamW as a "
        "loop over the weights", role="run", argument="optim", off="adamw_torch")
    freeze_embeddings: bool = _knob(False, "keep the pretrained word embeddings as they are: a step no longer "
                                    "updates their table (a third to half of a small model's weights)",
                                    role="training", off=False)
    # train less (notebook 09)
    train_layers: str = _knob("all", "which weights learn: all, head (the classification head only), or N (the last "
                              "N blocks and the head); the rest stay as pretrained; with no learning rate given, the "
                              f"rate is {LAYERS_RATE_FACTOR} times the profile's", A_LAYER_CHOICE, role="training")
    lora_rank: int = _knob(0, "rank of LoRA adapters (peft) on every linear layer of the blocks, the head (and what "
                           "follows the blocks: a final norm, BERT's pooler) trained too, the rest frozen (0: no "
                           f"LoRA); with no learning rate given, the rate is {LORA_RATE_FACTOR} times the profile's",
                           NOT_NEGATIVE, role="training")
    lora_alpha: int = _knob(16, "LoRA's scale: the adapters' update is multiplied by lora_alpha / lora_rank",
                            POSITIVE, role="training")


# What each profile changes from the defaults above.
PROFILES: dict[str, dict] = {
    "full": {},
    # 6,000 train rows (600 of them for validation), 2 epochs, every test row: on a laptop CPU in minutes, and
    # clearly above TF-IDF on the same rows (docs/results.md)
    "quick": {"train_rows": 6000, "epochs": 2, "warmup_steps": 0.1, "logging_steps": 25},
    # the tiny model's body is random, not pretrained: it needs a large rate, reached after a warmup (without one,
    # 4 seeds of 40-49 ended at the commonest class); float32 on every machine, so a class gets the same figures
    # (bfloat16's rounding, where a CPU has it, changes them with the CPU and the number of threads)
    "tiny": {"data": str(SAMPLE_DATA), "model": TINY_MODEL, "learning_rate": 3e-3, "warmup_steps": 0.1,
             "precision": "fp32", "logging_steps": 2, "eval_batch_size": 32},
}

FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
TYPES = typing.get_type_hints(Settings)


def having(*roles: str) -> tuple[str, ...]:
    """The names of the settings whose role is one of `roles`, in `Settings`' order: `having("split")` are the
    settings that decide which rows land where (notebook 02)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}")
    return tuple(name for name, f in FIELDS.items() if f.metadata["role"] in roles)


def tagged(tag: str) -> dict:
    """Each setting carrying `tag` and its value: `tagged("argument")`, the `TrainingArguments` field of each setting
    that is one (notebook 04); `tagged("off")`, the speed levers turned off (docs/speed.md)."""
    return {name: f.metadata[tag] for name, f in FIELDS.items() if tag in f.metadata}


def choices(name: str) -> tuple:
    """The values setting `name` takes when its type is a `Literal`, else () (any value of its type)."""
    return typing.get_args(TYPES[name]) if typing.get_origin(TYPES[name]) is Literal else ()


def kind(name: str) -> type:
    """The Python type of setting `name`'s values: int, float, bool or str (a `Literal` of strings: str)."""
    return str if choices(name) else TYPES[name]


def _shown(value) -> str:
    """A setting's value as the settings page shows it: paths inside the project relative to it."""
    return f"`{str(value).replace(str(ROOT) + '/', '') if value != '' else '(empty)'}`"


def settings_page() -> str:
    """docs/settings.md: the text of helpers/settings_page.md, then a row per field: its flag, variable, default, what
    each profile changes and its help (the README links it; `python -m helpers settings --page` prints it)."""
    lines = [(PACKAGE / "settings_page.md").read_text().rstrip("\n")]
    for name, f in FIELDS.items():
        quick, tiny = (_shown(PROFILES[p][name]) if name in PROFILES[p] else "" for p in ("quick", "tiny"))
        among = f" (one of {', '.join(map(str, choices(name)))})" if choices(name) else ""
        lines.append(f"| `{name}` | `{flag(name)}` | `{variable(name)}` | {_shown(f.default)} | {quick} | {tiny} | "
                     f"{f.metadata['help']}{among} |")
    return "\n".join(lines) + "\n"


TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _parse(kind: type, value):
    """`value` as a `kind` (int, float, bool or str); raise ValueError when it is not one."""
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text not in TRUE | FALSE:
                raise ValueError(value)
            return text in TRUE
        value = float(text)
    if isinstance(value, bool) != (kind is bool):
        raise ValueError(value)
    if kind is int and not float(value).is_integer():
        raise ValueError(value)
    return kind(value)


def coerce(name: str, value):
    """Check `value` for field `name` and turn it into the field's type (strings come from TC_ or flags)."""
    if name not in FIELDS:
        raise UserError(f"unknown setting {name!r}{_did_you_mean(name, FIELDS)}; known settings: {', '.join(FIELDS)}")
    try:
        value = _parse(kind(name), value)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"setting {name}={value!r} is not a valid {kind(name).__name__}") from None
    allowed = FIELDS[name].metadata["allowed"]
    if choices(name):
        allowed = (choices(name).__contains__, "one of " + ", ".join(choices(name)))
    if allowed and not allowed[0](value):
        raise UserError(f"setting {name}={value!r} is out of range; it must be {allowed[1]}")
    return value


def env_overrides(environ: typing.Mapping[str, str] | None = None) -> dict:
    """The settings named by `TC_*` environment variables (`TC_EPOCHS=1` sets `epochs`)."""
    environ = os.environ if environ is None else environ
    found = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key == HOME_VARIABLE:
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in FIELDS:
            variables = [variable(n) for n in FIELDS]
            raise UserError(f"unknown environment variable {key}{_did_you_mean(key, variables)}; "
                            f"known ones: {', '.join(variables)}")
        found[name] = value
    return found


def _did_you_mean(name: str, known: typing.Iterable[str]) -> str:
    """" (did you mean TC_EPOCHS?)" for the known name closest to a mistyped one (difflib), else ""."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def on_command_line() -> bool:
    """True in `python -m helpers ...` (under torchrun too): hints name flags there, `TC_` variables elsewhere."""
    main = Path(sys.argv[0] if sys.argv else "")
    return main.name == "__main__.py" and main.parent.name == "helpers"


def variable(name: str) -> str:
    """The environment variable of setting `name`: `TC_LEARNING_RATE` (notebook 01)."""
    return ENV_PREFIX + name.upper()


def flag(name: str, value=None) -> str:
    """The command line's flag of setting `name`, with `value` when given: `--learning-rate 1e-3`, `--stratify`,
    `--no-stratify`."""
    dashed = "--" + name.replace("_", "-")
    if value is None:
        return dashed
    if kind(name) is bool:
        return dashed if _parse(bool, value) else "--no-" + dashed[2:]
    return f"{dashed} {shlex.quote(str(value))}"


def how_to_set(name: str, value=None) -> str:
    """How a user sets `name` where they are: `--name value` on the command line, `TC_NAME=value` elsewhere."""
    if on_command_line():
        return flag(name, value)
    return variable(name) + ("" if value is None else f"={value}")


def rate_factor(lora_rank: int, train_layers: str) -> int:
    """How many times the profile's learning rate a run learns at when none is given: `LORA_RATE_FACTOR` with LoRA,
    `LAYERS_RATE_FACTOR` with only the last blocks or the head learning, else 1 (notebook 09)."""
    if lora_rank:
        return LORA_RATE_FACTOR
    return LAYERS_RATE_FACTOR if train_layers != "all" else 1


def setting_sources(settings: Settings, flags: typing.Collection[str], requested: str) -> dict[str, str]:
    """Where each value of `settings` comes from: "flag", "variable TC_X", "profile P" or "default"
    (`python -m helpers settings`); `flags` are the settings given as flags or arguments, `requested` the profile
    asked for (auto resolves to another)."""
    sources = {name: "default" for name in FIELDS} | {name: f"profile {settings.profile}" for name in
                                                        PROFILES.get(settings.profile, {})}
    factor = rate_factor(settings.lora_rank, settings.train_layers)
    if factor != 1:
        sources["learning_rate"] = f"training less: {factor} x the profile's"
    sources |= {name: f"variable {variable(name)}" for name in env_overrides()} | {name: "flag" for name in flags}
    if requested == "auto":
        sources["profile"] += f" (auto: {settings.profile})" if sources["profile"] != "default" else \
            f", auto chose {settings.profile}"
    return sources


def settings_table(settings: Settings, flags: typing.Collection[str], requested: str) -> str:
    """The settings in effect, a line each: name, value and where it comes from (`python -m helpers settings`)."""
    sources = setting_sources(settings, flags, requested)
    values = {name: str(getattr(settings, name)) for name in FIELDS}
    width = max(map(len, FIELDS)), max(len(value) for value in values.values() if len(value) <= 60)
    return "\n".join(f"{name:<{width[0]}}  {values[name]:<{width[1]}}  {sources[name]}" for name in FIELDS)


def is_tiny(model: str) -> bool:
    """True when `model` names the tiny model's folder (notebook 03 builds it)."""
    return Path(model).name == TINY_MODEL


def is_url(source: str) -> bool:
    """True when `source` is an http(s) or file URL rather than a path."""
    return urllib.parse.urlparse(source).scheme in {"http", "https", "file"}


def cached_path(settings: Settings) -> Path:
    """Where the download of `settings.data` is (or will be) kept."""
    name = Path(urllib.parse.urlparse(settings.data).path).name or "data.json"
    return Path(settings.cache_dir).expanduser() / name


def checkout_root(package: Path = PACKAGE) -> Path | None:
    """The checkout `helpers` runs from (its parent holds pyproject.toml and notebooks/), or None when installed."""
    root = package.parent
    if {"site-packages", "dist-packages"} & set(root.parts):
        return None
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def working_folder(environ: typing.Mapping[str, str] | None = None) -> Path:
    """The folder downloads, the tiny model, results and build output go under: `TC_HOME` when set, else the
    checkout's root when `helpers` runs from one, else the current folder; never the install folder (notebook 00)."""
    named = (os.environ if environ is None else environ).get(HOME_VARIABLE, "").strip()
    if named:
        return Path(named).expanduser().resolve()
    return checkout_root() or Path.cwd().resolve()


def _where_from() -> str:
    """What to change for another working folder: the variable, or the folder to start from."""
    if os.environ.get(HOME_VARIABLE, "").strip():
        return f"set {HOME_VARIABLE} to a folder you can write to"
    return f"start from a folder you can write to, or set {HOME_VARIABLE} to one"


def usable_working_folder() -> Path:
    """`working_folder()`, or one line saying why files cannot go there (missing, not a folder, read-only)."""
    folder = working_folder()
    if not folder.exists():
        raise UserError(f"the working folder {folder} does not exist; create it, or {_where_from()}")
    if not folder.is_dir():
        raise UserError(f"the working folder {folder} is not a folder; {_where_from()}")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise UserError(f"cannot write to the working folder {folder} ({error.strerror or error}); "
                        f"{_where_from()}") from None
    return folder


def _has_cuda() -> bool:
    """True when training runs on a CUDA GPU (helpers/hardware.py decides the device)."""
    from .hardware import device

    return device() == "cuda"


def auto_profile() -> str:
    """The profile `auto` takes when data and model can be reached: "full" on a CUDA GPU, "quick" elsewhere, an Apple
    GPU included (faster than a laptop's CPU, far slower than a CUDA GPU). Notebook 00 prints the choice."""
    return "full" if _has_cuda() else "quick"


def requested_profile(profile: str | None = None) -> str:
    """The profile asked for: `profile`, else `TC_PROFILE`, else "auto" (before auto picks one; notebook 00)."""
    return coerce("profile", profile or env_overrides().get("profile") or "auto")


def build_settings(profile: str | None = None, **overrides) -> Settings:
    """The `Settings`: defaults, then the profile, then `TC_*` variables, then `overrides` (no network I/O). `auto` is
    the profile this machine takes with a network; `helpers.get_settings` falls back to `tiny` without one."""
    env = env_overrides()  # a mistyped variable: said before auto asks for the device
    profile = requested_profile(profile)
    profile = auto_profile() if profile == "auto" else profile
    env.pop("profile", None)
    chosen = {name: coerce(name, value) for name, value in {**env, **overrides}.items()}
    # the profile's values, the chosen ones on top; the folders and the tiny model's path filled in (frozen after)
    values = {name: coerce(name, value) for name, value in {**PROFILES[profile], **chosen}.items()}
    if not values.get("cache_dir") or not values.get("output_dir"):
        home = usable_working_folder()
        values["cache_dir"] = values.get("cache_dir") or str(home / "cache")
        values["output_dir"] = values.get("output_dir") or str(home / "results" / profile)
    factor = rate_factor(values.get("lora_rank", 0), str(values.get("train_layers", "all")))
    if factor != 1 and "learning_rate" not in chosen:  # training less learns at a higher rate (notebook 09)
        values["learning_rate"] = float(f"{factor * values.get('learning_rate', FIELDS['learning_rate'].default):.3g}")
    if values.get("model", FIELDS["model"].default) == TINY_MODEL:
        values["model"] = str(Path(values["cache_dir"]) / TINY_MODEL)
    settings = Settings(**values, profile=profile)
    if settings.lora_rank and settings.train_layers != "all":
        raise UserError(f"settings lora_rank={settings.lora_rank} and train_layers={settings.train_layers!r} both "
                        f"choose which weights learn; set one of them ({how_to_set('lora_rank', 0)}, or "
                        f"{how_to_set('train_layers', 'all')})")
    if settings.precision == "fp16" and not _has_cuda():
        raise UserError("setting precision='fp16' needs a CUDA GPU; use bf16 or fp32 on a CPU, fp32 on an Apple "
                        "GPU, or leave auto")
    return settings
