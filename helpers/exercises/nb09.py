"""The checks of notebook 09 (train less)."""

from __future__ import annotations

import numpy as np

from .core import NotYet, exercise

HEAD = ("pre_classifier", "classifier")  # DistilBERT's classification head
PROJECTIONS = ("q_lin", "k_lin", "v_lin", "out_lin")  # DistilBERT's attention projections


def _learning(model) -> set[str]:
    """The names of `model`'s weights with `requires_grad` on."""
    return {name for name, parameter in model.named_parameters() if parameter.requires_grad}


@exercise("09.1", "`model`, a fresh classifier whose last two blocks and head alone learn (requires_grad)",
          hint="model.requires_grad_(False), then .requires_grad_(True) on model.distilbert.transformer.layer[-2:] "
               "and on each part of the head",
          solution="model.requires_grad_(False)\n"
                   "for block in model.distilbert.transformer.layer[-2:]:\n"
                   "    block.requires_grad_(True)\n"
                   "model.pre_classifier.requires_grad_(True)\n"
                   "model.classifier.requires_grad_(True)")
def check_last_blocks(model) -> str:
    """Notebook 09, exercise 1: exactly the last two blocks and the head learn."""
    blocks = model.distilbert.transformer.layer
    wanted = {f"distilbert.transformer.layer.{len(blocks) - 2 + i}.{name}"
              for i, block in enumerate(blocks[-2:]) for name, _ in block.named_parameters()}
    wanted |= {f"{part}.{name}" for part in HEAD for name, _ in getattr(model, part).named_parameters()}
    learning = _learning(model)
    if any("embeddings" in name for name in learning):
        raise NotYet("the embeddings still learn", "freeze the whole model first: model.requires_grad_(False)")
    missing = sorted({name.rsplit(".", 1)[0] for name in wanted - learning})
    if missing:
        raise NotYet(f"{len(missing)} modules that should learn are frozen, e.g. {missing[0]}",
                     "requires_grad_(True) on each of the last two blocks and on pre_classifier and classifier")
    extra = sorted(learning - wanted)
    if extra:
        raise NotYet(f"{len(extra)} weights learn that should not, e.g. {extra[0]}",
                     "only the last two blocks (layer[-2:]) and the head")
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return f"{count:,} of {model.num_parameters():,} weights learn: the last two blocks and the head"


@exercise("09.2", "`peft_model`, get_peft_model of a fresh classifier with LoRA rank 4 on the four projections",
          hint="LoraConfig(task_type=\"SEQ_CLS\", r=..., target_modules=[...], modules_to_save=[...]) and "
               "get_peft_model(model, config)",
          solution='peft_model = get_peft_model(classifier(), LoraConfig(\n'
                   '    task_type="SEQ_CLS", r=4, lora_alpha=16, target_modules=["q_lin", "k_lin", "v_lin", '
                   '"out_lin"],\n    modules_to_save=["pre_classifier", "classifier"]))')
def check_lora(peft_model) -> str:
    """Notebook 09, exercise 2: LoRA of rank 4 on every attention projection, the whole head trained and saved."""
    from peft import PeftModel

    if not isinstance(peft_model, PeftModel):
        raise NotYet(f"peft_model is a {type(peft_model).__name__}, not a peft model",
                     "get_peft_model(classifier(), LoraConfig(...)) wraps the model")
    config = peft_model.peft_config["default"]
    adapted = {name.rsplit(".", 1)[-1] for name, module in peft_model.named_modules() if hasattr(module, "lora_A")}
    if adapted != set(PROJECTIONS):
        raise NotYet(f"the adapters sit on {sorted(adapted)}", f"target_modules={list(PROJECTIONS)}")
    if config.r != 4:
        raise NotYet(f"the rank is {config.r}", "LoraConfig's r")
    frozen = [part for part in HEAD if not any(f".{part}.modules_to_save." in name and p.requires_grad
                                               for name, p in peft_model.named_parameters())]
    if frozen:
        raise NotYet(f"{', '.join(frozen)} is neither trained nor saved with the adapter",
                     "LoraConfig's task_type, and its modules_to_save naming every module of the head")
    trained, total = peft_model.get_nb_trainable_parameters()
    return f"{trained:,} of {total:,} weights learn ({trained / total:.1%}): adapters and head"


@exercise("09.3", "`last`, for each row of the batch, the position of its last token that is not padding",
          hint="compare input_ids with the padding id, then take for each row the largest position where it differs",
          solution="ids = pair[\"input_ids\"]\nnot_padding = ids != gpt2.config.pad_token_id\n"
                   "last = (torch.arange(ids.shape[1]) * not_padding).argmax(-1)")
def check_last_token(last, input_ids, pad_token_id) -> str:
    """Notebook 09, exercise 3: the position a decoder's classification head reads, row by row."""
    ids = np.asarray(input_ids)
    expected = np.array([max(i for i, token in enumerate(row) if token != pad_token_id) for row in ids])
    last = np.asarray(last).reshape(-1)
    if last.shape != expected.shape:
        raise NotYet(f"last has {last.size} values for {len(expected)} rows", "one position per row (axis -1)")
    if np.array_equal(last, expected + 1):
        raise NotYet("each position is one too far: that counts the real tokens",
                     "positions start at 0: the last real token of n sits at n - 1")
    if not np.array_equal(last, expected):
        raise NotYet(f"last is {last.tolist()}", "the rightmost position of each row whose id is not the padding id")
    return f"the head reads positions {expected.tolist()}: each row's last real token, padding skipped"
