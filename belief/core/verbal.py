"""Words for probabilities: the ICD 203 expressions of likelihood.

US Intelligence Community Directive 203 (Analytic Standards, 2015) fixes seven terms, each for a
range of probability:

======================== ==========
term                     range
======================== ==========
almost no chance         [0, 0.05)
very unlikely            [0.05, 0.20)
unlikely                 [0.20, 0.45)
roughly even chance      [0.45, 0.55]
likely                   (0.55, 0.80]
very likely              (0.80, 0.95]
almost certain           (0.95, 1]
======================== ==========

The directive's table gives 01–05 %, 05–20 %, ...; the edges here are assigned so that the
scale is symmetric: ``verbal(p)`` and ``verbal(1 - p)`` are mirror terms. Probabilities are
compared with the edges after rounding to 12 decimals, so floating-point noise such as
``1 - 0.55 == 0.44999999999999996`` does not change the term.
"""

from __future__ import annotations

import numpy as np

ICD203_TERMS: tuple[str, ...] = (
    "almost no chance",
    "very unlikely",
    "unlikely",
    "roughly even chance",
    "likely",
    "very likely",
    "almost certain",
)
#: Lower edges of the upper four bands and upper edges of the lower three.
ICD203_EDGES: tuple[float, ...] = (0.05, 0.20, 0.45, 0.55, 0.80, 0.95)


def verbal(p: float) -> str:
    """Return the ICD 203 term for probability ``p``.

    Examples
    --------
    >>> verbal(0.03), verbal(0.5), verbal(0.97)
    ('almost no chance', 'roughly even chance', 'almost certain')
    >>> verbal(0.2), verbal(0.8)
    ('unlikely', 'likely')
    """
    if not 0.0 <= p <= 1.0 or np.isnan(p):
        raise ValueError(f"p should be in [0, 1] but got {p}")
    return str(verbal_array(np.array([p]))[0])


def verbal_array(p: np.ndarray) -> np.ndarray:
    """The ICD 203 term of every probability in ``p`` (NaN raises; see :func:`verbal`).

    Examples
    --------
    >>> verbal_array(np.array([0.03, 0.5, 0.8])).tolist()
    ['almost no chance', 'roughly even chance', 'likely']
    """
    raw = np.asarray(p, dtype=float)
    if np.isnan(raw).any():
        raise ValueError("p contains NaN: no ICD 203 term describes it")
    # 1 - 0.55 is 0.44999999999999996 in floating point: compare at 12 decimals so that
    # the term of 1 - p is always the mirror term of p's, as the table promises
    p = np.round(raw, 12)
    near = np.zeros(raw.shape, dtype=bool)
    for edge in ICD203_EDGES:  # one edge at a time: no (n, edges) array for millions of claims
        near |= np.abs(raw - edge) < 1e-9
    p[near] = [round(float(x), 12) for x in raw[near]]  # exactly Python's rounding near edges
    low = np.searchsorted(ICD203_EDGES[:3], p, side="right")
    high = 3 + np.searchsorted(ICD203_EDGES[3:], p, side="left")
    return np.asarray(ICD203_TERMS, dtype=object)[np.where(p < 0.5, low, high)]
