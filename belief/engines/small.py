"""Small coupled components, enumerated exactly after the fast engine's mean-field sweeps.

Mean-field can lock onto one mode of a two-mode posterior where a few sources report often on a
few claims; such components are small enough to enumerate (:mod:`belief.engines.exact`). See
:func:`exact_small_components`; :mod:`belief.engines.fast` and the incremental engine use it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from belief.core.compiler import Evidence
from belief.engines.cells import Block

__all__ = ["EXACT_COMPONENTS", "EXACT_STATES", "exact_small_components"]

#: Small coupled components are enumerated exactly up to this many joint states (see below).
EXACT_STATES = 1 << 12
#: ... unless more components than this qualify (then mean-field everywhere, as on large data).
EXACT_COMPONENTS = 20_000


def _small(
    n: int, n_sources: int, c_of: np.ndarray, s_of: np.ndarray, cand: np.ndarray,
    free: np.ndarray, groups: list[list[int]], max_states: int,
) -> list[list[int]]:  # fmt: skip
    """Components (claims ascending) of 2 to 24 claims, all ``free``, of at most ``max_states``.

    The components of the graph of the ``cand`` claims' cells (claim, source) and the groups
    (of ``cand`` claims), labelled once
    (:func:`scipy.sparse.csgraph.connected_components`, as :func:`belief.engines.exact.components`)
    and selected by counts: no Python list per claim.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from belief.engines.exact import n_states

    edges = cand[c_of]
    g_claim = np.concatenate([np.asarray(g, np.int64) for g in groups] or [np.zeros(0, np.int64)])
    g_node = np.repeat(np.arange(len(groups)), [len(g) for g in groups]) + n + n_sources
    rows = np.concatenate([c_of[edges], g_claim])
    cols = np.concatenate([s_of[edges] + n, g_node])
    size = n + n_sources + len(groups)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(size, size))
    label = connected_components(graph, directed=False)[1][:n]
    count = np.bincount(label)
    ok = (count >= 2) & (count <= 24) & (np.bincount(label, ~free) == 0)
    if not groups:  # every claim its own block: 2 ** claims joint states
        ok &= count <= max_states.bit_length() - 1
    claims = np.flatnonzero(ok[label])
    claims = claims[np.argsort(label[claims], kind="stable")]
    cuts = np.flatnonzero(np.diff(label[claims])) + 1
    comps = [c.tolist() for c in np.split(claims, cuts)] if len(claims) else []
    return [c for c in comps if not groups or n_states(c, groups) <= max_states]


def exact_small_components(
    ev: Evidence,
    lo: np.ndarray,
    max_states: int = EXACT_STATES,
    block: Block | None = None,
    memo: dict | None = None,
) -> np.ndarray:
    """Replace mean-field log-odds by exact ones on small coupled components.

    Mean-field picks one mode of the posterior. In a small component whose sources report on
    few claims but often (repeated reports), the exact posterior can mix two modes (a labelling
    and its mirror), and no single mode is within reach of it. Components of at least two
    claims with at most ``max_states`` joint truth states are therefore enumerated exactly
    (:mod:`belief.engines.exact`), which costs about ``states × sources`` per component; singletons
    are already exact under the cavity. Returns the indices of the claims enumerated. Skipped when
    more than :data:`EXACT_COMPONENTS` components qualify (large data, where sources have many
    claims and mean-field is accurate).

    ``memo`` (a dict kept by the caller) keeps the components found and their enumerated
    likelihoods for later calls on the same reports with other claim priors (a learned base
    rate tries several).
    """
    from belief.engines.exact import _enumerate, reprior

    if memo is not None and "small" in memo:
        sub, small = memo["small"]
        if small:
            reprior(memo, ev)  # learned kind reliability: the likelihoods change with the priors
            sub = replace(sub, prior_logodds=ev.prior_logodds, a_se=ev.a_se, b_se=ev.b_se,
                          a_sp=ev.a_sp, b_sp=ev.b_sp)  # fmt: skip
            for comp in small:
                lo[comp] = _enumerate(sub, comp, memo)
            return np.sort(np.concatenate([np.asarray(c, np.int64) for c in small]))
        return np.zeros(0, np.int64)

    none = np.zeros(0, np.int64)
    if max_states < 2:
        return none
    # a claim can lie in a small component only if each of its sources has few claims
    if block is not None:  # its cells are the distinct (claim, source) pairs already
        c_of, s_of = block.claim, block.source
    else:
        n_src = max(len(ev.source_ids), 1)
        cells = np.unique(ev.r_claim * n_src + ev.r_source)
        c_of, s_of = cells // n_src, cells % n_src
    n_claims_of = np.bincount(s_of, minlength=len(ev.source_ids))
    big = np.bincount(c_of, n_claims_of[s_of] > 24, len(ev.claim_ids)) > 0
    for g in ev.groups:
        if len(g) > 24 or big[g].any():
            big[g] = True
    # a source that also reports on a big claim links its claims to a large component
    touches_big = np.bincount(s_of, big[c_of], len(ev.source_ids)) > 0
    linked = np.bincount(c_of, touches_big[s_of], len(ev.claim_ids)) > 0
    shared = np.bincount(c_of, n_claims_of[s_of] > 1, len(ev.claim_ids)) > 0
    cand = ~big
    groups = [g for g in ev.groups if cand[g[0]]]
    if not (shared & cand).any() and not groups:
        if memo is not None:
            memo["small"] = (ev, [])
        return none  # every component is a singleton or too large
    small = _small(len(ev.claim_ids), len(ev.source_ids), c_of, s_of, cand, cand & ~linked,
                   groups, max_states)  # fmt: skip
    in_small = np.zeros(len(ev.claim_ids), dtype=bool)
    for c in small:
        in_small[c] = True
    keep = in_small[ev.r_claim]  # enumerate on the small components' reports only
    sub = replace(
        ev,
        r_claim=ev.r_claim[keep],
        r_source=ev.r_source[keep],
        r_confirm=ev.r_confirm[keep],
        r_weight=ev.r_weight[keep],
        groups=groups,
    )
    if not small or len(small) > EXACT_COMPONENTS:
        small = []
    if memo is not None:
        memo["small"] = (sub, small)
        reprior(memo, ev)
    if not small:
        return none
    for comp in small:
        lo[comp] = _enumerate(sub, comp, memo)
    return np.sort(np.concatenate([np.asarray(c, np.int64) for c in small]))
