"""The checks of notebook 09 (helpers/exercises/nb09.py): each worked solution passes, two plausible wrong answers
get a `not yet` with a hint, nothing raises; the notebook's starters call the checks and its solutions assert them.
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForSequenceClassification

from helpers import exercises

from support import fails, notebook_cells, notebook_path, passes

HEAD = ["pre_classifier", "classifier"]


@pytest.fixture
def classifier(tiny_model):
    """A factory of fresh tiny classifiers, as notebook 09's `classifier()`."""
    return lambda: AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2)


def last_two_and_head(model):
    """Exercise 1's worked solution on `model`."""
    model.requires_grad_(False)
    for block in model.distilbert.transformer.layer[-2:]:
        block.requires_grad_(True)
    for part in HEAD:
        getattr(model, part).requires_grad_(True)
    return model


def test_09_1_the_last_two_blocks_and_the_head(capsys, classifier):
    """Only the last two blocks and the head learning passes; the head alone, or everything, does not."""
    passes(capsys, "09.1", last_two_and_head(classifier()))
    head = classifier().requires_grad_(False)
    head.pre_classifier.requires_grad_(True)
    head.classifier.requires_grad_(True)
    fails(capsys, "09.1", head, saying="are frozen")
    fails(capsys, "09.1", classifier(), saying="embeddings still learn")
    no_pre = last_two_and_head(classifier())
    no_pre.pre_classifier.requires_grad_(False)
    fails(capsys, "09.1", no_pre, saying="pre_classifier")


def lora(model, targets=("q_lin", "k_lin", "v_lin", "out_lin"), r=4, save=tuple(HEAD), task="SEQ_CLS"):
    """`model` wrapped by peft with LoRA on `targets`, `save` trained and saved with it."""
    return get_peft_model(model, LoraConfig(task_type=task, r=r, lora_alpha=16, target_modules=list(targets),
                                            modules_to_save=list(save) or None))


def test_09_2_lora_on_every_projection(capsys, classifier):
    """All four projections at rank 4 with the whole head saved passes; the query and value projections only, or
    no task type and no modules to save (the head stays frozen), or another rank, do not."""
    passes(capsys, "09.2", lora(classifier()))
    fails(capsys, "09.2", lora(classifier(), targets=("q_lin", "v_lin")), saying="target_modules")
    fails(capsys, "09.2", lora(classifier(), save=(), task=None), saying="neither trained nor saved")
    fails(capsys, "09.2", lora(classifier(), r=8), saying="rank is 8")
    fails(capsys, "09.2", classifier(), saying="not a peft model")


def test_09_3_the_last_real_token(capsys):
    """The rightmost non-padding position passes; the count of real tokens (one too far) and the last position of
    every row (padding not skipped) do not."""
    pad = 0
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, pad, pad], [9, pad, pad, pad]])
    not_padding = ids != pad
    passes(capsys, "09.3", (torch.arange(ids.shape[1]) * not_padding).argmax(-1), ids, pad)
    fails(capsys, "09.3", not_padding.sum(-1), ids, pad, saying="one too far")
    fails(capsys, "09.3", torch.full((3,), ids.shape[1] - 1), ids, pad, saying="last is")


def test_the_notebook_calls_each_check_and_the_solutions_assert_them():
    """Each exercise has a starter cell calling its check, and an asserted worked solution."""
    starters = "\n".join(source for kind, source in notebook_cells(notebook_path("09")) if kind == "code")
    solved = "\n".join(source for kind, source in notebook_cells(notebook_path("09", solutions=True))
                       if kind == "code")
    for key in ("09.1", "09.2", "09.3"):
        assert f'exercises.check("{key}"' in starters and f'assert exercises.check("{key}"' in solved
        assert key in exercises.EXERCISES
