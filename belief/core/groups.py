r"""Cavity mean-field approximation for components too large to enumerate.

The exact posterior couples claims through the sources they share. This approximation keeps
the model of :mod:`belief.engines.exact` but replaces the coupling by a fixed point: each claim is
updated given the *other* claims' current P(true), with every source's reliability integrated
out under its Beta posterior from those other claims (the "cavity", which leaves the claim's
own reports out so that they are not counted twice, as plain mean-field VB would). Sweeps:

1. for report *r* by source *s* on claim *c*, the cavity Beta of the sensitivity is
   :math:`\mathrm{Beta}(a_s + \sum_{r' \notin c} w q [\text{confirm}],\; b_s + \sum_{r' \notin c}
   w q [\text{deny}])` (mirror for the specificity with weights :math:`1 - q`), and the report
   contributes :math:`\log P(\text{stance} \mid T=1) - \log P(\text{stance} \mid T=0)` with
   the cavity's predictive probabilities;
2. claim log-odds :math:`g_c = \ell_c + \sum_{r \in c}` (contributions); in a group, member
   *j* gets :math:`g_j - \log(1 + \sum_{k \ne j} e^{g_k})` (exact within the group);
3. damped update until P(true) changes by less than ``tol``.

The sweeps are computed by :func:`belief.engines.fast.run_vb` (for the exact engine's large
components and for ``--method fast`` alike); this module keeps the exact within-group marginal of
step 2, which every engine shares. With a source whose reliabilities are fixed (very strong priors)
the approximation is exact; where reliabilities are learned from few reports it is an
approximation (tests pin how close it stays to enumeration).
"""

from __future__ import annotations

import numpy as np


def group_terms(g: np.ndarray, groups: list[list[int]]) -> tuple[np.ndarray, ...]:
    """Per group member: ``log(1 + sum_{k != j} exp(g_k))`` and what the variance needs.

    Linear in the members (no members × members array). Every sum is shifted by the largest
    term it contains: the group maximum ``m1`` (with the none-true state's 0) for the other
    members, the second largest ``m2`` for the top member, so nothing overflows or cancels.
    Returns ``(members, gid, is_top, lse, m1, m2)``.
    """
    members = np.concatenate([np.asarray(x, dtype=np.int64) for x in groups])
    sizes = np.array([len(x) for x in groups])
    gid = np.repeat(np.arange(len(groups)), sizes)
    n_groups = len(groups)
    v = g[members]
    order = np.lexsort((-v, gid))  # within each group, the largest member first
    start = np.r_[True, gid[order][1:] != gid[order][:-1]]
    top = order[start]
    is_top = np.zeros(len(v), dtype=bool)
    is_top[top] = True
    m1 = np.zeros(n_groups)  # the "none true" state has log-weight 0
    m1[gid[top]] = np.maximum(v[top], 0.0)
    m2 = np.zeros(n_groups)
    second = order[np.flatnonzero(~start)]
    np.maximum.at(m2, gid[second], v[second])
    e1 = np.exp(v - m1[gid])
    tot1 = np.exp(-m1) + np.bincount(gid, e1, n_groups)
    e2 = np.exp(np.where(is_top, -np.inf, v - m2[gid]))  # the top member is left out
    tot2 = np.exp(-m2) + np.bincount(gid, e2, n_groups)
    # tot1 - e1 >= the group maximum's own term (1) for every non-top member: no cancellation
    lse = np.where(
        is_top, m2[gid] + np.log(tot2[gid]), m1[gid] + np.log(np.maximum(tot1[gid] - e1, 1.0))
    )
    return members, gid, is_top, lse, m1, m2


def group_logodds(g: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Marginal log-odds of claims under an at-most-one-true constraint per group.

    For member *j*: ``g_j - log(1 + sum_{k != j} exp(g_k))`` (:func:`group_terms`): finite for
    any finite ``g``, however large, in time and memory linear in the group's size.
    """
    out = g.copy()
    if not groups:
        return out
    members, _, _, lse, _, _ = group_terms(g, groups)
    out[members] = g[members] - lse
    return out


def group_variance(g: np.ndarray, v: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    r"""Delta-method variance of the group-marginal log-odds (members treated as independent).

    For member *j*: :math:`v_j + \sum_{k \ne j} \pi_k^2 v_k` with
    :math:`\pi_k = e^{g_k} / (1 + \sum_{k' \ne j} e^{g_{k'}})`, linear in the group's size.
    """
    out = v.copy()
    if not groups:
        return out
    members, gid, is_top, lse, m1, m2 = group_terms(g, groups)
    n_groups = int(gid.max()) + 1
    gm, vm = g[members], v[members]
    t1 = np.exp(2.0 * (gm - m1[gid])) * vm
    s1 = np.bincount(gid, t1, n_groups)
    t2 = np.exp(np.where(is_top, -np.inf, 2.0 * (gm - m2[gid]))) * vm
    s2 = np.bincount(gid, t2, n_groups)
    shift = np.where(is_top, m2[gid], m1[gid]) - lse  # <= 0: the sum holds its own shift
    others = np.where(is_top, s2[gid], np.maximum(s1[gid] - t1, 0.0)) * np.exp(2.0 * shift)
    out[members] = vm + others
    return out
