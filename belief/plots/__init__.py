"""Figures of a case: belief timeline, evidence waterfall, reliability, calibration, what-if, ACH.

Every function draws on the ``ax`` it is given, or on a new :class:`matplotlib.figure.Figure`
(never through ``pyplot``, so nothing is registered globally and no window opens), and returns
the Axes (or the Figure, for multi-panel plots). No rcParams are changed. To show a figure in a
notebook, make ``ax.figure`` the cell's last expression; to save it, ``ax.figure.savefig(path)``.

Colours follow the Okabe–Ito palette (readable with colour-blindness): a confirm is blue, a deny
vermillion, a neutral report grey, a signal bluish green (+1) or reddish purple (-1).

The figures live in :mod:`belief.plots.timeline` (:func:`plot_timeline`),
:mod:`belief.plots.evidence` (:func:`plot_contributions`, :func:`plot_ach`) and
:mod:`belief.plots.reliability` (:func:`plot_reliability_forest`,
:func:`plot_reliability_diagram`, :func:`plot_what_if`). The tables behind the reliability
figures, :func:`~belief.explain.sensitivity.reliability_prior_table` and
:func:`~belief.explain.sensitivity.what_if_table`, live in :mod:`belief.explain.sensitivity` (no
matplotlib) and are re-exported here for compatibility.
"""

from __future__ import annotations

# Not in __all__ (as before the split), but importable from here for compatibility.
from belief.explain.sensitivity import reliability_prior_table as reliability_prior_table
from belief.explain.sensitivity import what_if_table as what_if_table
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
