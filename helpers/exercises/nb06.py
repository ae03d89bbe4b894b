"""The checks of notebook 06 (hyperparameters)."""

from __future__ import annotations

import pandas as pd

from .core import _close, exercise, NotYet


@exercise("06.1", "`schedules`, {'linear': accuracy, 'cosine': accuracy} from the grid's runs")
def check_schedules(schedules: dict, runs: pd.DataFrame) -> str:
    """Notebook 06, exercise 1: the validation accuracy of the linear and the cosine schedule, from the search."""
    if not isinstance(schedules, dict) or set(schedules) != {"linear", "cosine"}:
        raise NotYet(f"schedules should map 'linear' and 'cosine' to an accuracy, not {schedules!r}",
                     "{name: accuracy for each lr_scheduler in the grid}")
    if "lr_scheduler" not in runs:
        raise NotYet("runs has no lr_scheduler column: the search did not search it",
                     "sweep.search(settings, {'learning_rate': [lr], 'lr_scheduler': ['linear', 'cosine']}, "
                     "search='grid')")
    from ..settings import FIELDS

    schedule = runs["lr_scheduler"].fillna(FIELDS["lr_scheduler"].default)  # a run that did not search it: the default
    for name, score in schedules.items():
        found = runs.loc[schedule == name, "val_accuracy"]
        if not any(_close(score, value) for value in found):
            raise NotYet(f"schedules[{name!r}] = {score} is no trial's validation accuracy with that schedule",
                         "read val_accuracy from the rows of runs with lr_scheduler == name")
    winner = max(schedules, key=schedules.get)
    gap = abs(schedules["linear"] - schedules["cosine"])
    return f"{winner} wins by {100 * gap:.1f} points of validation accuracy" if gap else "a tie"


@exercise("06.2", "`recipe_scores`, `spread`, `best_two`, `gap` and `gap_is_larger`")
def check_seed_noise(recipe, spread, best_two, gap, gap_is_larger) -> str:  # recipe: the seeds' scores
    """Notebook 06, exercise 2: the seed spread of the recipe against the gap between the search's best two settings."""
    recipe, best_two = [float(value) for value in recipe], [float(value) for value in best_two]
    if len(recipe) != 3:
        raise NotYet(f"recipe_scores holds {len(recipe)} scores", "three seeds, three validation accuracies")
    if not _close(spread, max(recipe) - min(recipe)):
        raise NotYet(f"spread is {float(spread):.4f}; the seeds' highest minus lowest is "
                     f"{max(recipe) - min(recipe):.4f}",
                     "max(recipe_scores) - min(recipe_scores)")
    if len(best_two) != 2 or best_two[0] < best_two[1]:
        raise NotYet("best_two should be the two best settings' accuracies, best first",
                     "the first two rows of sweep.by_setting(runs)['val_accuracy']")
    if not _close(gap, best_two[0] - best_two[1]):
        raise NotYet(f"gap is {float(gap):.4f}; the best two differ by {best_two[0] - best_two[1]:.4f}",
                     "best_two[0] - best_two[1]")
    if bool(gap_is_larger) != (gap > spread):
        raise NotYet(f"gap_is_larger is {gap_is_larger}, but the gap is {gap:.4f} and the spread {spread:.4f}",
                     "gap > spread")
    verdict = ("the gap is larger than the seed noise: worth a second look with more seeds" if gap > spread else
               "the gap is within the seed noise: not a finding")
    return f"spread {spread:.4f}, gap {gap:.4f}: {verdict}"


@exercise("06.3", "`study`, your optuna study after study.optimize(objective, n_trials=2)")
def check_objective(study) -> str:
    """Notebook 06, exercise 3: an optuna study whose objective also suggests the epochs with `suggest_int`."""
    import optuna

    if not isinstance(study, optuna.Study):
        raise NotYet(f"study is a {type(study).__name__}", "study = optuna.create_study(direction='maximize')")
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise NotYet("the study minimises: it would pick the worst accuracy",
                     "optuna.create_study(direction='maximize')")
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 2:
        raise NotYet(f"the study has {len(done)} complete trials", "study.optimize(objective, n_trials=2)")
    for trial in done:
        epochs = trial.distributions.get("num_train_epochs")
        if not isinstance(epochs, optuna.distributions.IntDistribution):
            raise NotYet(f"trial {trial.number} did not suggest num_train_epochs as a whole number",
                         "trial.suggest_int('num_train_epochs', 1, 2) in the objective")
        if not 0 <= trial.value <= 1:
            raise NotYet(f"trial {trial.number} returned {trial.value}, not an accuracy",
                         "return trainer.state.best_metric (the kept epoch's validation accuracy)")
    best = study.best_trial
    return f"{len(done)} trials; the best, {best.params}, scored {best.value:.4f} on validation"
