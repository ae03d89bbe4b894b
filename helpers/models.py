"""Resolve and load models and tokenizers: hub name or folder, the tiny model, trained models, one-line errors.

Introduced in notebook 03 (tokenize); notebook 04 loads the model to fine-tune, notebook 05 reloads it.
Nothing else in `helpers` calls `from_pretrained`. Whether the data and the model can be reached, and so the `auto`
profile's offline fallback (`helpers.get_settings`), is `helpers/reach.py`'s, in the settings layer below; here is
only whether the hub answers before `from_pretrained` (`hub_unreachable`).
The libraries are imported where they are used, so that `import helpers` (and a typo on the command line) stays quick.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from .data import no_connection
from .reach import hub_cached, looks_like_path
from .settings import Settings, UserError, is_tiny
from .tiny import ensure_tiny_model

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@functools.cache
def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when it answers; asked once a process (notebook 03).

    One request through huggingface_hub's own HTTP client (its endpoint, proxies and certificates). A host whose
    name does not resolve, or that refuses the connection or has no route, will not answer the next second either,
    yet huggingface_hub retries such a failure five times over about 30 s when the file is not cached; knowing it
    here, `from_pretrained` reads the cache only (`local_files_only`). A slow answer is left to the hub's retries.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        get_session().head(constants.ENDPOINT, timeout=5.0, follow_redirects=False)
    except Exception as error:  # the HTTP client's own classes wrap the operating system's reason
        reason = no_connection(error)
        host = urllib.parse.urlparse(constants.ENDPOINT).netloc or constants.ENDPOINT
        return f"{host}: {reason.strerror or reason}" if reason else None
    return None


def not_reachable(name: str, why: str) -> str:
    """The one-line error for hub model `name` when the hub cannot be reached (`why`) and the model is not cached."""
    return (f"cannot load model {name!r}: the hub cannot be reached ({why}) and the model is not in the Hugging Face "
            "cache; set TC_MODEL (or --model) to a local model folder, fetch it while online (python -m helpers "
            "prefetch), or use TC_PROFILE=tiny (--profile tiny) offline")


def check_hub_model(name: str) -> None:
    """Fail at once, in one line, when hub model `name` is neither cached nor reachable: before transformers (and
    torch) are imported, which takes seconds (`python -m helpers train`)."""
    if is_tiny(name) or looks_like_path(name) or Path(name).expanduser().is_dir():
        return
    why = hub_unreachable()
    if why and not hub_cached(name):
        raise UserError(not_reachable(name, why))


def from_pretrained(auto_class, name: str, **kwargs):
    """`auto_class.from_pretrained(name)` with remote code off, failing in one clear line (notebook 03).

    A hub name, when the hub cannot be reached at all (`hub_unreachable`), is read from the cache only: at once, with
    no retries.
    """
    if looks_like_path(name) and not Path(name).expanduser().is_dir() and not is_tiny(name):
        raise UserError(f"model folder {name} does not exist; set TC_MODEL (or --model) to a model folder or hub name")
    from_hub = not is_tiny(name) and not Path(name).expanduser().is_dir()
    unreachable = hub_unreachable() if from_hub else None
    try:
        return auto_class.from_pretrained(ensure_tiny_model(name), trust_remote_code=False,
                                          **({"local_files_only": True} if unreachable else {}), **kwargs)
    except (OSError, ValueError) as error:
        if unreachable:
            raise UserError(not_reachable(name, unreachable)) from None
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"cannot load model {name!r} ({first}); set TC_MODEL (or --model) to a hub name you can reach "
            "or a local model folder, or use TC_PROFILE=tiny offline"
        ) from None


def ensure_model(settings: Settings) -> str:
    """`settings.model`, ready for `from_pretrained`: the tiny model built if needed, else one line (notebook 03)."""
    from transformers import AutoConfig

    from_pretrained(AutoConfig, settings.model)
    return settings.model


def with_padding(tokenizer: PreTrainedTokenizerBase, name: str) -> PreTrainedTokenizerBase:
    """`tokenizer`, padding with its end-of-text token when it has no padding token, as notebook 03 does:
    decoder-only models (GPT-2, Llama, Qwen) have none, and batches of headlines of different lengths need one."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise UserError(f"model {name!r} has a tokenizer with neither a padding token nor an end-of-text token, "
                            "so its batches cannot be padded; set TC_MODEL (or --model) to another model")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(settings: Settings) -> PreTrainedTokenizerBase:
    """The fast tokenizer that belongs to `settings.model`, as notebook 03's `AutoTokenizer.from_pretrained`, with a
    padding token (its end-of-text token) when the model has none."""
    from transformers import AutoTokenizer

    return with_padding(from_pretrained(AutoTokenizer, settings.model), settings.model)


