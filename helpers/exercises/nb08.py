"""The checks of notebook 08 (small and fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .core import _close, _number, exercise, NotYet

SOLUTION_1 = '''\
embedded = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters())
share = embedded / sum(p.numel() for p in model.parameters())
assert exercises.check("08.1", share, model)'''

SOLUTION_2 = '''\
session = inference.session(exported / "model_int8.onnx")
int8_logits = inference.onnx_logits(session, tokenizer, test_data.encodings, settings.eval_batch_size)
same = reference_logits.argmax(axis=-1) == int8_logits.argmax(axis=-1)
agreement, flipped = same.mean(), int((~same).sum())
assert exercises.check("08.2", agreement, flipped, int8_logits, settings)'''

SOLUTION_3 = '''\
headline = "local man unsure whether to be impressed by faster model"
session = onnxruntime.InferenceSession(str(exported / "model_int8.onnx"), providers=["CPUExecutionProvider"])
encoded = tokenizer([headline], return_tensors="np")
logits = session.run(None, {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]})[0]
probability = softmax(logits, axis=-1)[0, model.config.label2id["sarcastic"]]
assert exercises.check("08.3", probability, headline, exported)'''

SOLUTION_4 = '''\
class WithProbabilities(torch.nn.Module):
    """The fine-tuned model, answering with each class's probability instead of its logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return torch.softmax(logits, dim=-1)


path = scratch / "probabilities.onnx"
example = tokenizer(["a short headline", "and a somewhat longer headline, to pad the first"], padding=True,
                    return_tensors="pt")
inputs = {"input_ids": example["input_ids"], "attention_mask": example["attention_mask"]}
batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(WithProbabilities(model).eval(), (), path, kwargs=inputs,
                      input_names=["input_ids", "attention_mask"], output_names=["probabilities"],
                      dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs}, external_data=False)
