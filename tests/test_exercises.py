"""The exercises' mechanism (helpers/exercises/core.py): a placeholder asks to fill in, nothing raises, a result says
itself; every exercise has a starter cell, a check call and an asserted worked solution; every notebook (and
solution) starts with the install guard. Each notebook's checks: tests/test_exercises_nb01.py to nb09.py.
"""

from __future__ import annotations

import re

import pytest

import helpers
from helpers import exercises

from support import fails, notebook_cells, notebook_path

EXERCISED = tuple(sorted({key[:2] for key in exercises.EXERCISES}))  # the notebooks with exercises, 01 to 09


@pytest.fixture
def tiny_env(monkeypatch, tmp_path, tiny_cache):
    """The checks read the profile from the environment, as in a notebook: the tiny one, writing into tmp."""
    monkeypatch.setenv("TC_PROFILE", "tiny")
    monkeypatch.setenv("TC_CACHE_DIR", str(tiny_cache))
    monkeypatch.setenv("TC_OUTPUT_DIR", str(tmp_path / "out"))
    return helpers.get_settings()


# ---------------------------------------------------------------------------------------------- the module


def test_every_check_names_itsnotebook_path():
    """Each check is registered as NN.k and has a one-line docstring naming notebook NN and exercise k."""
    assert exercises.EXERCISES
    for key, check in ((key, e.check) for key, e in exercises.EXERCISES.items()):
        notebook, number = re.fullmatch(r"(\d\d)\.(\d)", key).groups()
        doc = check.__doc__.strip()
        assert "\n" not in doc and doc.startswith(f"Notebook {notebook}, exercise {number}:"), (key, doc)
        assert exercises.EXERCISES[key].fill_in


@pytest.mark.parametrize("key", sorted(exercises.EXERCISES))
@pytest.mark.parametrize("placeholder", [..., None])
def test_a_placeholder_asks_to_fill_in(key, placeholder, capsys):
    """A starter cell left as shipped (`...` or None) prints `fill in`, returns a false result, raises nothing."""
    arity = exercises.EXERCISES[key].check.__code__.co_argcount
    out = fails(capsys, key, *[placeholder] * arity, saying="fill in the cell above")
    assert exercises.EXERCISES[key].fill_in in out


def test_unknown_exercise_and_wrong_arity_do_not_raise(capsys):
    """A mistyped key names the known ones; too few or too many answers are a `not yet`, not a TypeError."""
    out = fails(capsys, "01.9", 1)
    assert "no exercise '01.9'" in out and "01.1" in out
    fails(capsys, "04.1", 0.69, 0.69, 0.69, saying="raised TypeError")
    fails(capsys, "04.1", saying="fill in")


def test_an_error_inside_the_learners_code_is_a_hint(capsys):
    """A learner's function that raises gives `not yet` naming the error, and the result is false."""

    def compute_metrics(eval_pred):
        raise KeyError("logits")

    fails(capsys, "04.2", compute_metrics, saying="raised KeyError")


def test_result_is_quiet_in_a_notebook_and_says_itself_elsewhere(capsys):
    """The result is a bool-like object whose notebook display is empty (the printed line says it all)."""
    result = exercises.check("01.1", None)
    capsys.readouterr()
    assert not result and result.message.startswith("not yet") and repr(result) == "Result(passed=False)"
    assert result._ipython_display_() is None




# ---------------------------------------------------------------------------------------------- the notebooks


@pytest.mark.parametrize("key", sorted(exercises.EXERCISES))
def test_hint_and_solution_on_request(key, capsys):
    """Every exercise has a hint that names the method without a line of the solution's code, and a solution that
    `exercises.solution(key)` prints: the code of the solutions notebook, as it stands there."""
    exercise = exercises.EXERCISES[key]
    solved = "\n".join(source for kind, source in notebook_cells(notebook_path(key[:2], solutions=True))
                       if kind == "code")
    assert exercise.hint and exercise.solution.strip() and exercise.solution.strip() in solved, key
    assert not [line for line in exercise.solution.splitlines()
                if len(line.strip()) > 30 and line.strip() in exercise.hint]
    exercises.solution(key)
    assert exercise.solution in capsys.readouterr().out


@pytest.mark.parametrize("number", EXERCISED)
def test_the_starter_names_hint_and_solution_once(number):
    """Each notebook with exercises points to `exercises.hint` and `exercises.solution` once, at its first exercise."""
    text = "\n".join(source for _, source in notebook_cells(notebook_path(number)))
    assert text.count(f'exercises.hint("{number}.1")') == 1 and text.count(f'exercises.solution("{number}.1")') == 1


@pytest.mark.parametrize("number", EXERCISED)
def test_each_exercise_has_a_starter_a_check_and_an_asserted_solution(number):
    """Notebook NN: at least three exercises; each check call follows a starter holding `...` (the cell before, or
    earlier in its own cell); its solutions assert every check passes (so nbval fails on a wrong worked solution)."""
    keys = sorted(key for key in exercises.EXERCISES if key.startswith(f"{number}."))
    assert len(keys) >= 3
    starter = notebook_cells(notebook_path(number))
    solved = "\n".join(source for kind, source in notebook_cells(notebook_path(number, solutions=True))
                       if kind == "code")
    for key in keys:
        call = f'exercises.check("{key}"'
        calls = [i for i, (kind, source) in enumerate(starter) if kind == "code" and call in source]
        assert len(calls) == 1, key
        before, previous = starter[calls[0]][1].split(call)[0], starter[calls[0] - 1]
        assert "..." in before or (previous[0] == "code" and "..." in previous[1]), key
        assert re.search(rf'assert exercises\.check\("{re.escape(key)}"', solved), key
    assert set(re.findall(r'exercises\.check\("(\d\d\.\d)"', solved)) == set(keys)


GUARDED = [notebook_path("00")] + [notebook_path(n, s) for n in EXERCISED for s in (False, True)]


@pytest.mark.parametrize("path", GUARDED, ids=lambda p: p.name)
def test_first_code_cell_guards_the_helpers_import(path):
    """The first code cell begins with the try/except around `import helpers` (the hosted-notebook guard)."""
    first = next(source for kind, source in notebook_cells(path) if kind == "code")
    assert first.startswith("try:\n    import helpers\nexcept ModuleNotFoundError:")
    assert "raise SystemExit(" in first.split("\n\n")[0] and "git+<this repository" in first
