"""The checks of notebook 06 (hyperparameters).

The notebook hands over its `settings` (on `quick` it searches a slice of its own) and the check reads the
trials from the study those settings keep (`sweep.load_runs`): a score must be the one of the point asked for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import _close, _number, exercise, NotYet


def _study_runs(settings) -> pd.DataFrame:
    """Every trial the study of `settings`' output folder holds, indexed by point id."""
    from .. import sweep

    if not hasattr(settings, "output_dir"):
        raise NotYet(f"settings is a {type(settings).__name__}, not the notebook's settings",
                     "hand over `settings`, the notebook's (set in its first cell)")
    return sweep.load_runs(settings).set_index("id")


def _score(runs: pd.DataFrame, settings, point: dict, what: str) -> float:
    """The validation accuracy of `point`'s trial, or a `NotYet` naming `what` was not trained yet."""
    from .. import sweep

    key = sweep.point_id(settings, point)
    if key not in runs.index:
        raise NotYet(f"the study holds no trial of {what} yet", "run the search the exercise asks for first")
    return float(runs.loc[key, "val_accuracy"])


def _recipe(settings, **more) -> dict:
    """The recipe's point of notebook 06: the profile's learning rate and batch 16, and `more`."""
    return {"learning_rate": settings.learning_rate, "train_batch_size": 16, **more}


@exercise("06.1", "`schedules`, {'linear': accuracy, 'cosine': accuracy} from the grid's runs, and `runs`",
          hint="search a grid whose only varying knob is lr_scheduler, the other values the recipe's; then read "
               "each schedule's val_accuracy from the row of runs whose id is sweep.point_id(settings, that point)",
          solution="""\
points = [{"learning_rate": lr, "train_batch_size": 16, "lr_scheduler": schedule} for schedule in ("linear", "cosine")]
runs = sweep.search(settings, {"learning_rate": [lr], "train_batch_size": [16], "lr_scheduler": ["linear", "cosine"]},
                    search="grid")
by_id = runs.set_index("id")
schedules = {point["lr_scheduler"]: by_id.loc[sweep.point_id(settings, point), "val_accuracy"] for point in points}""")
def check_schedules(schedules, runs, settings) -> str:
    """Notebook 06, exercise 1: the validation accuracy of the linear and the cosine schedule, from the grid's rows."""
    from .. import sweep

    if not isinstance(schedules, dict) or set(schedules) != {"linear", "cosine"}:
        raise NotYet(f"schedules should map 'linear' and 'cosine' to an accuracy, not {schedules!r}",
                     "a dict with one entry per schedule of the grid")
    if not isinstance(runs, pd.DataFrame) or "id" not in runs:
        raise NotYet(f"runs is a {type(runs).__name__}, not the table sweep.search returns",
                     "runs = sweep.search(settings, {...}, search='grid')")
    study = _study_runs(settings)
    found = {}
    for name in ("linear", "cosine"):
        if sweep.point_id(settings, _recipe(settings, lr_scheduler=name)) not in set(runs["id"]):
            raise NotYet(f"runs holds no trial of the grid's {name} point (the recipe with lr_scheduler={name!r})",
                         "search lr_scheduler over ['linear', 'cosine'] with the recipe's learning rate and batch 16")
        found[name] = _score(study, settings, _recipe(settings, lr_scheduler=name), f"the {name} point")
        score = _number(schedules[name], f"schedules[{name!r}]")
        if not _close(score, found[name]):
            others = [key for key, value in study["val_accuracy"].items() if _close(value, score)]
            raise NotYet(f"schedules[{name!r}] is not the validation accuracy of the grid's {name} point"
                         + (" (it is another trial's)" if others else ""),
                         "take the row of the grid's point itself, by its id: sweep.point_id(settings, point)")
    gap = abs(found["linear"] - found["cosine"])
    winner = max(found, key=found.get)
    return f"{winner} wins by {100 * gap:.1f} points of validation accuracy" if gap else "a tie on validation"


