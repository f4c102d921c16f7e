"""Reports and results as integer-coded arrays: the scale engines' side of the data contract.

The scale engines (:mod:`belief.engines.fast`, :mod:`belief.engines.incremental`,
:mod:`belief.engines.dask`) never build a :class:`~belief.data.types.Report` object per row and
nothing is dense in claims × sources: they work on integer codes. This module holds both directions
of that translation.

*In*: :class:`ReportArrays` codes the reports (from a Case with
:func:`belief.core.compiler.report_arrays_from_case`, from files with
:func:`belief.data.streaming.read_reports`); the compiler (:mod:`belief.core.compiler`) turns them
into :class:`~belief.core.compiler.Evidence`. :class:`Growable` holds codes that arrive one report
at a time (:mod:`belief.engines.incremental`).

"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

__all__ = [
    "NO_TIME",
    "STANCE_RANK",
    "Growable",
    "ReportArrays",
    "time_code",
]

#: Time code of a report without a time: sorts before every real time, as in the batch engine.
NO_TIME = np.iinfo(np.int64).min
#: Rank of a stance by code + 1 (deny, neutral, confirm): alphabetical order.
STANCE_RANK = np.array([1, 2, 0])
_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


def time_code(t: datetime | None) -> int:
    """A naive UTC time as microseconds since 1970 (years 1-9999 fit); :data:`NO_TIME` if None.

    Examples
    --------
    >>> time_code(datetime(1000, 1, 1)) < time_code(datetime(1970, 1, 1)) == 0
    True
    """
    return NO_TIME if t is None else (t.replace(tzinfo=None) - _EPOCH) // _US


@dataclass(frozen=True)
class ReportArrays:
    """Reports as integer-coded arrays (no :class:`~belief.data.types.Report` object per row).

    Attributes
    ----------
    claim_ids, source_ids : list of str
        The codes' labels. ``source_ids`` covers ``source_id`` and ``derived_from`` values.
    claim, source : ndarray of int64
        Codes of each report's claim and source.
    stance : ndarray of int8
        ``1`` confirm, ``-1`` deny, ``0`` neutral.
    derived : ndarray of int64
        Code of the ``derived_from`` source, ``-1`` when the report is original.
    time : ndarray of int64
        Microseconds since the epoch (UTC, :func:`time_code`), :data:`NO_TIME` when missing.
    """

    claim_ids: list[str]
    source_ids: list[str]
    claim: np.ndarray
    source: np.ndarray
    stance: np.ndarray
    derived: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        return len(self.claim)


class Growable:
    """A growable array (amortized O(1) append), for codes that arrive one report at a time.

    :class:`belief.engines.incremental.Belief` keeps its coded reports, claims and sources in these.

    Parameters
    ----------
    values : array_like
        Initial contents.
    dtype : dtype
        Element type.
    width : int
        Row width for a 2-d array of rows (``0``: 1-d).

    Attributes
    ----------
    a : ndarray
        The buffer (filled up to ``n``; writable in place).
    n : int
        Number of elements filled.

    Examples
    --------
    >>> g = Growable([1, 2], np.int64)
    >>> g.append(3)
    >>> g.v.tolist(), g.n
    ([1, 2, 3], 3)
    """

    def __init__(self, values: Any, dtype: Any, width: int = 0) -> None:
        v = np.asarray(values, dtype=dtype).reshape((-1, width) if width else -1)
        self.a = np.empty((max(16, 2 * len(v)), *v.shape[1:]), dtype=dtype)
        self.a[: len(v)] = v
        self.n = len(v)

    def append(self, x: Any) -> None:
        """Append one element (one row when 2-d)."""
        if self.n == len(self.a):
            self.a = np.concatenate([self.a, np.empty_like(self.a)])
        self.a[self.n] = x
        self.n += 1

    @property
    def v(self) -> np.ndarray:
        """The filled part (a view)."""
        return self.a[: self.n]
