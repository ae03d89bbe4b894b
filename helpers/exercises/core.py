"""Exercises that check themselves, in the manner of Kaggle Learn (notebooks 01-09).

Under each exercise's starter cell a learner calls `exercises.check("01.1", answer)` (notebook 01, exercise 1). It
prints `Correct: ...`, or `not yet: ...` with what is wrong and a hint; it never raises (a placeholder left as
`...` or None, a wrong type, an error inside the check: each is a `not yet`), so a starter notebook runs as shipped.
It returns a `Result` that is true on a pass (tests and the worked solutions assert it) and shows nothing more
in a notebook. The checks work out the expected answer themselves, from `helpers.get_settings()` (the profile
the notebook runs on), so they hold on every profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

@dataclass(frozen=True)
class Exercise:
    """One exercise: its check, what the starter cell asks for, the method to point to, and the worked solution."""

    check: Callable[..., str]
    fill_in: str
    hint: str
    solution: str


EXERCISES: dict[str, Exercise] = {}  # "01.1" -> notebook 01's first exercise


class NotYet(Exception):
    """A wrong answer: what is wrong, and a hint that points to the method, never to the value (raised by a check)."""

    def __init__(self, what: str, hint: str):
        super().__init__(what)
        self.what, self.hint = what, hint


class Result:
    """What `check` returns: true on a pass; in a notebook it shows nothing (the check has printed its line)."""

    def __init__(self, passed: bool, message: str):
        self.passed, self.message = passed, message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Result(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Nothing to show: the line printed by `check` says it all."""


def exercise(key: str, fill_in: str, *, hint: str = "", solution: str = "") -> Callable[[Callable], Callable]:
    """Register a check as exercise `key`; `fill_in` says what the starter cell asks for, `hint` the method to use,
    `solution` the worked solution's code (shown only by `solution(key)`)."""

    def register(function: Callable) -> Callable:
        EXERCISES[key] = Exercise(function, fill_in, hint, solution)
        return function

    return register


def _unknown(key: str) -> str | None:
    """The `not yet` line for an exercise key that does not exist, or None."""
    if key in EXERCISES:
        return None
    return (f"not yet: there is no exercise {key!r}; known ones: {', '.join(sorted(EXERCISES))}\n"
            "hint: the notebook's number, a dot, the exercise's: exercises.check(\"01.1\", answer)")


def check(key: str, *answers) -> Result:
    """Check the answer to exercise `key` ("04.2": notebook 04, exercise 2); print a pass, or what is wrong, a hint."""
    try:
        if unknown := _unknown(key):
            return _said(False, unknown)
        fill_in = EXERCISES[key].fill_in
        if not answers or any(answer is None or answer is Ellipsis for answer in answers):
            return _said(False, f"not yet: fill in the cell above ({fill_in}), then run this cell again")
        return _said(True, f"Correct: {EXERCISES[key].check(*answers)}")
    except NotYet as wrong:
        return _said(False, f"not yet: {wrong.what}\nhint: {wrong.hint}\n"
                            f"(stuck? exercises.hint({key!r}), then exercises.solution({key!r}))")
    except Exception as error:  # noqa: BLE001: a learner's answer may fail in any way; never a traceback here
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return _said(False, f"not yet: checking your answer raised {type(error).__name__}"
                            f"{': ' + first if first else ''}\nhint: the cell above should give {EXERCISES[key].fill_in}")


def hint(key: str) -> None:
    """Print the method exercise `key` asks for (Kaggle Learn's `q.hint()`): where to look, not the answer."""
    print(_unknown(key) or f"hint: {EXERCISES[key].hint or EXERCISES[key].fill_in}", flush=True)


def solution(key: str) -> None:
    """Print the worked solution of exercise `key` (Kaggle Learn's `q.solution()`), only when a learner asks."""
    print(_unknown(key) or f"solution:\n{EXERCISES[key].solution}", flush=True)


def _said(passed: bool, message: str) -> Result:
    """Print `message` and return it as a `Result`."""
    print(message, flush=True)
    return Result(passed, message)


def _settings():
    """The settings the notebook runs on (its profile, from the environment)."""
    from ..reach import get_settings

    return get_settings()


def _number(answer, name: str) -> float:
    """`answer` as a float, or a `NotYet` saying a number was expected."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise NotYet(f"{name} should be a number, not {type(answer).__name__}", f"compute {name} as one number")
    return float(answer)


def _frame(answer, name: str) -> pd.DataFrame:
    """`answer` if it is a DataFrame, else a `NotYet`."""
    if not isinstance(answer, pd.DataFrame):
        raise NotYet(f"{name} should be a pandas DataFrame, not {type(answer).__name__}",
                     f"keep the rows themselves in {name} (what train_test_split returns)")
    return answer


def _close(a, b, tolerance: float = 1e-6) -> bool:
    """True when two numbers agree within `tolerance`."""
    return abs(float(a) - float(b)) <= tolerance
