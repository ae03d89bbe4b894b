"""Resolve and load models and tokenizers: hub name or folder, the tiny model, trained models, one-line errors.

Introduced in notebook 03 (tokenize); notebook 04 loads the model to fine-tune, notebook 05 reloads it, notebook 09
chooses which of its weights learn (the last blocks, the head, or LoRA adapters through peft). Nothing else in
`helpers` calls `from_pretrained`; the libraries are imported where they are used, so that `import helpers` is quick.
"""

from __future__ import annotations

import functools
import json
import math
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from .download import no_connection
from .reach import hub_cached, model_source
from .settings import Settings, UserError, first_line, how_to_set
from .tiny import ensure_tiny_model

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@functools.cache
def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when it answers; asked once a process (notebook 03).
    One request through huggingface_hub's own HTTP client. A host that does not resolve, refuses or has no route would
    cost about 30 s of huggingface_hub's retries per uncached file; knowing it, `from_pretrained` reads the cache only
    (`local_files_only`). A slow answer is left to the hub's retries."""
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
            f"cache; set {how_to_set('model')} to a local model folder, fetch it while online (python -m helpers "
            f"prefetch), or use {how_to_set('profile', 'tiny')} offline")


def check_hub_model(name: str) -> None:
    """Fail at once, in one line, when hub model `name` is neither cached nor reachable: before transformers (and
    torch) are imported, which takes seconds (`python -m helpers train`)."""
    if model_source(name) != "hub":
        return
    why = hub_unreachable()
    if why and not hub_cached(name):
        raise UserError(not_reachable(name, why))


def from_pretrained(auto_class, name: str, **kwargs):
    """`auto_class.from_pretrained(name)` with remote code off, failing in one clear line (notebook 03).
    A hub name, when the hub cannot be reached at all (`hub_unreachable`), is read from the cache only: at once, with no
    retries."""
    unreachable = hub_unreachable() if model_source(name) == "hub" else None
    offline = {"local_files_only": True} if unreachable else {}
    if unreachable and hasattr(auto_class, "_model_mapping"):  # with peft installed, transformers 5.24's Auto model
        offline["adapter_kwargs"] = {"local_files_only": True}  # classes ask the hub for adapter_config.json otherwise
    try:
        return auto_class.from_pretrained(ensure_tiny_model(name), trust_remote_code=False, **offline, **kwargs)
    except (OSError, ValueError) as error:
        if unreachable:
            raise UserError(not_reachable(name, unreachable)) from None
        raise UserError(f"cannot load model {name!r} ({first_line(error)}); set {how_to_set('model')} to a hub name "
                        f"you can reach or a local model folder, or use {how_to_set('profile', 'tiny')} offline"
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
                            f"so its batches cannot be padded; set {how_to_set('model')} to another model")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def token_limit(tokenizer: PreTrainedTokenizerBase, config) -> int:
    """The most tokens a model takes: its tokenizer's limit, or its position table's (`max_position_embeddings`) when
    that is lower, as a longer input would index past it (notebooks 05, 09)."""
    return min(tokenizer.model_max_length, getattr(config, "max_position_embeddings", None) or math.inf)


def load_tokenizer(settings: Settings) -> PreTrainedTokenizerBase:
    """The fast tokenizer that belongs to `settings.model`, as notebook 03's `AutoTokenizer.from_pretrained`, with a
    padding token (its end-of-text token) when the model has none, and no longer inputs than the model's positions."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = with_padding(from_pretrained(AutoTokenizer, settings.model), settings.model)
    tokenizer.model_max_length = token_limit(tokenizer, from_pretrained(AutoConfig, settings.model))  # notebook 09
    return tokenizer


def check_classifier(model: str, names: list[str]) -> None:
    """Fail in one line unless `model` classifies texts and, if fine-tuned, knows exactly `names` (notebook 04)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    config = from_pretrained(AutoConfig, model)
    if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise UserError(f"model {model!r} is a {config.model_type!r} model, which cannot classify sequences; "
                        f"set {how_to_set('model')} to a text encoder such as distilbert-base-uncased")
    fine_tuned = any(arch.endswith("ForSequenceClassification") for arch in config.architectures or [])
    saved = [config.id2label[i] for i in sorted(config.id2label)]
    if fine_tuned and saved != list(names):
        raise UserError(f"model {model!r} was fine-tuned for the labels {saved}, but the data has {list(names)}; "
                        "use a model trained on this data, or a pretrained one to fine-tune")


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
    # in float32: the Trainer's mixed precision computes in half precision, keeping float32 weights
    model = from_pretrained(AutoModelForSequenceClassification, settings.model, num_labels=len(names),
                            id2label=dict(enumerate(names)), label2id={name: i for i, name in enumerate(names)},
                            dtype=torch.float32, attn_implementation=attention(settings.attention))
    # A decoder-only model classifies from each row's last real token, found by the padding token's id.
    model.config.pad_token_id = tokenizer.pad_token_id
    model = train_less(model, settings)
    if settings.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)  # the table stays; the rest learns
    return model


