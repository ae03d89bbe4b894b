"""The checks of notebook 08 (small and fast)."""

from __future__ import annotations

import numpy as np

from .core import _close, _number, exercise, NotYet


@exercise("08.1", "`share`, the fraction of the model's parameters held by its embeddings (a number from 0 to 1)")
def check_embedding_share(share, model) -> str:
    """Notebook 08, exercise 1: the share of the parameters in embedding tables, which int8 Linear layers leave be."""
    import torch

    total = sum(p.numel() for p in model.parameters())
    embedded = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding)
                   for p in m.parameters(recurse=False))
    expected, share = embedded / total, _number(share, "share")
    if _close(share, 100 * expected, 1e-3):
        raise NotYet(f"share is {share:.2f}: a percentage", "a fraction from 0 to 1: divide by the total, no * 100")
    linear = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters())
    if _close(share, linear / total, 1e-4) and not _close(linear, embedded):
        raise NotYet(f"share is {share:.4f}, the Linear layers' share", "count the parameters of the "
                     "torch.nn.Embedding modules (isinstance(module, torch.nn.Embedding)), not the Linear ones")
    if not _close(share, expected, 1e-4):
        raise NotYet(f"share is {share:.4f}; the embeddings hold {expected:.4f} of the {total:,} parameters",
                     "sum(p.numel() for each torch.nn.Embedding module's parameters) / "
                     "sum(p.numel() for p in model.parameters())")
    return (f"{expected:.0%} of the {total:,} parameters are embeddings, kept in float32 by quantize_dynamic: "
            f"at best the model shrinks to about {expected + (1 - expected) / 4:.0%} of its size, not 25%")


@exercise("08.2", "`agreement`, the share of rows where int8 gives float32's class, and `flipped`, how many it changed")
def check_agreement(agreement, flipped, reference_logits, int8_logits) -> str:
    """Notebook 08, exercise 2: how often ONNX Runtime's int8 model answers as the float32 model, and the rows it flips."""
    reference, int8 = np.argmax(reference_logits, axis=-1), np.argmax(int8_logits, axis=-1)
    same = float((reference == int8).mean())
    changed = int((reference != int8).sum())
    agreement, flipped = _number(agreement, "agreement"), _number(flipped, "flipped")
    if _close(agreement, 1.0) and same < 1:
        raise NotYet("agreement is 1.0, but some rows differ: are you comparing the logits with themselves?",
                     "np.argmax(reference_logits, axis=-1) == np.argmax(int8_logits, axis=-1), then .mean()")
    if not _close(agreement, same, 1e-9):
        raise NotYet(f"agreement is {agreement:.4f}; the two models give the same class on {same:.4f} of the rows",
                     "compare the argmax of each row (axis=-1), not the logits themselves, then .mean()")
    if flipped != changed:
        raise NotYet(f"flipped is {flipped:g}; int8 changed the answer on {changed} rows",
                     "(np.argmax(reference_logits, axis=-1) != np.argmax(int8_logits, axis=-1)).sum()")
    return f"int8 gives float32's answer on {same:.2%} of the {len(reference):,} rows; it changed {changed}"


@exercise("08.3", "`probability`, the int8 ONNX model's probability that `headline` is sarcastic")
def check_onnx_by_hand(probability, headline, folder) -> str:
    """Notebook 08, exercise 3: one headline through an `InferenceSession` on model_int8.onnx, as a probability."""
    from pathlib import Path

    from scipy.special import softmax

    from ..inference import INPUTS, ONNX_INT8, ONNX_MODEL, OnnxClassifier, session

    reader = OnnxClassifier(folder)
    batch = reader.tokenizer([headline], return_tensors="np")
    feed = {name: batch[name].astype(np.int64) for name in INPUTS}
    sarcastic = reader.config.label2id.get("sarcastic", 1)
    expected = {file: float(softmax(session(Path(folder) / file).run(None, feed)[0], axis=-1)[0, sarcastic])
                for file in (ONNX_INT8, ONNX_MODEL)}
    probability = _number(probability, "probability")
    if not 0 <= probability <= 1:
        raise NotYet(f"probability is {probability:.4f}, not between 0 and 1: a logit",
                     "scipy.special.softmax(logits, axis=-1) turns the logits into probabilities")
    if _close(probability, 1 - expected[ONNX_INT8], 1e-4) and not _close(expected[ONNX_INT8], 0.5, 1e-4):
        raise NotYet(f"probability is {probability:.4f}, the other class's",
                     f"take column {sarcastic} (model.config.label2id['sarcastic']) of the probabilities")
    if _close(probability, expected[ONNX_MODEL], 1e-5) and not _close(probability, expected[ONNX_INT8], 1e-5):
        raise NotYet("that is the float32 model's answer (model.onnx)", f"open {ONNX_INT8} in the InferenceSession")
    if not _close(probability, expected[ONNX_INT8], 1e-4):
        raise NotYet(f"probability is {probability:.4f}; {ONNX_INT8} gives {expected[ONNX_INT8]:.4f}",
                     "tokenizer([headline], return_tensors='np'), then session.run(None, {'input_ids': ..., "
                     "'attention_mask': ...})[0], then softmax")
    return (f"{expected[ONNX_INT8]:.3f} sarcastic by the int8 model ({expected[ONNX_MODEL]:.3f} in float32): "
            "what python -m helpers predict --model OUTPUT_DIR/onnx prints")
