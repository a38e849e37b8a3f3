"""Validation of notebook parameters (the cell right after each ``parameters`` cell).

A notebook records ``set(globals())`` just before its ``parameters`` cell; papermill
injects its values after that cell, so every name defined since then is a parameter,
and a misspelt ``-p epoch 5`` shows up as an unknown name instead of being ignored.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any, Callable, Container, Iterable


class ParameterError(ValueError):
    """A notebook parameter has an unknown name or an invalid value."""


def parameters_since(namespace: dict[str, Any], before: Iterable[str]) -> dict[str, Any]:
    """The names defined in ``namespace`` since ``before`` (private ``_names`` excluded)."""
    before = set(before)
    return {k: namespace[k] for k in sorted(namespace) if k not in before and not k.startswith("_")}


def reject_unknown(params: Iterable[str], known: Iterable[str]) -> None:
    """Raise :class:`ParameterError` naming each unknown parameter, with the closest known name."""
    known = list(known)
    unknown = [k for k in params if k not in known]
    if unknown:
        msgs = []
        for k in unknown:
            close = difflib.get_close_matches(k, known, n=1)
            msgs.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ParameterError(f"unknown parameter {', '.join(msgs)}; this notebook takes "
                             f"{', '.join(known)}")


def check(cond: bool, name: str, value: Any, expected: str) -> None:
    if not cond:
        raise ParameterError(f"parameter {name}={value!r} is invalid: expected {expected}")


@dataclass(frozen=True)
class Rule:
    """A condition on a parameter value, with the words that describe a valid one."""

    ok: Callable[[Any], bool]
    expected: str


def path_or_none() -> Rule:
    return Rule(lambda v: v is None or isinstance(v, (str, os.PathLike)), "a folder path or None")


def subset_of(choices: Iterable[str]) -> Rule:
    choices = list(choices)
    return Rule(lambda v: isinstance(v, (list, tuple)) and len(v) > 0 and all(x in choices for x in v),
                f"a non-empty list drawn from {', '.join(choices)}")


def check_choice(name: str, value: Any, choices: Container | Rule) -> None:
    if isinstance(choices, Rule):
        return check(choices.ok(value), name, value, choices.expected)
    if isinstance(choices, range):
        expected = f"an integer from {choices.start} to {choices.stop - 1}"
        ok = isinstance(value, int) and not isinstance(value, bool) and value in choices
    else:
        expected = f"one of {', '.join(map(repr, choices))}"
        ok = value in choices
    check(ok, name, value, expected)


def validate(namespace: dict[str, Any], before: Iterable[str], choices: dict[str, Container | Rule]
             ) -> dict[str, Any]:
    """Check a notebook's parameters against ``choices`` (name -> allowed values or a Rule); return them."""
    params = parameters_since(namespace, before)
    reject_unknown(params, choices)
    for k, v in params.items():
        check_choice(k, v, choices[k])
    return params
