"""Figures of a case: belief timeline, evidence waterfall, reliability, calibration, what-if, ACH.

Every function returns a :class:`matplotlib.figure.Figure`: the last expression of a notebook
cell displays it, ``fig.savefig(path)`` saves it. It draws on the ``ax`` it is given (and
returns that Axes' figure), or on a new Figure made without ``pyplot``, so nothing is registered
globally and no window opens. No rcParams are changed.

Colours follow the Okabe–Ito palette (readable with colour-blindness): a confirm is blue, a deny
vermillion, a neutral report grey, a signal bluish green (+1) or reddish purple (-1).

The figures live in :mod:`belief.plots.timeline` (:func:`plot_timeline`),
:mod:`belief.plots.evidence` (:func:`plot_contributions`, :func:`plot_ach`) and
:mod:`belief.plots.reliability` (:func:`plot_reliability_forest`,
:func:`plot_reliability_diagram`, :func:`plot_what_if`). The tables behind the reliability
figures, :func:`~belief.explain.sensitivity.reliability_prior_table` and
:func:`~belief.explain.sensitivity.what_if_table`, live in :mod:`belief.explain` (no matplotlib).
"""

from __future__ import annotations

from belief.plots._common import KIND_MARKERS, STANCE_COLORS
from belief.plots.evidence import plot_ach, plot_contributions
from belief.plots.reliability import (
    plot_reliability_diagram,
    plot_reliability_forest,
    plot_what_if,
)
from belief.plots.timeline import plot_timeline

__all__ = [
    "KIND_MARKERS",
    "STANCE_COLORS",
    "plot_ach",
    "plot_contributions",
    "plot_reliability_diagram",
    "plot_reliability_forest",
    "plot_timeline",
    "plot_what_if",
]