@exercise("06.2", "`recipe_scores`, `spread`, `best_two`, `gap` and `gap_is_larger`",
          hint="the three seeds' scores are the val_accuracy of the recipe's point with each seed; the spread is "
               "their highest minus their lowest; the best two settings are the first two rows of "
               "sweep.by_setting over every run of the study (sweep.load_runs), each a mean over its seeds",
          solution="""\
seeds = [settings.seed, settings.seed + 1, settings.seed + 2]
seed_runs = sweep.search(settings, {"learning_rate": [lr], "train_batch_size": [16], "seed": seeds}, search="grid")
by_id = seed_runs.set_index("id")
recipe_scores = [by_id.loc[sweep.point_id(settings, {"learning_rate": lr, "train_batch_size": 16, "seed": seed}),
                           "val_accuracy"] for seed in seeds]
spread = max(recipe_scores) - min(recipe_scores)
best_two = sweep.by_setting(sweep.load_runs(settings))["val_accuracy"].iloc[:2].tolist()
gap = best_two[0] - best_two[1]
gap_is_larger = gap > spread""")
def check_seed_noise(recipe_scores, spread, best_two, gap, gap_is_larger, settings) -> str:
    """Notebook 06, exercise 2: the seed spread of the recipe against the gap between the search's best two settings."""
    from .. import sweep

    study = _study_runs(settings)
    seeds = [settings.seed + offset for offset in range(3)]
    expected = [_score(study, settings, _recipe(settings, seed=seed), f"the recipe with seed {seed}")
                for seed in seeds]
    try:
        given = [float(value) for value in recipe_scores]
    except (TypeError, ValueError):
        raise NotYet("recipe_scores is not a list of numbers", "one validation accuracy per seed") from None
    if len(given) != 3:
        raise NotYet(f"recipe_scores holds {len(given)} scores", "three seeds, three validation accuracies")
    if not all(_close(a, b) for a, b in zip(sorted(given), sorted(expected))):
        raise NotYet("recipe_scores are not the validation accuracies of the recipe's three seeds in the study",
                     "read val_accuracy from the rows of the recipe's point with seeds settings.seed, +1, +2")
    right_spread = max(expected) - min(expected)
    if not _close(_number(spread, "spread"), right_spread):
        raise NotYet("spread is not the highest of the seeds' scores minus the lowest",
                     "max(...) - min(...) of recipe_scores")
    settings_table = sweep.by_setting(sweep.load_runs(settings))
    top = settings_table["val_accuracy"].iloc[:2].tolist()
    try:
        given_two = [float(value) for value in best_two]
    except (TypeError, ValueError):
        raise NotYet("best_two is not two numbers", "the first two rows of the per-setting means") from None
    if len(given_two) != 2 or not all(_close(a, b) for a, b in zip(given_two, top)):
        single = sweep.load_runs(settings)["val_accuracy"].iloc[:2].tolist()
        raise NotYet("best_two are not the two best settings' mean validation accuracies, best first"
                     + (" (those are the two best single runs, not settings averaged over their seeds)"
                        if len(given_two) == 2 and all(_close(a, b) for a, b in zip(given_two, single)) else ""),
                     "sweep.by_setting(sweep.load_runs(settings)) puts one setting on a row, best first")
    right_gap = top[0] - top[1]
    if not _close(_number(gap, "gap"), right_gap):
        raise NotYet("gap is not the first of best_two minus the second", "best_two[0] - best_two[1]")
    if not isinstance(gap_is_larger, (bool, np.bool_)):
        raise NotYet(f"gap_is_larger is a {type(gap_is_larger).__name__}, not True or False", "compare gap and spread")
    if bool(gap_is_larger) != (right_gap > right_spread):
        raise NotYet(f"gap_is_larger is {gap_is_larger}, the other way round", "is gap greater than spread?")
    verdict = ("the gap is larger than the seed noise: worth a second look with more seeds" if right_gap > right_spread
               else "the gap is within the seed noise: not a finding")
    return f"spread {right_spread:.4f}, gap {right_gap:.4f}: {verdict}"


def _trained(trial) -> list[dict]:
    """The log history a trial recorded (its `Trainer`'s), or a `NotYet` saying the objective trained nothing."""
    history = trial.user_attrs.get("log_history")
    if not isinstance(history, list) or not any("train_runtime" in entry for entry in history):
        raise NotYet(f"trial {trial.number} recorded no training (no log_history with a finished run in its "
                     "user attributes)", "in the objective, after trainer.train(): "
                     "trial.set_user_attr('log_history', trainer.state.log_history)")
    return history


