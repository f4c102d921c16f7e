"""ICD 203 terms: every band edge, mirror symmetry, monotonicity and invalid input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from belief.core.verbal import ICD203_EDGES, ICD203_TERMS, verbal

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
    # probabilities are compared at 12 decimals (so that 1 - 0.55 counts as 0.45)
    below, above = edge - 1e-9, edge + 1e-9
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


# In floating point 1 - 0.55 is 0.44999999999999996 and 1 - 0.8 is 0.19999999999999996; the
# mirror symmetry must hold at these edges too.
@pytest.mark.parametrize("edge", ICD203_EDGES)
def test_edges_mirror(edge):
    assert verbal(1 - edge) == mirror(verbal(edge))


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(p=unit)
def test_mirror_symmetry(p):
    # only where 1 - p is exact in floating point: otherwise rounding alone can cross an edge
    q = 1.0 - p
    assume(Fraction(1) - Fraction(p) == Fraction(q))
    assert verbal(q) == mirror(verbal(p))


@given(n=st.integers(0, 10_000))
def test_mirror_symmetry_on_a_grid(n):
    p = n / 10_000
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
