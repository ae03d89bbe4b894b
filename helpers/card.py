"""The saved model's model card: a `README.md` in the model folder saying what it was trained on, how well it does,
and what it is not for. Written offline with `huggingface_hub`'s `ModelCard`, from a template kept here.

Introduced in notebook 04 (`finetune.save` writes it); `python -m helpers train` adds the test metrics once it
knows them. The TheOnion/HuffPost caveat appears when the data is the sarcasm dataset: its URL, or a file with its
three columns (`article_link`, `headline`, `is_sarcastic`, as the shipped sample has).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from huggingface_hub import ModelCard, ModelCardData

from .baselines import compare
from .data import fetch, label_names, read_table
from .models import looks_like_path
from .settings import DATA_URL, Settings, having, is_url
from .split import evaluation_rows, load_split

SARCASM_COLUMNS = {"article_link", "headline", "is_sarcastic"}
HYPERPARAMETERS = having("training")  # the card's table: every setting that changes how the model learns

TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

A text classifier fine-tuned from {{ base }} with `transformers.Trainer`, by the notebook series
"fine-tune a transformer for text classification". Labels: {{ labels }}.

## Data and split

- data: {{ data }} (text column `{{ text_column }}`, label column `{{ label_column }}`)
- rows: {{ train_rows }} train, {{ validation_rows }} validation, {{ test_rows }} test (split seed {{ split_seed }})
{% if sarcasm %}
**Caveat:** the sarcastic headlines all come from TheOnion and the sincere ones from HuffPost, so the model
learns the two publications' house styles as much as sarcasm. Expect it to do worse on headlines from elsewhere.
{% endif %}
## Training hyperparameters

| setting | value |
|---|---|
{% for name, value in hyperparameters.items() %}| {{ name }} | {{ value }} |
{% endfor %}
## Results

{{ evaluated }}

| rows | model | accuracy | F1 |
|---|---|---|---|
{% for row in results %}| {{ row.rows }} | {{ row.model }} | {{ row.accuracy }} | {{ row.f1 }} |
{% endfor %}{% if not tested %}
Test metrics: not measured yet (`python -m helpers train` adds them after it predicts the test rows).
{% endif %}
## Intended use and limits

For learning and for experiments on data like its training data: short English texts of the same kind,
labelled the same way. It is not checked for fairness or robustness, and its scores hold only for rows like
the test rows above; do not use it to make decisions about people.
"""


def _validation(folder: Path) -> dict[str, float] | None:
    """The kept epoch's evaluation metrics (the best accuracy, as `load_best_model_at_end` keeps), from the log."""
    log = json.loads((folder / "log_history.json").read_text()) if (folder / "log_history.json").is_file() else []
    evaluations = [entry for entry in log if "eval_accuracy" in entry]
    if not evaluations:
        return None
    best = max(evaluations, key=lambda entry: entry["eval_accuracy"])  # the first of equals, as the Trainer keeps
    return {"accuracy": best["eval_accuracy"], "f1": best.get("eval_f1")}


def is_sarcasm_data(settings: Settings) -> bool:
    """True when the data is the sarcasm dataset: its URL, or a file with its columns."""
    return settings.data == DATA_URL or SARCASM_COLUMNS <= set(read_table(fetch(settings)).columns)


def _row(rows: str, model: str, metrics: dict) -> dict:
    """One line of the results table, numbers to three places."""
    shown = {key: "" if metrics.get(key) is None else f"{metrics[key]:.3f}" for key in ("accuracy", "f1")}
    return {"rows": rows, "model": model, **shown}


def _results(parts: dict[str, pd.DataFrame | None], validation: dict | None, test: dict | None) -> list[dict]:
    """The results table: this model on the evaluation rows and the test rows, and the baselines on the same rows."""
    evaluated = "validation" if parts["validation"] is not None else "test (no validation split)"
    num_labels = len(label_names(parts["train"]))
    rows = []
    for name, metrics, part in ((evaluated, validation, evaluation_rows(parts)), ("test", test, parts["test"])):
        if metrics is None:
            continue
        rows.append(_row(name, "this model", metrics))
        baselines = compare(parts["train"], part, num_labels)
        rows += [_row(name, baseline, scores) for baseline, scores in baselines.to_dict("index").items()]
    return rows


def model_card(folder: Path, settings: Settings, test: dict | None = None) -> ModelCard:
    """The card of the model saved in `folder` by `settings`, with `test` metrics when known (notebook 04)."""
    parts, validation = load_split(settings), _validation(folder)
    hub_model = not looks_like_path(settings.model) and not Path(settings.model).expanduser().exists()
    data = ModelCardData(
        base_model=settings.model if hub_model else None,  # only a hub name is a valid base_model
        library_name="transformers",
        pipeline_tag="text-classification",
        metrics=["accuracy", "f1"],
        tags=["text-classification"],
    )
    return ModelCard.from_template(
        data,
        template_str=TEMPLATE,
        title=f"{Path(settings.model).name} fine-tuned on {Path(settings.data).name}",
        base=f"`{settings.model}`" if hub_model else f"the local model folder `{Path(settings.model).name}`",
        labels=", ".join(f"{i} = {name}" for i, name in enumerate(label_names(parts["train"]))),
        data=settings.data if is_url(settings.data) else Path(settings.data).name,
        text_column=settings.text_column,
        label_column=settings.label_column,
        train_rows=len(parts["train"]),
        validation_rows=0 if parts["validation"] is None else len(parts["validation"]),
        test_rows=len(parts["test"]),
        split_seed=settings.split_seed,
        sarcasm=is_sarcasm_data(settings),
        hyperparameters={name: getattr(settings, name) for name in HYPERPARAMETERS},
        evaluated="Validation metrics are the kept epoch's, measured during training; the baselines (always the "
                  "commonest train label, and TF-IDF with logistic regression) are trained on the same train rows "
                  "and scored on the same rows.",
        results=_results(parts, validation, test),
        tested=test is not None,
    )


def write_card(folder: Path, settings: Settings, test: dict | None = None) -> Path:
    """Write the model card into `folder` as README.md (notebook 04); returns its path."""
    path = folder / "README.md"
    model_card(folder, settings, test).save(path)
    return path
