"""The saved model's model card: a `README.md` in the model folder saying what it was trained on, how well it does,
and what it is not for, written offline with `huggingface_hub`'s `ModelCard` from the template `model_card.md`.

A run computes its `Report` once (`report`); `render` turns it into the card and does nothing else (no data read,
nothing fitted). Introduced in notebook 04 (`finetune.save`); `python -m helpers train` writes it again with the test
metrics once it knows them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from huggingface_hub import ModelCard, ModelCardData

from .baselines import compare_on
from .data import read_data
from .layout import atomic
from .reach import model_source
from .settings import DATA_URL, Settings, first_line, having, is_url, warn
from .split import evaluation_rows

SARCASM_COLUMNS = {"article_link", "headline", "is_sarcastic"}
HYPERPARAMETERS = having("training")  # the card's table: every setting that changes how the model learns

TEMPLATE = Path(__file__).with_name("model_card.md")  # the card's Jinja template, huggingface_hub's way


def kept_evaluation(log_history: list[dict]) -> dict:
    """The log's entry of the kept epoch: the best `eval_accuracy`, the first of equals, as `load_best_model_at_end`
    keeps; {} when nothing was evaluated (notebooks 04 and 06: the card and a sweep's trial)."""
    return max((entry for entry in log_history if "eval_accuracy" in entry), key=lambda entry: entry["eval_accuracy"],
               default={})


def kept_validation(log_history: list[dict]) -> dict[str, float] | None:
    """The kept epoch's accuracy and F1 (`kept_evaluation`), None when nothing was evaluated (notebook 04)."""
    best = kept_evaluation(log_history)
    return {"accuracy": best["eval_accuracy"], "f1": best.get("eval_f1")} if best else None


def is_sarcasm_data(settings: Settings, columns: Iterable[str]) -> bool:
    """True when the data is the sarcasm dataset (its TheOnion/HuffPost caveat): its URL, or a file with its `columns`
    (`article_link`, `headline`, `is_sarcastic`, as the shipped sample has)."""
    return settings.data == DATA_URL or SARCASM_COLUMNS <= set(columns)


@dataclasses.dataclass(frozen=True)
class Report:
    """What a run knows about its model, computed once: everything the card shows (notebook 04)."""

    model: str  # the base model, as the settings name it
    hub_model: bool  # a hub name (the card's base_model), not a local folder
    data: str  # the data's URL, or its file's name
    text_column: str
    label_column: str
    labels: list[str]  # the names of labels 0, 1, ...
    train_rows: int
    validation_rows: int
    test_rows: int
    split_seed: int
    sarcasm: bool  # the sarcasm dataset: the card carries its TheOnion/HuffPost caveat
    hyperparameters: dict
    evaluated: str  # the rows evaluated during training: "validation", or "test (no validation split)"
    validation: dict | None  # the kept epoch's accuracy and F1 on them (None: no evaluation logged)
    baselines: dict[str, dict[str, dict]]  # rows ("validation"..., "test") -> baseline -> accuracy, F1
    test: dict | None = None  # this model's test metrics, once measured (`dataclasses.replace`)
    lora_rank: int = 0  # a LoRA run's rank: the folder holds an adapter on the base model (notebook 09)


def baselines_on(parts: dict[str, pd.DataFrame | None], evaluated: str, classes: int) -> dict[str, dict[str, dict]]:
    """The baselines trained once on the train rows, scored on the evaluation rows and the test rows, of `classes`
    labels; {} (said in a line) when scikit-learn cannot fit them, so that a run still saves its model."""
    rows = {evaluated: evaluation_rows(parts), "test": parts["test"]}
    try:
        tables = compare_on(parts["train"], rows, classes)
    except ValueError as error:
        warn(f"the model card has no baselines: scikit-learn could not fit them ({first_line(error)})")
        return {}
    return {name: table.to_dict("index") for name, table in tables.items()}


def report(settings: Settings, parts: dict[str, pd.DataFrame | None], log_history: list[dict],
           test: dict | None = None) -> Report:
    """The run's report: `parts` as `split.load_split` gives them, the trainer's log, `test` metrics when known."""
    evaluated = "validation" if parts["validation"] is not None else "test (no validation split)"
    data = read_data(settings)  # the label names and the file's columns (read once a process: `data.read_table`)
    return Report(
        model=settings.model,
        hub_model=model_source(settings.model) == "hub",
        data=settings.data if is_url(settings.data) else Path(settings.data).name,
        text_column=settings.text_column,
        label_column=settings.label_column,
        labels=data.label_names,
        train_rows=len(parts["train"]),
        validation_rows=0 if parts["validation"] is None else len(parts["validation"]),
        test_rows=len(parts["test"]),
        split_seed=settings.split_seed,
        sarcasm=is_sarcasm_data(settings, data.columns),
        hyperparameters={name: getattr(settings, name) for name in HYPERPARAMETERS},
        evaluated=evaluated,
        validation=kept_validation(log_history),
        baselines=baselines_on(parts, evaluated, len(data.label_names)),
        test=test,
        lora_rank=settings.lora_rank,
    )


def _row(rows: str, model: str, metrics: dict) -> dict:
    """One line of the results table, numbers to three places."""
    shown = {key: "" if metrics.get(key) is None else f"{metrics[key]:.3f}" for key in ("accuracy", "f1")}
    return {"rows": rows, "model": model, **shown}


def _results(report: Report) -> list[dict]:
    """The results table: this model on the evaluation rows and the test rows, and the baselines on the same rows."""
    rows = []
    for name, metrics in ((report.evaluated, report.validation), ("test", report.test)):
        if metrics is None:
            continue
        rows.append(_row(name, "this model", metrics))
        rows += [_row(name, baseline, scores) for baseline, scores in report.baselines.get(name, {}).items()]
    return rows


def render(report: Report) -> ModelCard:
    """The model card of `report`: no data read, nothing fitted (notebook 04)."""
    lora = ["lora"] if report.lora_rank else []
    data = ModelCardData(base_model=report.model if report.hub_model else None,  # only a hub name is a valid one
                         library_name="peft" if lora else "transformers", pipeline_tag="text-classification",
                         metrics=["accuracy", "f1"], tags=["text-classification", *lora])
    return ModelCard.from_template(
        data,
        template_path=TEMPLATE,
        **{**dataclasses.asdict(report),  # the report's fields as they are, but these, shown for people:
           "title": f"{Path(report.model).name} {'with a LoRA adapter ' if report.lora_rank else ''}fine-tuned on "
                    f"{Path(report.data).name}",
           "base": f"`{report.model}`" if report.hub_model else f"the local model folder `{Path(report.model).name}`",
           "labels": ", ".join(f"{i} = {name}" for i, name in enumerate(report.labels)),
           "evaluated": "Validation metrics are the kept epoch's, measured during training; the baselines (always the "
                        "commonest train label, and TF-IDF with logistic regression) are trained on the same train "
                        "rows and scored on the same rows.",
           "results": _results(report), "tested": report.test is not None},
    )


def write_card(folder: Path, report: Report) -> Path:
    """Write the card of `report` into `folder` as README.md, whole or not at all (notebook 04); returns its path."""
    with atomic(folder / "README.md") as partial:
        render(report).save(partial)
    return folder / "README.md"
