"""CompactBlock (the Dask partitions' cells) against Block: the same cells and reductions."""

from __future__ import annotations

import numpy as np
import pytest

from belief.engines.cells import Block
from belief.engines.compact import CompactBlock


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_compact_block_equals_block(seed, weighted):
    """Unit reports, repeats in a cell, confirm and deny in one cell, weighted copies."""
    rng = np.random.default_rng(seed)
    n_claims, n_sources, n = 50, 12, 400
    claim = rng.integers(n_claims, size=n)
    source = rng.integers(n_sources, size=n)
    confirm = rng.random(n) < 0.6
    weight = np.where(rng.random(n) < 0.2, rng.uniform(0.1, 1.0, n), 1.0) if weighted else None
    weight = np.ones(n) if weight is None else weight
    wide = Block(n_claims, n_sources, claim, source, confirm, weight)
    compact = CompactBlock(n_claims, n_sources, claim, source, confirm, weight)
    order = np.lexsort((wide.cells()[1], wide.cells()[0]))
    order_c = np.lexsort((compact.cells()[1], compact.cells()[0]))
    for a, b in zip(wide.cells(), compact.cells(), strict=True):
        np.testing.assert_allclose(np.asarray(a)[order], np.asarray(b)[order_c], atol=1e-12)
    q = rng.random(n_claims)
    post = rng.uniform(1.0, 20.0, (n_sources, 4)) + np.column_stack(
        [np.bincount(source, confirm * weight, n_sources),
         np.bincount(source, ~confirm * weight, n_sources)] * 2
    )  # fmt: skip
    np.testing.assert_allclose(compact.source_stats(q), wide.source_stats(q), atol=1e-12)
    np.testing.assert_allclose(compact.claim_sums(post, q), wide.claim_sums(post, q), atol=1e-12)
    for a, b in zip(compact.claim_moments(post, q), wide.claim_moments(post, q), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # and against a loop over the reports
    stats = np.zeros((n_sources, 4))
    for c, s, x, w in zip(claim, source, confirm, weight, strict=True):
        stats[s] += w * (
            np.array([q[c], 0, 0, 1 - q[c]]) if x else np.array([0, q[c], 1 - q[c], 0])
        )
    np.testing.assert_allclose(compact.source_stats(q), stats, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_compact_block_round_trips_through_its_arrays(seed):
    """What the Dask backend writes to disk out of core reads back as the same block: every
    reduction equal bit for bit, including sources with no cell (their totals are not stored)."""
    rng = np.random.default_rng(seed)
    n_claims, n_sources, n = 40, 30, 200
    claim, source = rng.integers(n_claims, size=n), rng.integers(n_sources // 2, size=n)
    confirm = rng.random(n) < 0.5
    weight = np.where(rng.random(n) < 0.2, 0.5, 1.0)
    block = CompactBlock(n_claims, n_sources, claim, source, confirm, weight)
    arrays = {k: np.array(v) for k, v in block.to_arrays().items()}  # copies, as from a file
    again = CompactBlock.from_arrays(arrays)
    q, post = rng.random(n_claims), rng.uniform(5.0, 20.0, (n_sources, 4))
    assert np.array_equal(again.source_stats(q), block.source_stats(q))
    assert np.array_equal(again.claim_sums(post, q), block.claim_sums(post, q))
    for a, b in zip(again.claim_moments(post, q), block.claim_moments(post, q), strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(again.cells(), block.cells(), strict=True):
        assert np.array_equal(a, b)
    assert len(arrays["total_at"]) <= n_sources // 2  # only the sources with cells