def blocks(model: PreTrainedModel) -> torch.nn.ModuleList:
    """The model's stack of transformer blocks, found by its structure: the list of modules in its body
    (`base_model`) as long as its config's `num_hidden_layers` (notebook 09)."""
    import torch

    count = model.config.num_hidden_layers
    found = [module for module in model.base_model.modules()
             if isinstance(module, torch.nn.ModuleList) and len(module) == count]
    if not found:
        raise UserError(f"cannot find the {count} blocks of model {model.config.model_type!r}: no list of {count} "
                        "modules in its body; use train_layers all and lora_rank 0 with this model")
    return found[0]


def head_modules(model: PreTrainedModel) -> list[str]:
    """The names of the classification head's modules: the model's children with weights, outside its body
    (DistilBERT: pre_classifier and classifier; BERT: classifier; GPT-2 and Llama: score) (notebook 09)."""
    return [name for name, child in model.named_children()
            if child is not model.base_model and any(True for _ in child.parameters())]


def after_blocks(model: PreTrainedModel) -> list[str]:
    """The names of the body's parts with weights that follow its blocks: what a block's output passes through on its
    way to the head (BERT: bert.pooler; GPT-2: transformer.ln_f; Llama: model.norm; DistilBERT: none) (notebook 09)."""
    stack, body = blocks(model), model.base_model
    prefix = next(name for name, module in model.named_modules() if module is body)
    names = [name for name, _ in body.named_children()]
    holder = next(i for i, (_, child) in enumerate(body.named_children())
                  if child is stack or any(module is stack for module in child.modules()))
    return [f"{prefix}.{name}" if prefix else name for name in names[holder + 1:]
            if any(True for _ in getattr(body, name).parameters())]


