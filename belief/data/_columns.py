"""Column names at the boundary: duplicates are errors, near misses of known names are warned.

A misspelled optional column (``derived_form``, ``favours``) would otherwise be kept silently as
an extra column while the model goes without the value it was meant to carry.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from belief.exceptions import ValidationError, ValidationWarning

#: How alike (difflib ratio, case-insensitive) an unknown name must be to a known one to be
#: taken for a misspelling of it.
CUTOFF = 0.7


def suggest(name: Any, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` most likely misspells, or ``None``."""
    if not isinstance(name, str):
        return None
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.strip().lower(), list(lowered), n=1, cutoff=CUTOFF)
    return lowered[match[0]] if match else None


def did_you_mean(name: Any, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    match = suggest(name, candidates)
    return f"; did you mean {match!r}?" if match else ""


def warn_near_misses(
    present: Iterable[Any],
    known: Sequence[str],
    where: Callable[[Any], str],
    what: str = "column",
) -> None:
    """Warn about each name in ``present`` that is not in ``known`` but close to a known name
    that is absent (a present name is not misspelled). Other unknown names pass silently."""
    present = list(present)
    absent = [k for k in known if k not in present]
    for name in present:
        if name in known:
            continue
        hint = did_you_mean(name, absent)
        if hint:
            warnings.warn(
                f"{where(name)}: unknown {what}, kept as an extra {what} the model does not "
                f"use{hint}",
                ValidationWarning,
                stacklevel=6,
            )


def check_unique(columns: Sequence[Any], label: str) -> None:
    """Fail on a column name given twice (pandas would silently rename the second one).

    ``label`` starts the message: the file and its header row (``reports.csv, row 1``).
    """
    first: dict[Any, int] = {}
    for i, name in enumerate(columns, start=1):
        if name in first:
            raise ValidationError(
                f"{label}, column {name!r}: duplicate column name (columns {first[name]} "
                f"and {i}); expected each column once but got {name!r} twice"
            )
        first[name] = i
