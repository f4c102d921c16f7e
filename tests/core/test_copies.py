"""The copy order (belief.core.copies.copy_rank) against np.lexsort of its keys."""

from __future__ import annotations

import numpy as np
import pytest

from belief.core.copies import copy_order, copy_rank, sort_unique
from belief.data.arrays import NO_TIME, ReportArrays


@pytest.mark.parametrize("seed", range(4))
def test_copy_rank_is_the_lexsort_of_the_copy_order(seed):
    """Ties in time, source and stance; missing times; source labels out of code order."""
    rng = np.random.default_rng(seed)
    n = 500
    times = np.array([NO_TIME, -5, 0, 7, 10**15])
    ra = ReportArrays(
        ["c0", "c1"], [f"s{9 - j}" for j in range(10)], rng.integers(0, 2, n),
        rng.integers(0, 10, n), rng.integers(-1, 2, n).astype(np.int8), np.full(n, -1),
        times[rng.integers(0, 5, n)],
    )  # fmt: skip
    expected = np.empty(n, np.int64)
    expected[np.lexsort(copy_order(ra, np.arange(n)))] = np.arange(n)
    np.testing.assert_array_equal(copy_rank(ra), expected)


def test_sort_unique_falls_back_to_lexsort_when_the_key_overflows():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2**40, 200), rng.permutation(200)
    big = (np.r_[a, a], np.r_[b, b + 200])  # spans multiply past 2**62
    small = (rng.integers(0, 3, 200), b)
    for keys in (big, small):
        np.testing.assert_array_equal(sort_unique(keys), np.lexsort(keys[::-1]))