def trainable_parameters(model: torch.nn.Module) -> int:
    """How many weights a step updates: those with `requires_grad` (notebook 09)."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


def train_only(model: PreTrainedModel, layers: str) -> PreTrainedModel:
    """`model` with only some weights learning: `all`, `head`, or the last N blocks with what follows them in the body
    (a final norm, BERT's pooler) and the head; every other weight's `requires_grad` off (notebook 09)."""
    if layers == "all":
        return model.requires_grad_(True)
    stack = blocks(model)
    count = 0 if layers == "head" else int(layers)
    if count > len(stack):
        raise UserError(f"setting train_layers={layers!r} asks for more blocks than model {model.config.model_type!r}"
                        f" has ({len(stack)}); use at most {len(stack)}, or all")
    model.requires_grad_(False)
    if count:
        for block in stack[len(stack) - count:]:
            block.requires_grad_(True)
        for name in after_blocks(model):  # a final norm, a pooler
            model.get_submodule(name).requires_grad_(True)
    for name in head_modules(model):
        getattr(model, name).requires_grad_(True)
    return model


def lora_config(model: PreTrainedModel, rank: int, alpha: int):
    """peft's `LoraConfig` for classification: adapters on every linear layer inside the blocks (GPT-2's `Conv1D`
    too), named by a pattern of their paths, and the head, with what follows the blocks in the body (`after_blocks`),
    trained and saved whole (`modules_to_save`) (notebook 09)."""
    import re

    import torch
    from peft import LoraConfig
    from transformers.pytorch_utils import Conv1D

    stack = blocks(model)
    prefix = next(name for name, module in model.named_modules() if module is stack)
    inside = sorted({name.split(".", 1)[1] for name, module in stack.named_modules()
                     if isinstance(module, (torch.nn.Linear, Conv1D)) and "." in name})
    conv = any(isinstance(module, Conv1D) for module in stack.modules())
    return LoraConfig(task_type="SEQ_CLS", r=rank, lora_alpha=alpha,
                      target_modules=rf"{re.escape(prefix)}\.\d+\.({'|'.join(map(re.escape, inside))})",
                      modules_to_save=after_blocks(model) + head_modules(model), fan_in_fan_out=conv)


def train_less(model: PreTrainedModel, settings: Settings):
    """`model` as `settings.train_layers` and `settings.lora_rank` say: all of it learning, some of it (`train_only`),
    or wrapped by peft with LoRA adapters (a `PeftModel`) (notebook 09)."""
    if not settings.lora_rank:
        return train_only(model, settings.train_layers)
    from peft import get_peft_model

    from .hardware import quiet_transformers

    with quiet_transformers():
        return get_peft_model(model, lora_config(model, settings.lora_rank, settings.lora_alpha))


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


def check_fine_tuned(folder: str | Path) -> None:
    """Fail in one line unless `folder` holds a whole fine-tuned classifier: a config naming one (a
    `...ForSequenceClassification`) and whole weights (notebook 05). The one check: `is_trained` asks it too."""
    config = Path(folder) / "config.json"
    if not config.is_file():
        raise UserError(f"no trained model in {folder}; train one first (python -m helpers train) or pass the folder a "
                        "training saved (OUTPUT_DIR/model): it has no config.json")
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except (ValueError, AttributeError):
        raise UserError(f"{config} is not a model's config (not a JSON object); pass the folder a training saved "
                        "(OUTPUT_DIR/model)") from None
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise UserError(f"{folder} holds a {', '.join(architectures) or 'model'}, not a fine-tuned classifier; pass "
                        "the folder a training saved (OUTPUT_DIR/model, python -m helpers train)")
    if not has_weights(Path(folder)):
        raise UserError(unfinished_model(folder))


def unfinished_model(folder: Path) -> str:
    """The one-line error for a model folder whose weights are missing or cut short (notebook 04)."""
    return (f"{folder} holds an unfinished model (its weights are missing or cut short: a save was interrupted); "
            f"train it again with {how_to_set('overwrite', True)}")


def is_trained(folder: Path) -> bool:
    """True when `folder` holds a whole fine-tuned classifier (`check_fine_tuned` passes) (notebook 04)."""
    try:
        check_fine_tuned(folder)
    except UserError:
        return False
    return True


def is_adapter(folder: str | Path) -> bool:
    """True when `folder` holds a LoRA run's adapter (peft's adapter_config.json), not a whole model (notebook 09)."""
    return (Path(folder) / "adapter_config.json").is_file()


def save_adapter_config(model, folder: Path) -> None:
    """Beside a saved adapter, the config of the classifier under peft's `model`: its labels, its padding token, and
    its class as the architecture, as `save_pretrained` writes them (notebook 09)."""
    base = model.get_base_model()
    base.config.architectures = [type(base).__name__]
    base.config.save_pretrained(folder)


def load_adapter(folder: str | Path, attention_choice: str = "auto", merge: bool = True) -> PreTrainedModel:
    """The base model the adapter in `folder` was trained on, with the saved LoRA adapters and head put on it by peft
    (`PeftModel.from_pretrained`), merged into its weights (`merge_and_unload`) unless `merge` is False (notebook 09).
    The folder's config.json gives the labels; peft's adapter_config.json names the base model."""
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from .hardware import attention, quiet_transformers

    base = json.loads((Path(folder) / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
    if not base:
        raise UserError(f"the adapter in {folder} does not name its base model (base_model_name_or_path in "
                        "adapter_config.json); train it again with --overwrite")
    try:
        model_source(base)
    except UserError:
        raise UserError(f"the LoRA adapter in {folder} goes on the base model {base}, which is not there; put that "
                        "model folder back, or train again from a model you have") from None
    config = from_pretrained(AutoConfig, str(folder))
    with quiet_transformers():  # "newly initialized" head weights: the adapter's saved head replaces them
        model = from_pretrained(AutoModelForSequenceClassification, base, config=config,
                                attn_implementation=attention(attention_choice))
        model = PeftModel.from_pretrained(model, str(folder))
    return model.merge_and_unload() if merge else model


def load_trained(folder: str | Path, names: list[str] | None = None, attention_choice: str = "auto"
                 ) -> tuple[PreTrainedModel, object]:
    """The saved model and its tokenizer from `folder`; with `names`, it must know exactly those; attention as
    `hardware.attention(attention_choice)` (notebook 05); a LoRA run's adapter comes on its base model, merged
    (`load_adapter`, notebook 09)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .hardware import attention

    check_fine_tuned(folder)
    if names is not None:
        check_classifier(str(folder), names)
    tokenizer = with_padding(from_pretrained(AutoTokenizer, str(folder)), str(folder))
    if is_adapter(folder):
        model = load_adapter(folder, attention_choice)
    else:
        model = from_pretrained(AutoModelForSequenceClassification, str(folder),
                                attn_implementation=attention(attention_choice))
    model.config.pad_token_id = tokenizer.pad_token_id  # as load_model: a model saved without it still pads right
    return model, tokenizer
