r"""Cavity mean-field approximation for components too large to enumerate.

The exact posterior couples claims through the sources they share. This approximation keeps
the model of :mod:`belief.exact` but replaces the coupling by a fixed point: each claim is
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

The sweeps are computed by :func:`belief.fast.run_vb` (for the exact engine's large components
and for ``--method fast`` alike); this module keeps the exact within-group marginal of step 2,
which every engine shares. With a source whose reliabilities are fixed (very strong priors) the
approximation is exact; where reliabilities are learned from few reports it is an
approximation (tests pin how close it stays to enumeration).
"""

from __future__ import annotations

import numpy as np


def _group_logodds(g: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Marginal log-odds of claims under an at-most-one-true constraint per group.

    For member *j*: ``g_j - log(1 + sum_{k != j} exp(g_k))``, computed after shifting by the
    group maximum ``m`` (including the none-true state's 0). The sum over ``k != j`` is formed
    without subtracting the dominant term from itself, so it never cancels to zero.
    """
    out = g.copy()
    if not groups:
        return out
    members = np.concatenate([np.asarray(x, dtype=np.int64) for x in groups])
    gid = np.repeat(np.arange(len(groups)), [len(x) for x in groups])
    v = g[members]
    m = np.zeros(len(groups))  # the "none true" state has log-weight 0
    np.maximum.at(m, gid, v)
    e = np.exp(v - m[gid])
    order = np.lexsort((-v, gid))  # within each group, the largest member first
    top = order[np.r_[True, gid[order][1:] != gid[order][:-1]]]
    is_top = np.zeros(len(v), dtype=bool)
    is_top[top] = True
    top_e = np.zeros(len(groups))
    top_e[gid[top]] = e[top]
    rest = np.exp(-m) + np.bincount(gid, np.where(is_top, 0.0, e), minlength=len(groups))
    others = np.where(is_top, rest[gid], rest[gid] - e + top_e[gid])
    out[members] = v - m[gid] - np.log(others)
    return out
