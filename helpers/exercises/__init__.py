"""Exercises that check themselves, in the manner of Kaggle Learn: one module of checks per notebook (nb01 ... nb09).

Under each exercise's starter cell a learner calls `exercises.check("01.1", answer)` (notebook 01, exercise 1);
`exercises.hint("01.1")` points to the method and `exercises.solution("01.1")` shows the worked solution, only when
asked. The checks live in `core` (the mechanism) and one module per notebook.
"""

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09  # noqa: F401: importing them registers their checks
from .core import EXERCISES, NotYet, Result, check, hint, solution

__all__ = ["EXERCISES", "NotYet", "Result", "check", "hint", "solution"]