def check_classifier(model: str, names: list[str]) -> None:
    """Fail in one line unless `model` classifies texts and, if fine-tuned, knows exactly `names` (notebook 04)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    config = from_pretrained(AutoConfig, model)
    if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise UserError(
            f"model {model!r} is a {config.model_type!r} model, which cannot classify sequences; "
            "set TC_MODEL (or --model) to a text encoder such as distilbert-base-uncased"
        )
    fine_tuned = any(arch.endswith("ForSequenceClassification") for arch in config.architectures or [])
    saved = [config.id2label[i] for i in sorted(config.id2label)]
    if fine_tuned and saved != list(names):
        raise UserError(
            f"model {model!r} was fine-tuned for the labels {saved}, but the data has {list(names)}; "
            "use a model trained on this data, or a pretrained one to fine-tune"
        )


def load_model(settings: Settings, names: list[str], tokenizer: PreTrainedTokenizerBase | None = None
               ) -> PreTrainedModel:
    """The pretrained body with a fresh classification head for the classes `names`, seeded, told its tokenizer's
    padding token (`load_tokenizer(settings)` unless given), as notebook 04 does; in float32 whatever the
    checkpoint's dtype (a model saved in bfloat16 or float16 would otherwise train in it) (notebook 04)."""
    import torch
    from transformers import AutoModelForSequenceClassification, set_seed

    from .hardware import attention

    check_classifier(settings.model, names)
    tokenizer = tokenizer or load_tokenizer(settings)
    set_seed(settings.seed)  # the new head's weights depend on it
    model = from_pretrained(
        AutoModelForSequenceClassification,
        settings.model,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
        dtype=torch.float32,  # the Trainer's mixed precision computes in half precision, keeping float32 weights
        attn_implementation=attention(settings.attention),
    )
    # A decoder-only model classifies from each row's last real token, found by the padding token's id.
    model.config.pad_token_id = tokenizer.pad_token_id
    if settings.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)  # the table stays; the rest learns
    return model


def has_weights(folder: Path) -> bool:
    """True when `folder` holds complete weights: each safetensors file whole, or PyTorch .bin weights (notebook 04)."""
    from safetensors import SafetensorError, safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return any(folder.glob("pytorch_model*.bin"))
    index = folder / "model.safetensors.index.json"
    try:
        if index.is_file() and not set(json.loads(index.read_text())["weight_map"].values()) <= {f.name for f in files}:
            return False  # a shard missing
        for file in files:
            with safe_open(file, "pt"):  # reads the header, and checks it covers the whole file
                pass
    except (SafetensorError, OSError, ValueError, KeyError, AttributeError):
        return False
    return True


def is_trained(folder: Path) -> bool:
    """True when `folder` holds a complete saved model: its config and whole weights (notebook 04)."""
    return (folder / "config.json").is_file() and has_weights(folder)


def unfinished_model(folder: Path) -> str:
    """The one-line error for a model folder whose weights are missing or cut short (notebook 04)."""
    return (f"{folder} holds an unfinished model (its weights are missing or cut short: a save was interrupted); "
            "train it again with --overwrite (TC_OVERWRITE=1)")


def load_trained(folder: str | Path, names: list[str] | None = None, attention_choice: str = "auto"
                 ) -> tuple[PreTrainedModel, object]:
    """The saved model and its tokenizer from `folder`; with `names`, it must know exactly those; attention as
    `hardware.attention(attention_choice)` (notebook 05)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .hardware import attention

    if not (Path(folder) / "config.json").is_file():
        raise UserError(f"no trained model in {folder}; train one first (python -m helpers train) or pass its folder")
    if not has_weights(Path(folder)):
        raise UserError(unfinished_model(folder))
    if names is not None:
        check_classifier(str(folder), names)
    tokenizer = with_padding(from_pretrained(AutoTokenizer, str(folder)), str(folder))
    model = from_pretrained(AutoModelForSequenceClassification, str(folder),
                            attn_implementation=attention(attention_choice))
    model.config.pad_token_id = tokenizer.pad_token_id  # as load_model: a model saved without it still pads right
    return model, tokenizer
