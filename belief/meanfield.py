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

Each sweep is a few vectorized passes over the reports (no Python loop per report). With a
source whose reliabilities are fixed (very strong priors) it is exact; where reliabilities are
learned from few reports it is an approximation (tests pin how close it stays to enumeration).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from belief.evidence import Evidence


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


def _cavity_logratio(ev: Evidence, q: np.ndarray) -> np.ndarray:
    """Per report: log P(stance | T=1) - log P(stance | T=0) under the source's cavity Beta."""
    n_src, s = len(ev.source_ids), ev.r_source
    w_c, w_d = ev.r_weight * ev.r_confirm, ev.r_weight * ~ev.r_confirm
    # one cell per (claim, source) pair that occurs; never a dense claims x sources array
    _, cell = np.unique(ev.r_claim * n_src + s, return_inverse=True)

    def cavity(prior: np.ndarray, v: np.ndarray) -> np.ndarray:
        # source total minus what this claim's own reports contributed
        own = np.bincount(cell, v)[cell]
        return prior[s] + np.bincount(s, v, n_src)[s] - own

    a, b = cavity(ev.a_se, w_c * q), cavity(ev.b_se, w_d * q)
    c, d = cavity(ev.a_sp, w_d * (1 - q)), cavity(ev.b_sp, w_c * (1 - q))
    # predictive probabilities under the cavity: P(confirm | T=1) = a / (a + b), etc.
    log_se, log_1mse = np.log(a) - np.log(a + b), np.log(b) - np.log(a + b)
    log_sp, log_1msp = np.log(c) - np.log(c + d), np.log(d) - np.log(c + d)
    return w_c * (log_se - log_1msp) + w_d * (log_1mse - log_sp)


def meanfield_logodds(
    ev: Evidence, *, tol: float = 1e-10, max_iter: int = 2000, damping: float = 0.5
) -> np.ndarray:
    """Approximate posterior log-odds of every claim in ``ev`` (see the module docstring).

    Parameters
    ----------
    ev : Evidence
        Compiled case (:func:`belief.evidence.compile_evidence`).
    tol : float
        Stop when no claim's P(true) moves more than this in a sweep.
    max_iter : int
        Upper bound on sweeps.
    damping : float
        Weight of the previous iterate in each update (stabilizes oscillating sweeps).

    Returns
    -------
    numpy.ndarray
        Log-odds per claim, in ``ev.claim_ids`` order.
    """
    lo = _group_logodds(ev.prior_logodds.copy(), ev.groups)
    for _ in range(max_iter):
        delta = _cavity_logratio(ev, expit(lo)[ev.r_claim])
        g = ev.prior_logodds + np.bincount(ev.r_claim, delta, len(ev.claim_ids))
        new = damping * lo + (1 - damping) * _group_logodds(g, ev.groups)
        done = np.max(np.abs(expit(new) - expit(lo)), initial=0.0) < tol
        lo = new
        if done:
            break
    return lo
