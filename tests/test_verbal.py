"""ICD 203 terms: every band edge, mirror symmetry, monotonicity and invalid input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from belief.verbal import ICD203_EDGES, ICD203_TERMS, verbal

T = dict(
    zip(
        ("none", "very_unlikely", "unlikely", "even", "likely", "very_likely", "certain"),
        ICD203_TERMS,
    )
)


def test_terms_and_edges_are_the_documented_ones():
    assert ICD203_TERMS == (
        "almost no chance",
        "very unlikely",
        "unlikely",
        "roughly even chance",
        "likely",
        "very likely",
        "almost certain",
    )
    assert ICD203_EDGES == (0.05, 0.20, 0.45, 0.55, 0.80, 0.95)


@pytest.mark.parametrize(
    ("p", "term"),
    [
        (0.0, "none"),
        (0.03, "none"),
        # lower bands are closed below: [0.05, 0.20) is "very unlikely"
        (0.05, "very_unlikely"),
        (0.1, "very_unlikely"),
        (0.2, "unlikely"),
        (0.3, "unlikely"),
        (0.45, "even"),
        (0.5, "even"),
        # upper bands are closed above: (0.55, 0.80] is "likely"
        (0.55, "even"),
        (0.7, "likely"),
        (0.8, "likely"),
        (0.9, "very_likely"),
        (0.95, "very_likely"),
        (0.97, "certain"),
        (1.0, "certain"),
    ],
)
def test_band_values_and_edges(p, term):
    assert verbal(p) == T[term]


@pytest.mark.parametrize("edge", ICD203_EDGES)
def test_each_edge_changes_term_exactly_there(edge):
    below, above = np.nextafter(edge, 0.0), np.nextafter(edge, 1.0)
    i = ICD203_EDGES.index(edge)
    if edge < 0.5:  # the edge itself belongs to the band above it
        assert (verbal(below), verbal(edge), verbal(above)) == (
            ICD203_TERMS[i],
            ICD203_TERMS[i + 1],
            ICD203_TERMS[i + 1],
        )
    else:  # the edge itself belongs to the band below it
        assert (verbal(below), verbal(edge), verbal(above)) == (
            ICD203_TERMS[i],
            ICD203_TERMS[i],
            ICD203_TERMS[i + 1],
        )


def mirror(term: str) -> str:
    return ICD203_TERMS[6 - ICD203_TERMS.index(term)]


# float(0.55) + float(0.45) > 1 and float(0.8) + float(0.2) > 1, so 1 - 0.55 computes to
# 0.44999999999999996 < 0.45 ("unlikely", not "roughly even chance") and 1 - 0.8 to
# 0.19999999999999996 < 0.2 ("very unlikely", not "unlikely"): the documented mirror symmetry
# fails exactly at these two edges (belief/verbal.py compares against the raw edges).
MIRROR_BROKEN = {0.55, 1 - 0.55, 0.8, 1 - 0.8}


@pytest.mark.parametrize(
    "edge",
    [
        pytest.param(
            e,
            marks=pytest.mark.xfail(
                e in MIRROR_BROKEN, reason="float edges 0.55/0.8 not symmetric", strict=True
            ),
        )
        for e in ICD203_EDGES
    ],
)
def test_edges_mirror(edge):
    assert verbal(1 - edge) == mirror(verbal(edge))


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(p=unit)
def test_mirror_symmetry(p):
    # only where 1 - p is exact in floating point: otherwise rounding alone can cross an edge
    q = 1.0 - p
    assume(Fraction(1) - Fraction(p) == Fraction(q))
    assume(p not in MIRROR_BROKEN)  # see test_edges_mirror
    assert verbal(q) == mirror(verbal(p))


@given(n=st.integers(0, 10_000))
def test_mirror_symmetry_on_a_grid(n):
    p = n / 10_000
    assume(p not in MIRROR_BROKEN)
    assert verbal(1 - p) == mirror(verbal(p))


@given(a=unit, b=unit)
def test_monotone(a, b):
    lo, hi = sorted((a, b))
    assert ICD203_TERMS.index(verbal(lo)) <= ICD203_TERMS.index(verbal(hi))


def test_numpy_scalars():
    assert verbal(np.float64(0.5)) == T["even"]
    assert verbal(np.float32(0.99)) == T["certain"]


@pytest.mark.parametrize("p", [-0.01, 1.01, math.nan, math.inf, -math.inf, -1e-300])
def test_invalid_p(p):
    with pytest.raises(ValueError, match="p should be in"):
        verbal(p)
