"""Unattributed repeats (circular reporting): how much of a report is new evidence.

``derived_from`` handles the copies an analyst knows about (:mod:`belief.core.copies`). This
module handles the ones nobody declared. Each source has a *copy propensity* ``pi``
(:func:`copy_propensity`; learned by :func:`belief.calibrate`, or set in the config). A report
by that source on claim *c* is either

* a **repeat**, with probability ``pi``: the source picked one of the *earlier* reports on *c*
  by other sources and repeated its stance (it carries no evidence about the truth), or
* **independent**, with probability ``1 - pi``: a confirm or deny drawn from the source's
  sensitivity and specificity (the usual model).

"Earlier" is the order the compiler uses for copies everywhere: time first (reports without a
time come first), then source id, stance and position, so the answer does not depend on row
order; on a claim with no times this ranks by source id. A repeat of a stance nobody gave
before is impossible, so the first report of each stance is never a repeat.

Given the stance ``x`` of report *r*, the share ``q_r`` of earlier reports by other sources with
the same stance is the repeat likelihood, and the independent likelihood is the source's
predictive probability of ``x`` given what was reported *before* it,
``P(x) = P(true | earlier) E[sens] + P(false | earlier) (1 - E[spec])`` for a confirm (the claim's
prior, with its signals, updated by the earlier reports on the claim, each with the mean of its
source's reliability prior and the weight it kept). The *repeat probability*

.. math::

    \\rho_r = \\frac{\\pi q_r}{\\pi q_r + (1 - \\pi) P(x_r)}

is the posterior probability of the repeat branch of the mixture, and the report counts with
weight ``1 - rho_r`` (its expected share of independent evidence). Every engine receives these
weights from the compiler, so they all agree; the weights are computed once, before inference
(they do not follow the posterior of the truth), which keeps every engine's closed form. This is
the repeat model of AccuCopy (Dong, Berti-Equille and Srivastava, VLDB 2009) with the copier
choosing among earlier reports, reduced to a per-report weight; :func:`belief.calibrate` learns
``pi`` per source from resolved claims, where the tell is agreeing with earlier reports on claims
that turned out false (:func:`belief.calibrate`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import expit

from belief.core.copies import copy_rank, sort_unique
from belief.core.groups import group_logodds
from belief.core.propensity import PROPENSITY_LEVELS, copy_propensity, copy_propensity_levels
from belief.data.arrays import ReportArrays
from belief.data.types import Source
from belief.priors.config import Config

__all__ = [
    "PROPENSITY_LEVELS",
    "channel_terms",
    "copy_propensity",
    "copy_propensity_levels",
    "earlier_shares",
    "first_same",
    "repeat_probability",
    "repeat_weights",
    "report_repeats",
    "report_shares",
    "start_logodds",
]


def earlier_shares(
    claim: np.ndarray, source: np.ndarray, confirm: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per report: earlier reports on its claim by *other* sources, and how many share its stance.

    ``order`` ranks the reports (earlier first; ties are not allowed). Vectorized: one sort and
    cumulative counts per claim and per (claim, source).

    Examples
    --------
    Three reports on one claim in order a (confirm), b (confirm), a (deny):

    >>> m, k = earlier_shares(np.zeros(3, int), np.array([0, 1, 0]),
    ...                       np.array([True, True, False]), np.arange(3))
    >>> m.tolist(), k.tolist()
    ([0, 1, 1], [0, 1, 0])
    """
    n = len(claim)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    idx = np.lexsort((order, claim))
    c, s, x = claim[idx], source[idx], confirm[idx].astype(np.int64)

    def before(keys: tuple[np.ndarray, ...], values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over earlier reports with the same ``keys`` (sorted by keys)."""
        sub = np.lexsort((np.arange(n), *keys))  # stable: keeps the time order within keys
        v = values[sub]
        cum = np.cumsum(v) - v
        first = np.r_[True, np.any([k[sub][1:] != k[sub][:-1] for k in keys], axis=0)]
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        out = np.empty(n, np.int64)
        out[sub] = cum - cum[start]
        return out

    ones = np.ones(n, np.int64)
    m = before((c,), ones) - before((s, c), ones)
    conf = before((c,), x) - before((s, c), x)
    deny = m - conf
    k = np.where(x == 1, conf, deny)
    out_m, out_k = np.empty(n, np.int64), np.empty(n, np.int64)
    out_m[idx], out_k[idx] = m, k
    return out_m, out_k


def repeat_probability(
    propensity: np.ndarray, m: np.ndarray, k: np.ndarray, p_stance: np.ndarray
) -> np.ndarray:
    """``rho = pi q / (pi q + (1 - pi) P(x))`` with ``q = k / m`` (0 where ``k`` is 0).

    Examples
    --------
    >>> repeat_probability(np.array([0.5, 0.5, 0.0]), np.array([2, 0, 2]), np.array([1, 0, 2]),
    ...                    np.array([0.5, 0.5, 0.5])).tolist()
    [0.5, 0.0, 0.0]
    """
    pi = np.asarray(propensity, float)
    q = np.divide(k, m, out=np.zeros(len(m)), where=m > 0)
    num = pi * q
    den = num + (1.0 - pi) * np.asarray(p_stance, float)
    out: np.ndarray = np.divide(num, den, out=np.zeros(len(m)), where=num > 0)
    return out


def first_same(
    claim: np.ndarray, source: np.ndarray, confirm: np.ndarray, order: np.ndarray,
    candidate: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Per report: the earliest earlier ``candidate`` report by another source with its claim
    and stance (the report a repeat most likely goes back to: the first to give that stance),
    or -1. One sort, no loop per report.

    Examples
    --------
    >>> first_same(np.zeros(4, int), np.array([0, 1, 0, 2]), np.array([1, 1, 1, 0], bool),
    ...            np.arange(4), np.ones(4, bool)).tolist()
    [-1, 0, 1, -1]
    """
    n = len(claim)
    out = np.full(n, -1, np.int64)
    cand = np.flatnonzero(candidate)
    if not len(cand):
        return out
    x = np.asarray(confirm, bool).astype(np.int64)
    key = claim * 2 + x  # (claim, stance) groups
    c = cand[np.lexsort((order[cand], key[cand]))]  # candidates by group, then order
    gk = key[c]
    start = np.r_[True, gk[1:] != gk[:-1]]
    first = c[start]  # the earliest candidate of each group
    group_of = np.cumsum(start) - 1
    # the earliest candidate of each group whose source differs from the first's
    differs = source[c] != source[first][group_of]
    second = np.full(len(first), -1, np.int64)
    hit = np.flatnonzero(differs)
    g_hit, at = np.unique(group_of[hit], return_index=True)
    second[g_hit] = c[hit[at]]
    # each report's group among the candidates' groups
    pos = np.searchsorted(gk[start], key)
    pos = np.minimum(pos, len(first) - 1)
    has = gk[start][pos] == key
    f, s2 = np.where(has, first[pos], -1), np.where(has, second[pos], -1)
    use_f = (f >= 0) & (source[np.maximum(f, 0)] != source) & (order[np.maximum(f, 0)] < order)
    use_s = ~use_f & (s2 >= 0) & (order[np.maximum(s2, 0)] < order)
    out[use_f] = f[use_f]
    out[use_s] = s2[use_s]
    return out


def start_logodds(p_true: np.ndarray) -> np.ndarray:
    """The repeat rule's starting log-odds of claims with prior ``p_true`` (clipped off 0 and 1)."""
    p0 = np.clip(np.asarray(p_true, float), 1e-300, 1.0 - 1e-16)
    out: np.ndarray = np.log(p0) - np.log1p(-p0)
    return out


def channel_terms(priors: np.ndarray, confirm: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per report: mean sensitivity, ``1 -`` mean specificity, and the log-likelihood ratio of
    its stance, from its channel's Beta prior ``(a_se, b_se, a_sp, b_sp)`` (rows of ``priors``).

    ``log(1 - mean)`` comes from the Beta parameters: exact when the mean rounds to 1.
    """
    pr = np.asarray(priors, float).reshape(-1, 4)
    sens, spec = pr[:, 0] / (pr[:, 0] + pr[:, 1]), pr[:, 2] / (pr[:, 2] + pr[:, 3])
    log_a_se = np.log(pr[:, 0]) - np.log(pr[:, 0] + pr[:, 1])
    log_b_se = np.log(pr[:, 1]) - np.log(pr[:, 0] + pr[:, 1])
    log_a_sp = np.log(pr[:, 2]) - np.log(pr[:, 2] + pr[:, 3])
    log_b_sp = np.log(pr[:, 3]) - np.log(pr[:, 2] + pr[:, 3])
    llr = np.where(confirm, log_a_se - log_b_sp, log_b_se - log_a_sp)
    return sens, 1.0 - spec, llr


def _step(
    cum: float, num: float, api: float, se: float, nsp: float, confirm: bool, llr: float
) -> tuple[float, float]:
    """One report of the rule, scalar: ``(rho, cum after it)``.

    ``num = pi q``, ``api = 1 - pi``, ``nsp = 1 - E[spec]``; ``cum`` is the claim's log-odds
    before the report (prior plus the weighted evidence of the earlier reports).
    """
    pt = 1.0 / (1.0 + math.exp(-cum)) if cum > -709.0 else 0.0
    pc = pt * se + (1.0 - pt) * nsp
    rho = num / (num + api * (pc if confirm else 1.0 - pc)) if num > 0 else 0.0
    return rho, cum + (1.0 - rho) * llr


def _rho(cum: np.ndarray, num: np.ndarray, api: np.ndarray, se: np.ndarray, nsp: np.ndarray,
         confirm: np.ndarray) -> np.ndarray:  # fmt: skip
    """:func:`_step`'s ``rho``, vectorized: reports at log-odds ``cum`` (before each)."""
    with np.errstate(over="ignore"):  # exp(-cum) = inf: P(true) = 0, as in _step
        pt = 1.0 / (1.0 + np.exp(-cum))
    pc = pt * se + (1.0 - pt) * nsp
    den = num + api * np.where(confirm, pc, 1.0 - pc)
    out: np.ndarray = np.divide(num, den, out=np.zeros(len(num)), where=num > 0)
    return out


def _chain(cum: float, num: np.ndarray, api: np.ndarray, se: np.ndarray, nsp: np.ndarray,
           confirm: np.ndarray, llr: np.ndarray) -> tuple[np.ndarray, float]:  # fmt: skip
    """``rho`` of one claim's consecutive reports from log-odds ``cum``, and the log-odds after.

    Speculative and exact: guess a block's ``rho``, take the log-odds before each report as a
    running sum (``np.cumsum`` adds in order, as the loop does) and recompute ``rho`` from
    them. Up to the first report whose ``rho`` changed, the guess is what the loop computes
    (each depends only on the earlier ones), and so is that report's recomputed ``rho``. Once
    the claim's P(true) rounds to 0 or 1 every guess holds and blocks grow; where guesses keep
    failing, blocks shrink to scalar steps (:func:`_step`).
    """
    n = len(num)
    out, i, width = np.empty(n), 0, 64
    guess = np.zeros(0)
    while i < n:
        if width < 16:  # guesses keep failing: the loop itself, for a while
            for j in range(i, min(n, i + 256)):
                out[j], cum = _step(cum, float(num[j]), float(api[j]), float(se[j]),
                                    float(nsp[j]), bool(confirm[j]), float(llr[j]))  # fmt: skip
            i, width, guess = min(n, i + 256), 64, np.zeros(0)
            continue
        e = min(n, i + width)
        sl, held = slice(i + len(guess), e), slice(i, e)
        # the guess: what is left of the last one, then rho at the current log-odds held fixed
        guess = np.r_[guess[: e - i], _rho(np.full(max(sl.stop - sl.start, 0), cum), num[sl],
                                            api[sl], se[sl], nsp[sl], confirm[sl])]  # fmt: skip
        before = np.cumsum(np.r_[cum, (1.0 - guess[:-1]) * llr[i : e - 1]])
        rho = _rho(before, num[held], api[held], se[held], nsp[held], confirm[held])
        bad = np.flatnonzero(rho != guess)
        d = int(bad[0]) if len(bad) else e - i - 1  # rho[: d + 1] is the loop's
        out[i : i + d + 1] = rho[: d + 1]
        cum = float(before[d] + (1.0 - rho[d]) * llr[i + d])
        width = min(2 * width, 1 << 16) if not len(bad) else width // 2 if 4 * d < width else width
        guess, i = rho[d + 1 :], i + d + 1
    return out, cum


#: Below this many claims still running, positions are done claim by claim (:func:`_chain`).
_SCALAR_TAIL = 24


def repeat_weights(
    claim: np.ndarray,
    source: np.ndarray,
    confirm: np.ndarray,
    order: np.ndarray,
    suspect: np.ndarray,
    propensity: np.ndarray,
    p_true: np.ndarray,
    priors: np.ndarray,
) -> np.ndarray:
    """The repeat probability ``rho`` of each informative report (0 where not ``suspect``).

    Parameters
    ----------
    claim, source, confirm, order : ndarray
        Per informative report: claim and source codes, stance, and rank in the copy order.
    suspect : ndarray of bool
        Reports that may be repeats and may be repeated (not declared copies).
    propensity : ndarray
        Copy propensity per report (its source's).
    p_true : ndarray
        Prior P(true) per claim (signals and groups included).
    priors : ndarray
        ``(n_reports, 4)`` reliability prior of each report's channel: ``a_se, b_se, a_sp, b_sp``.

    Notes
    -----
    The rule is sequential within a claim only through ``rho`` itself (each report's
    predictive depends on the weights of the earlier ones). The counts ``m`` and ``k`` come from
    one sort by claim and copy order and a stable sort by (claim, source); the recurrence runs
    position by position over every claim at once (claims by decreasing size, so the claims
    still running at a position are a prefix and every step works on slices), and the last
    positions of the few longest claims in scalar code (``_step``).

    Examples
    --------
    Two confirms on one claim at prior 0.5; the second (propensity 0.5) may repeat the first:

    >>> rho = repeat_weights(np.zeros(2, int), np.array([0, 1]), np.ones(2, bool),
    ...                      np.arange(2), np.ones(2, bool), np.array([0.5, 0.5]),
    ...                      np.array([0.5]), np.tile([6.5, 3.5, 6.5, 3.5], (2, 1)))
    >>> rho.round(4).tolist()  # P(confirm | first confirm) = 0.65 * 0.65 + 0.35 * 0.35 = 0.545
    [0.0, 0.6472]
    """
    rho = np.zeros(len(claim))
    s_idx = np.flatnonzero(suspect)
    if not (propensity[s_idx] > 0).any():
        return rho
    n = len(s_idx)
    srt = s_idx[sort_unique((claim[s_idx], order[s_idx]))]  # by claim, then copy order
    c, s, x = claim[srt], source[srt], np.asarray(confirm, bool)[srt]
    xi = x.astype(np.int64)
    new = np.r_[True, c[1:] != c[:-1]]
    starts = np.flatnonzero(new)
    size = np.diff(np.r_[starts, n])
    run = np.repeat(starts, size)
    pos = np.arange(n) - run  # earlier reports on the claim
    conf = np.cumsum(xi) - xi
    conf -= conf[run]  # earlier confirms on the claim
    # earlier reports (and confirms) by the same source: stable sort by (claim, source)
    sub = sort_unique((c, s, np.arange(n)))
    key = c[sub] * (int(s.max()) + 1) + s[sub]
    first = np.r_[True, key[1:] != key[:-1]]
    gstart = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    own, own_conf = np.empty(n, np.int64), np.empty(n, np.int64)
    own[sub] = np.arange(n) - gstart
    cx = np.cumsum(xi[sub]) - xi[sub]
    own_conf[sub] = cx - cx[gstart]
    m = pos - own
    k = np.where(x, conf - own_conf, (pos - conf) - (own - own_conf))
    pi = np.asarray(propensity, float)[srt]
    q = np.divide(k, m, out=np.zeros(n), where=m > 0)
    num, api = pi * q, 1.0 - pi
    se, nsp, llr = channel_terms(np.asarray(priors)[srt], x)
    # position-major layout: claims by decreasing size, position p of every claim still running
    csort = np.argsort(-size, kind="stable")
    crank = np.empty(len(size), np.int64)
    crank[csort] = np.arange(len(size))
    active = np.cumsum(np.bincount(size, minlength=int(size.max()) + 1)[::-1])[::-1][1:]
    offset = np.r_[0, np.cumsum(active)]
    n_par = int(np.sum(active > _SCALAR_TAIL))  # positions done over all claims at once
    cum = start_logodds(p_true)[c[starts]][csort]  # per claim, by decreasing size
    out = np.zeros(n)
    par = np.flatnonzero(pos < n_par)
    pm = np.empty(int(offset[n_par]), np.int64)
    pm[offset[pos[par]] + crank[(np.cumsum(new) - 1)[par]]] = par
    p_num, p_api, p_se, p_nsp, p_x, p_llr = (v[pm] for v in (num, api, se, nsp, x, llr))
    p_out = np.zeros(len(pm))
    for p in range(n_par):
        a, sl = int(active[p]), slice(int(offset[p]), int(offset[p + 1]))
        r = _rho(cum[:a], p_num[sl], p_api[sl], p_se[sl], p_nsp[sl], p_x[sl])
        p_out[sl] = r
        cum[:a] += (1.0 - r) * p_llr[sl]
    out[pm] = p_out
    for j in range(int(active[n_par]) if n_par < len(active) else 0):  # the longest claims' tails
        lo = int(starts[csort[j]])
        rows = slice(lo + n_par, lo + int(size[csort[j]]))
        out[rows] = _chain(float(cum[j]), *(v[rows] for v in (num, api, se, nsp, x, llr)))[0]
    rho[srt] = out
    return rho


def report_shares(
    arrays: ReportArrays, keep: np.ndarray, rank: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(m, k)`` of each kept report, as the repeat rule counts them (:func:`earlier_shares`).

    ``m``: earlier reports on its claim by other sources, ``k``: how many of them have its
    stance; "earlier" is the copy order (:func:`belief.core.copies.copy_rank`), and only reports
    that are not declared copies may be repeats or be repeated (both 0 for a declared copy). The
    repeat likelihood of a report is ``q = k / m``; with ``m = 0`` it cannot be a repeat.
    ``keep`` selects the compiled (informative) reports among ``arrays``; ``rank`` is
    :func:`~belief.core.copies.copy_rank` of ``arrays``, when already computed.

    Examples
    --------
    >>> from belief.data.arrays import NO_TIME
    >>> ra = ReportArrays(["c"], ["a", "b", "z"], np.zeros(3, int), np.array([0, 1, 2]),
    ...                   np.array([1, 1, -1], np.int8), np.array([-1, -1, 0]),
    ...                   np.full(3, NO_TIME))
    >>> [v.tolist() for v in report_shares(ra, np.ones(3, bool))]
    [[0, 1, 0], [0, 1, 0]]
    """
    suspect = arrays.derived[keep] < 0
    m, k = np.zeros(int(keep.sum()), np.int64), np.zeros(int(keep.sum()), np.int64)
    if suspect.any():
        rank = (copy_rank(arrays) if rank is None else rank)[keep]
        claim, source = arrays.claim[keep], arrays.source[keep]
        s_idx = np.flatnonzero(suspect)
        m[s_idx], k[s_idx] = earlier_shares(
            claim[s_idx], source[s_idx], arrays.stance[keep][s_idx] > 0, rank[s_idx]
        )
    return m, k


def report_repeats(
    arrays: ReportArrays, keep: np.ndarray, lo: np.ndarray, groups: Mapping[str, list[int]],
    rows: np.ndarray, sources: Sequence[Source], config: Config,
) -> np.ndarray:  # fmt: skip
    """Repeat probability of each kept report, as the compiler applies it.

    ``keep`` selects the compiled reports among ``arrays``; ``lo`` is the claims' prior log-odds
    (signals included), ``groups`` the claims' groups and ``rows`` each kept report's
    reliability prior (:func:`repeat_weights`).
    """
    pi = copy_propensity(arrays.source_ids, sources, config)[arrays.source[keep]]
    if not (pi > 0).any():
        return np.zeros(int(keep.sum()))
    rank = copy_rank(arrays)
    p_true = expit(group_logodds(lo, [g for g in groups.values() if len(g) > 1]))
    return repeat_weights(
        arrays.claim[keep], arrays.source[keep], arrays.stance[keep] > 0, rank[keep],
        arrays.derived[keep] < 0, pi, p_true, rows,
    )  # fmt: skip
