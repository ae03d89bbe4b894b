"""The checks of notebook 07 (your own data)."""

from __future__ import annotations

from .core import _close, exercise, NotYet


@exercise("07.1", "`predicted_off`, `predicted_on`, `f1_off` and `f1_on`")
def check_class_weights(labels, predicted_off, predicted_on, f1_off, f1_on) -> str:
    """Notebook 07, exercise 1: macro F1 on the test rows without and with class weights."""
    from sklearn.metrics import accuracy_score, f1_score

    for name, predicted, score in (("off", predicted_off, f1_off), ("on", predicted_on, f1_on)):
        macro = f1_score(labels, predicted, average="macro")
        if not _close(score, macro):
            what = ("the accuracy (micro F1)" if _close(score, accuracy_score(labels, predicted)) else
                    "the weighted F1" if _close(score, f1_score(labels, predicted, average="weighted")) else "")
            raise NotYet(f"f1_{name} is {float(score):.4f}{', ' + what if what else ''}; macro F1 is {macro:.4f}",
                         "f1_score(labels, predicted, average='macro'): each class counts the same")
    return f"macro F1 {f1_off:.3f} without class weights, {f1_on:.3f} with them"


@exercise("07.2", "`count`, the entertainment rows among the unstratified validation rows")
def check_unstratified(count, settings) -> str:
    """Notebook 07, exercise 2: the entertainment headlines among the validation rows of an unstratified split."""
    import dataclasses

    from ..data import label_names, load_data
    from ..split import split_data, split_validation

    unstratified = dataclasses.replace(settings, stratify=False)
    rows = load_data(unstratified)
    train, _ = split_data(rows, unstratified)
    _, validation = split_validation(train, unstratified)  # the split load_split makes, without saving it
    names = label_names(rows)
    expected = int((validation["label"] == names.index("entertainment")).sum())
    if int(count) != expected:
        raise NotYet(f"count is {count}; the unstratified split has {expected} entertainment validation rows",
                     "load_split(dataclasses.replace(settings, stratify=False))['validation'], then count the "
                     "rows whose label is names.index('entertainment')")
    return f"{expected} entertainment headlines among {len(validation)} validation rows"


@exercise("07.3", "`answers`, the pipeline's answers with top_k=None")
def check_top_k(answers, names, headlines) -> str:
    """Notebook 07, exercise 3: every topic's probability for each headline, from `pipeline(..., top_k=None)`."""
    if len(answers) != len(headlines):
        raise NotYet(f"{len(answers)} answers for {len(headlines)} headlines", "classify(my_headlines, top_k=None)")
    for headline, answer in zip(headlines, answers):
        if isinstance(answer, dict):
            raise NotYet("each headline got only its best topic",
                         "top_k=None returns every class's score: classify(my_headlines, top_k=None)")
        if sorted(entry["label"] for entry in answer) != sorted(names):
            raise NotYet(f"the answer for {headline!r} does not name each topic once", "top_k=None")
        total = sum(entry["score"] for entry in answer)
        if not _close(total, 1.0, 1e-3):
            raise NotYet(f"the scores for {headline!r} add up to {total:.3f}, not 1",
                         "the pipeline's default softmax gives probabilities; do not change function_to_apply")
    second = answers[0][1]
    return (f"every topic's probability, best first; the first headline's second guess: "
            f"{second['label']} ({second['score']:.2f})")
