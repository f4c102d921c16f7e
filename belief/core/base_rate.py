"""The base rate learned from the data when the case does not give one (empirical Bayes).

When ``Config.base_rate`` is ``None`` the prior P(true) of every claim without its own
``prior`` is a parameter ``pi`` with a ``Beta(alpha, beta)`` hyperprior
(``Config.base_rate_prior``, default ``Beta(5, 5)``: worth ten claims at one half). Its
estimate is the fixed point

.. math::

    \\pi = \\frac{\\sum_{c \\in B} P(c \\mid \\text{data}, \\pi) + \\alpha - 1}
               {|B| + \\alpha + \\beta - 2}

over the claims ``B`` that take the base rate: the EM update of a Bernoulli rate with the truth
of each claim missing (for claims outside groups, the stationary point of the marginal
likelihood times the hyperprior; the posterior mode). Every engine computes its own
posteriors ``P(c | data, pi)`` and hands them to :func:`learn_base_rate`, which solves the
equation on the logit scale with Brent's method inside the bracket the hyperprior guarantees,
so engines that agree at every ``pi`` agree on the learned rate too (the engine contract).

This is what crowd-sourcing models (Dawid and Skene's class priors) do; the hyperprior keeps a
case of a few claims from being driven to a rate of 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from scipy.special import expit, logit

from belief.core.compiler import Evidence

__all__ = ["learn_base_rate", "with_base_rate"]


def with_base_rate(ev: Evidence, rate: float) -> Evidence:
    """``ev`` with the claims that take the base rate moved to prior ``rate``.

    Examples
    --------
    >>> from belief.core.compiler import compile_case
    >>> from belief.data.types import Case, Claim
    >>> from belief.priors.config import Config
    >>> ev = compile_case(Case((Claim("a"), Claim("b", prior=0.9))), Config())
    >>> with_base_rate(ev, 0.2).prior_logodds.round(3).tolist()
    [-1.386, 2.197]
    """
    if ev.base_mask is None:
        return ev
    shift = float(logit(rate)) - float(logit(ev.base_start))
    return replace(
        ev,
        prior_logodds=ev.prior_logodds + np.where(ev.base_mask, shift, 0.0),
        base_start=float(rate),
    )


def learn_base_rate(
    posterior_at: Callable[[float], np.ndarray],
    mask: np.ndarray,
    prior: tuple[float, float],
    *,
    start: float = 0.5,
    xtol: float = 1e-12,
) -> tuple[float, np.ndarray]:
    """Solve the base-rate equation; return ``(rate, log_odds at rate)``.

    Parameters
    ----------
    posterior_at : callable
        ``rate -> log-odds of every claim`` computed by an engine at that base rate (it may
        warm-start from its previous call).
    mask : ndarray of bool
        The claims that take the base rate.
    prior : (float, float)
        ``(alpha, beta)`` of the hyperprior, both > 1 so the rate stays inside (0, 1).
    start : float
        The first rate tried.
    xtol : float
        Tolerance on the logit of the rate.

    Examples
    --------
    Claims whose evidence is fixed (each a likelihood ratio): 30 with LR 9 and 70 with 1/9.

    >>> llr = np.r_[np.full(30, np.log(9)), np.full(70, -np.log(9))]
    >>> rate, lo = learn_base_rate(lambda r: logit(r) + llr, np.ones(100, bool), (5.0, 5.0))
    >>> round(rate, 3)
    0.28
    """
    from scipy.optimize import brentq  # not at import: ``import belief`` stays light

    mask = np.asarray(mask, dtype=bool)
    n = int(mask.sum())
    a, b = prior
    cache: dict[float, np.ndarray] = {}

    def gap(t: float) -> float:
        lo = posterior_at(float(expit(t)))
        cache[t] = lo
        est = (float(expit(lo[mask]).sum()) + a - 1.0) / (n + a + b - 2.0)
        return float(logit(est)) - t

    lo_t = float(logit((a - 1.0) / (n + a + b - 2.0)))
    hi_t = float(logit((n + a - 1.0) / (n + a + b - 2.0)))
    t0 = float(np.clip(logit(start), lo_t, hi_t))
    g0 = gap(t0)
    if g0 == 0.0:
        return float(expit(t0)), cache[t0]
    # the root lies between the start and the bound on the side the gap points to
    bound = hi_t if g0 > 0 else lo_t
    g1 = gap(bound)
    if g1 == 0.0:
        return float(expit(bound)), cache[bound]
    if np.sign(g1) == np.sign(g0):  # numerically at the bound
        return float(expit(bound)), cache[bound]
    t = float(brentq(gap, min(t0, bound), max(t0, bound), xtol=xtol, rtol=4 * np.finfo(float).eps))
    lo = cache.get(t)
    if lo is None:
        gap(t)
        lo = cache[t]
    return float(expit(t)), lo
