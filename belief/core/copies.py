"""The copy rule: which report's evidence counts, attributed to whom, with what weight.

A report with ``derived_from = X`` repeats X. A chain of copies (Y repeats X, which repeats Z)
resolves to its *root*: the first source along the chain with an original report on the claim,
or with no report on it at all. When the root has an original, the copy gets ``copy_weight``;
when the root is silent, the earliest copy resolving to it (ties broken by source id, then
stance) stands in for the root's report with full weight, and the others get ``copy_weight``.
A cycle of copies with no original counts as one report by one of its sources (a warning says
so). Vectorized: pointer doubling over (claim, source) nodes, no Python loop per report.
"""

from __future__ import annotations

import warnings

import numpy as np

from belief.data.arrays import STANCE_RANK, ReportArrays
from belief.exceptions import ValidationWarning

__all__ = ["copy_order", "copy_rank", "resolve_copies", "sort_unique"]


def copy_order(arrays: ReportArrays, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """``np.lexsort`` keys (last is primary) of the report order used for stand-ins.

    Reports without time first, then by time, source id, stance (confirm, deny, neutral) and
    position: ties are broken by content, so results do not depend on row order.
    """
    labels = np.asarray(arrays.source_ids, dtype=str)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[np.argsort(labels, kind="stable")] = np.arange(len(labels))
    stance = STANCE_RANK[arrays.stance[idx] + 1]
    return idx, stance, rank[arrays.source[idx]], arrays.time[idx]


def copy_rank(arrays: ReportArrays) -> np.ndarray:
    """Each report's position in the copy order (:func:`copy_order`): what "earlier" means."""
    n = len(arrays.claim)
    idx, stance, source, time = copy_order(arrays, np.arange(n))
    time = np.unique(time, return_inverse=True)[1].reshape(-1)  # dense codes, same order
    rank = np.empty(n, np.int64)
    rank[sort_unique((time, source, stance, idx))] = np.arange(n)
    return rank


def sort_unique(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """``np.lexsort(keys[::-1])`` (first key primary) of non-negative integer keys whose last
    key has no ties within the others: one unstable sort of a combined key when it fits in
    int64 (several times faster than ``lexsort``)."""
    total, key = 1, np.zeros(len(keys[0]), np.int64)
    for k in keys:
        span = int(k.max(initial=0)) + 1
        total *= span
        if total >= 2**62:
            return np.lexsort(keys[::-1])
        key = key * span + k
    return np.argsort(key)


def _roots(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root of every node of a functional graph; cycles resolve to their smallest node.

    Pointer doubling: O(n log n), no Python loop per node. Returns ``(root, in_cycle)``.
    """
    n = len(parent)
    rounds = max(1, int(np.ceil(np.log2(n + 1))) + 1)
    jump, low = parent.copy(), np.minimum(np.arange(n), parent)
    for _ in range(rounds):
        low = np.minimum(low, low[jump])
        jump = jump[jump]
    fixed = jump[jump] == jump
    fixed &= parent[jump] == jump
    root = np.where(fixed, jump, low[jump])
    return root, ~fixed


def resolve_copies(
    arrays: ReportArrays, copy_weight: float, *, warn: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The copy rule (see the module doc): attributed source, weight and stand-in positions.

    Returns
    -------
    attr : ndarray of int64
        Source code each report's evidence is attributed to.
    weight : ndarray of float
        Evidence weight (1 for originals and stand-ins, ``copy_weight`` for other copies).
    stand_in : ndarray of int64
        Sorted positions of the copies that stand in for a silent root.

    Examples
    --------
    >>> import numpy as np
    >>> ra = ReportArrays(["c"], ["x", "a", "b", "d"], np.zeros(3, np.int64),
    ...                   np.array([1, 2, 3]), np.ones(3, np.int8), np.array([-1, 0, 0]),
    ...                   np.array([5, 2, 1]))
    >>> attr, w, stand_in = resolve_copies(ra, 0.0)
    >>> attr.tolist(), w.tolist(), stand_in.tolist()  # the earliest copy stands in for x
    ([1, 2, 0], [1.0, 0.0, 1.0], [2])
    """
    claim, source, derived = arrays.claim, arrays.source, arrays.derived
    attr = np.asarray(source, dtype=np.int64).copy()
    weight = np.ones(len(attr))
    is_copy = derived >= 0
    if not is_copy.any():
        return attr, weight, np.zeros(0, dtype=np.int64)
    n_src = int(max(source.max(initial=0), derived.max(initial=0))) + 1
    idx = np.flatnonzero(is_copy)
    own = claim[idx] * n_src + source[idx]  # (claim, copier)
    target = claim[idx] * n_src + derived[idx]  # (claim, source copied)
    orig_keys = np.unique(claim[~is_copy] * n_src + source[~is_copy])
    nodes = np.unique(np.concatenate([own, target]))
    is_orig = np.isin(nodes, orig_keys)
    # a node that is not an original follows its earliest copy report (copy order)
    order = np.lexsort(copy_order(arrays, idx))
    first = order[np.unique(own[order], return_index=True)[1]]
    parent = np.arange(len(nodes))
    src_node = np.searchsorted(nodes, own[first])
    follow = ~is_orig[src_node]
    parent[src_node[follow]] = np.searchsorted(nodes, target[first][follow])
    root, cyclic = _roots(parent)
    if warn and cyclic.any():
        names = sorted({arrays.source_ids[int(k % n_src)] for k in nodes[cyclic]})
        warnings.warn(
            f"derived_from forms a cycle with no original report (sources "
            f"{', '.join(names[:5])}); the cycle counts as one report of {names[0]}",
            ValidationWarning,
            stacklevel=3,
        )
    r = root[np.searchsorted(nodes, target)]
    silent = ~is_orig[r]
    weight[idx] = copy_weight
    cand, ckeys = idx[silent], nodes[r[silent]]
    order = np.lexsort((*copy_order(arrays, cand), ckeys))
    first = order[np.r_[True, ckeys[order][1:] != ckeys[order][:-1]]] if len(order) else order
    stand_in = cand[first]
    weight[stand_in] = 1.0
    attr[stand_in] = ckeys[first] % n_src
    return attr, weight, np.sort(stand_in)