@exercise("06.3", "`study_with_epochs`, your optuna study after .optimize(objective_with_epochs, n_trials=2)",
          hint="the objective builds TrainingArguments whose learning_rate and num_train_epochs come from "
               "trial.suggest_float (log=True) and trial.suggest_int, evaluating and saving each epoch and keeping "
               "the best by accuracy; trains a Trainer with a fresh model; records "
               "trainer.state.log_history with trial.set_user_attr; returns trainer.state.best_metric. "
               "The study maximises",
          solution="""\
def objective_with_epochs(trial: optuna.Trial) -> float:
    \"\"\"Train with the trial's learning rate and number of epochs; the best epoch's validation accuracy.\"\"\"
    args = TrainingArguments(
        output_dir=f"{settings.output_dir}/optuna-epochs/trial-{trial.number}",
        learning_rate=trial.suggest_float("learning_rate", lr / 4, lr * 4, log=True),
        num_train_epochs=trial.suggest_int("num_train_epochs", 1, 2),
        per_device_train_batch_size=16,
        eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
        metric_for_best_model="accuracy", seed=settings.seed, report_to="none",
        **hardware.training_flags(settings),  # the device and precision, as notebook 04's
    )
    trainer = Trainer(model=models.load_model(settings, names), args=args, train_dataset=train_data,
                      eval_dataset=validation_data, data_collator=DataCollatorWithPadding(tokenizer),
                      processing_class=tokenizer, compute_metrics=finetune.compute_metrics)
    trainer.train()
    shutil.rmtree(args.output_dir)
    trial.set_user_attr("log_history", trainer.state.log_history)
    return trainer.state.best_metric


study_with_epochs = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
study_with_epochs.optimize(objective_with_epochs, n_trials=2)""")
def check_objective(study) -> str:
    """Notebook 06, exercise 3: an optuna objective around `Trainer` whose TrainingArguments come from the trial."""
    import optuna

    if not isinstance(study, optuna.Study):
        raise NotYet(f"study_with_epochs is a {type(study).__name__}, not an optuna study",
                     "optuna.create_study(direction=...), then .optimize(objective_with_epochs, n_trials=2)")
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise NotYet("the study minimises: it would pick the worst accuracy", "a higher accuracy is better")
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 2:
        raise NotYet(f"the study has {len(done)} complete trials", "optimize with n_trials=2")
    for trial in done:
        for name, kind, how in (("learning_rate", optuna.distributions.FloatDistribution, "trial.suggest_float"),
                                ("num_train_epochs", optuna.distributions.IntDistribution, "trial.suggest_int")):
            if not isinstance(trial.distributions.get(name), kind):
                raise NotYet(f"trial {trial.number} did not ask for {name} with {how}",
                             f"{name}={how}({name!r}, low, high) inside TrainingArguments(...)")
        history = _trained(trial)
        evaluations = [entry["eval_accuracy"] for entry in history if "eval_accuracy" in entry]
        epochs = trial.params["num_train_epochs"]
        finished = next(entry for entry in history if "train_runtime" in entry)
        if not evaluations or finished.get("step", 0) < 1:
            raise NotYet(f"trial {trial.number} trained no step or evaluated nothing",
                         "eval_strategy='epoch' in TrainingArguments, an eval_dataset and compute_metrics")
        if abs(finished.get("epoch", 0) - epochs) > 1e-6 or len(evaluations) != epochs:
            raise NotYet(f"trial {trial.number} asked for {epochs} epoch(s) but trained "
                         f"{finished.get('epoch', 0):g} with {len(evaluations)} evaluation(s)",
                         "pass the suggested number to TrainingArguments(num_train_epochs=...), evaluating each epoch")
        rates = [entry["learning_rate"] for entry in history if "learning_rate" in entry]
        if rates and max(rates) > trial.params["learning_rate"] * (1 + 1e-6):
            raise NotYet(f"trial {trial.number} trained with a larger learning rate than it asked for",
                         "pass the suggested rate to TrainingArguments(learning_rate=...)")
        if not _close(trial.value, max(evaluations)):
            raise NotYet(f"trial {trial.number} returned {trial.value}, not its best epoch's validation accuracy",
                         "return trainer.state.best_metric (with metric_for_best_model='accuracy')")
    best = study.best_trial
    return f"{len(done)} trials trained; the best, {best.params}, scored {best.value:.4f} on validation"