assert exercises.check("08.4", path, model, tokenizer)'''


@exercise("08.1", "`share`, the fraction of the model's parameters held by its embeddings (a number from 0 to 1)",
          hint="walk model.modules(), keep those that are torch.nn.Embedding, add up their parameters' numel(), and "
               "divide by the numel() of all model.parameters()",
          solution=SOLUTION_1)
def check_embedding_share(share, model) -> str:
    """Notebook 08, exercise 1: the share of the parameters in embedding tables, which int8 Linear layers leave be."""
    import torch

    if not any(isinstance(m, torch.nn.Linear) for m in model.modules()):
        raise NotYet("this model has no torch.nn.Linear layers left: the quantized copy?",
                     "pass the float32 model, `model`")
    total = sum(p.numel() for p in model.parameters())
    tables = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    embedded = sum(p.numel() for m in tables for p in m.parameters(recurse=False))
    expected, share = embedded / total, _number(share, "share")
    if _close(share, 100 * expected, 1e-3):
        raise NotYet(f"share is {share:.2f}: a percentage", "a fraction from 0 to 1: no * 100")
    linear = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters())
    if _close(share, linear / total, 1e-4) and not _close(linear, embedded):
        raise NotYet(f"share is {share:.4f}, the Linear layers' share", "count the torch.nn.Embedding modules' "
                     "parameters, not the Linear ones")
    biggest = max(m.weight.numel() for m in tables) if tables else 0
    if _close(share, biggest / total, 1e-4) and len(tables) > 1:
        raise NotYet(f"share is {share:.4f}: the word embeddings alone", "every torch.nn.Embedding module counts: "
                     "words, positions (and in BERT token types)")
    if _close(share, embedded / (total - embedded), 1e-4):
        raise NotYet(f"share is {share:.4f}: divided by the other parameters", "divide by all the parameters")
    if not _close(share, expected, 1e-4):
        raise NotYet(f"share is {share:.4f}: not the embeddings' share of the {total:,} parameters",
                     "the parameters of the torch.nn.Embedding modules over all the parameters")
    return (f"{expected:.0%} of the {total:,} parameters are embeddings, kept in float32 by torch's quantize_dynamic: "
            f"at best the model shrinks to about {expected + (1 - expected) / 4:.0%} of its size, not 25%")


def _logits_on_test_rows(settings):
    """The float32 reference (torch, rows in the order given) and the int8 ONNX model's logits on the test rows, as
    notebook 08 computes them from `settings`' saved model and exported folder."""
    import dataclasses

    from ..inference import ONNX_INT8, onnx_logits, session
    from ..layout import run_folder
    from ..models import load_trained
    from ..predict import predict
    from ..split import load_split
    from ..tokenization import tokenize

    folder, exported = run_folder(settings).model, run_folder(settings).onnx
    if not (exported / ONNX_INT8).is_file():
        raise NotYet(f"there is no {ONNX_INT8} in {exported}", "run the notebook's export cells first "
                     "(inference.export_folder)")
    test = load_split(settings)["test"]
    model, tokenizer = load_trained(folder)
    data = tokenize(test, tokenizer, settings)
    plain = dataclasses.replace(settings, precision="fp32", sort_predictions=False)
    reference = predict(model.eval(), tokenizer, data, plain).predictions
    int8 = onnx_logits(session(exported / ONNX_INT8), tokenizer, data.encodings, settings.eval_batch_size)
    return reference, int8


@exercise("08.2", "`int8_logits` (the exported int8 model's logits on the test rows), `agreement`, the share of rows "
                  "where int8 gives float32's class, and `flipped`, how many rows it changed",
          hint="run the int8 file through an InferenceSession over the test rows (inference.onnx_logits), then "
               "compare each row's argmax (axis=-1) with the reference's: the mean of the matches, the count of the "
               "others",
          solution=SOLUTION_2)
def check_agreement(agreement, flipped, int8_logits, settings) -> str:
    """Notebook 08, exercise 2: how often ONNX Runtime's int8 model answers as the float32 model, and the rows it flips."""
    reference, int8 = _logits_on_test_rows(settings)
    given = np.asarray(int8_logits, dtype=np.float64)
    if given.shape != int8.shape:
        raise NotYet(f"int8_logits has shape {given.shape}: one row per test row ({len(int8):,}) and one column per "
                     "class are expected", "predict every test row with the int8 session")
    # int8 and float32 may differ by little (by 5e-4 on tiny): the logits must be far closer to int8's than to float32's
    to_int8, to_float32 = np.abs(given - int8).max(), np.abs(given - reference).max()
    if to_float32 <= to_int8:
        raise NotYet("int8_logits are the float32 model's logits, not the int8 model's",
                     "open the InferenceSession on model_int8.onnx, not model.onnx, and do not reuse reference_logits")
    if to_int8 > to_float32 / 10:
        raise NotYet("int8_logits are not the int8 model's logits on the test rows, in their order",
                     "inference.onnx_logits(session on model_int8.onnx, tokenizer, test_data.encodings, "
                     "settings.eval_batch_size) keeps the rows' order")
    same = reference.argmax(axis=-1) == given.argmax(axis=-1)
    agreement, flipped = _number(agreement, "agreement"), _number(flipped, "flipped")
    if _close(agreement, 100 * same.mean()) and not _close(agreement, same.mean()):
        raise NotYet(f"agreement is {agreement:g}: a percentage", "a share from 0 to 1: the mean of the matches")
    if not _close(agreement, same.mean(), 1e-9):
        if _close(agreement, 1.0):
            raise NotYet("agreement is 1.0, but some rows differ: are you comparing the logits with themselves?",
                         "compare reference_logits' argmax with int8_logits' argmax")
        raise NotYet(f"agreement is {agreement:.4f}: not the share of rows where the two give the same class",
                     "compare the argmax of each row (axis=-1), not the logits themselves, then take the mean")
    if flipped != int((~same).sum()):
        what = ", the rows it kept" if flipped == int(same.sum()) else ""
        raise NotYet(f"flipped is {flipped:g}{what}: not the rows where int8 changed the answer",
                     "count the rows whose argmax differs (!=), with .sum()")
    return f"int8 gives float32's answer on {same.mean():.2%} of the {len(same):,} rows; it changed {(~same).sum()}"


@exercise("08.3", "`probability`, the int8 ONNX model's probability that `headline` is sarcastic",
          hint="tokenizer([headline], return_tensors='np'), session.run(None, {input name: array}) on the int8 file, "
               "then scipy.special.softmax over the classes and the column model.config.label2id['sarcastic']",
          solution=SOLUTION_3)
def check_onnx_by_hand(probability, headline, folder) -> str:
    """Notebook 08, exercise 3: one headline through an `InferenceSession` on model_int8.onnx, as a probability."""
    from scipy.special import softmax

    from ..inference import INPUTS, ONNX_INT8, ONNX_MODEL, OnnxClassifier, session

    reader = OnnxClassifier(folder)
    batch = reader.tokenizer([headline], return_tensors="np")
    feed = {name: batch[name].astype(np.int64) for name in INPUTS}
    sarcastic = reader.config.label2id.get("sarcastic", 1)
    logits = {file: session(Path(folder) / file).run(None, feed)[0] for file in (ONNX_INT8, ONNX_MODEL)}
    expected = {file: float(softmax(value, axis=-1)[0, sarcastic]) for file, value in logits.items()}
    probability = _number(probability, "probability")
    # int8 and float32 may differ by less than the tolerance (3e-5 on tiny): the answer must be the nearer to int8's
    to_int8, to_float32 = abs(probability - expected[ONNX_INT8]), abs(probability - expected[ONNX_MODEL])
    if to_int8 <= 1e-4 and (to_int8 < to_float32 or expected[ONNX_INT8] == expected[ONNX_MODEL]):
        return (f"{expected[ONNX_INT8]:.3f} sarcastic by the int8 model ({expected[ONNX_MODEL]:.3f} in float32): "
                "what python -m helpers predict --model OUTPUT_DIR/onnx prints")
    if _close(probability, logits[ONNX_INT8][0, sarcastic], 1e-4) or not 0 <= probability <= 1:
        raise NotYet(f"probability is {probability:.4f}: a logit, not a probability",
                     "scipy.special.softmax(logits, axis=-1) turns the logits into probabilities")
    if _close(probability, 1 - expected[ONNX_INT8], 1e-4) and not _close(expected[ONNX_INT8], 0.5, 1e-4):
        raise NotYet(f"probability is {probability:.4f}, the other class's",
                     "take the column model.config.label2id['sarcastic'] of the probabilities")
    if to_float32 <= 1e-4:
        raise NotYet("that is the float32 model's answer (model.onnx)", f"open {ONNX_INT8} in the InferenceSession")
    raise NotYet(f"probability is {probability:.4f}: not what {ONNX_INT8} gives for this headline",
                 "the headline alone, tokenized with return_tensors='np', through the session, then softmax")


@exercise("08.4", "`path`, an ONNX file exported from `model` whose output `probabilities` holds each class's "
                  "probability",
          hint="a torch.nn.Module whose forward returns torch.softmax(model(...).logits, dim=-1), exported with "
               "torch.onnx.export as above: output_names=['probabilities'], dynamic_shapes for the batch and the "
               "sequence axes",
          solution=SOLUTION_4)
def check_export(path, model, tokenizer) -> str:
    """Notebook 08, exercise 4: the model exported with `torch.onnx.export` to answer with probabilities."""
    import onnxruntime
    import torch

    from ..inference import INPUTS

    path = Path(path)
    if not path.is_file():
        raise NotYet(f"there is no file at {path} yet", "torch.onnx.export(your module, (), path, kwargs=...) "
                     "writes it")
    runner = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs, outputs = [i.name for i in runner.get_inputs()], [o.name for o in runner.get_outputs()]
    if sorted(inputs) != sorted(INPUTS):
        raise NotYet(f"the graph takes {inputs}, not input_ids and attention_mask",
                     "forward(self, input_ids, attention_mask), exported with input_names")
    if outputs != ["probabilities"]:
        raise NotYet(f"the graph's output is named {outputs}, not ['probabilities']", "output_names=['probabilities']")
    batches = [["one headline, a little longer than the examples the exporter saw, to need more tokens"],
               ["three", "headlines of", "different lengths, padded into one batch"]]
    training = model.training
    model.eval()
    try:
        for texts in batches:
            encoded = tokenizer(texts, padding=True, return_tensors="np")
            feed = {name: encoded[name].astype(np.int64) for name in INPUTS}
            try:
                given = runner.run(None, feed)[0]
            except Exception:  # noqa: BLE001: onnxruntime raises its own errors on a shape it was not exported for
                raise NotYet(f"the graph refuses a batch of {len(texts)} rows of {feed['input_ids'].shape[1]} "
                             "tokens: its shapes are fixed", "dynamic_shapes: a torch.export.Dim for axis 0 (batch) "
                             "and 1 (sequence) of each input") from None
            with torch.no_grad():
                logits = model(**{name: torch.from_numpy(value).to(model.device) for name, value in feed.items()})
            logits = logits.logits.float().cpu().numpy()
            expected = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            if given.shape != expected.shape:
                raise NotYet(f"the output has shape {given.shape}, not one row per headline and one column per class",
                             "return the softmax of the logits, shape (batch, classes)")
            if np.allclose(given, logits, atol=1e-4):
                raise NotYet("the graph answers with logits", "torch.softmax(logits, dim=-1) inside forward")
            if not np.allclose(given.sum(axis=-1), 1, atol=1e-4):
                raise NotYet("each row's outputs do not add up to 1", "softmax over the classes: dim=-1")
            if not np.allclose(given, expected, atol=1e-4):
                raise NotYet("these are not the probabilities `model` gives", "export the fine-tuned `model` itself, "
                             "in eval mode")
    finally:
        model.train(training)
    return (f"{path.name} answers with each class's probability, for any batch size and length "
            f"({path.stat().st_size / 1e6:.1f} MB)")
