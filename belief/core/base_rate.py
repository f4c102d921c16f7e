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

__all__ = ["learn_base_rate", "rate_bounds", "rate_update", "with_base_rate"]


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


def rate_bounds(n: int, prior: tuple[float, float]) -> tuple[float, float]:
    """The logits of the lowest and highest rate the fixed point can take over ``n`` claims
    (every claim false, every claim true) under the ``(alpha, beta)`` hyperprior."""
    a, b = prior
    den = n + a + b - 2.0
    return float(logit((a - 1.0) / den)), float(logit((n + a - 1.0) / den))


def rate_update(p_sum: float, n: int, prior: tuple[float, float]) -> float:
    """The EM update of the rate, on the logit scale, from the sum of P(true) over ``n`` claims.

    >>> round(float(expit(rate_update(30.0, 100, (5.0, 5.0)))), 4)  # (30 + 4) / 108
    0.3148
    """
    a, b = prior
    return float(np.clip(logit((p_sum + a - 1.0) / (n + a + b - 2.0)), *rate_bounds(n, prior)))


def learn_base_rate(
    posterior_at: Callable[[float], np.ndarray],
    mask: np.ndarray,
    prior: tuple[float, float],
    *,
    start: float = 0.5,
    xtol: float = 1e-12,
    max_steps: int = 200,
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
    max_steps : int
        Bound on the EM and secant steps before the root is bracketed.

    Examples
    --------
    Claims whose evidence is fixed (each a likelihood ratio): 30 with LR 9 and 70 with 1/9.

    >>> llr = np.r_[np.full(30, np.log(9)), np.full(70, -np.log(9))]
    >>> rate, lo = learn_base_rate(lambda r: logit(r) + llr, np.ones(100, bool), (5.0, 5.0))
    >>> round(rate, 3)
    0.28
    """
    mask = np.asarray(mask, dtype=bool)
    n = int(mask.sum())
    a, b = prior
    seen: dict[float, tuple[float, np.ndarray | None]] = {}  # gap and (latest) log-odds

    def gap(t: float) -> float:
        if t not in seen:
            lo = posterior_at(float(expit(t)))
            for k, (g, _) in list(seen.items()):  # keep one posterior (10M claims: 80 MB each)
                seen[k] = (g, None)
            est = (float(expit(lo[mask]).sum()) + a - 1.0) / (n + a + b - 2.0)
            if not np.isfinite(est):
                from belief.exceptions import BeliefError

                raise BeliefError(
                    f"numerical failure learning the base rate: the posterior at rate "
                    f"{float(expit(t)):.6g} is not finite; set base_rate to fix it"
                )
            seen[t] = (float(logit(est)) - t, lo)
        return seen[t][0]

    def at(t: float) -> tuple[float, np.ndarray]:
        lo = seen[t][1]
        if lo is None:  # an earlier evaluation: run it again
            lo = posterior_at(float(expit(t)))
        return float(expit(t)), lo

    lo_t, hi_t = rate_bounds(n, prior)
    # From the start, EM steps (t + gap: monotone towards the root, F being increasing), then
    # secant steps; Brent's method as soon as two points bracket the root. Every evaluation is
    # an engine run warm-started near the answer, so far-away rates are never tried.
    t_prev, t = None, float(np.clip(logit(start), lo_t, hi_t))
    for _ in range(max_steps):
        g = gap(t)
        if abs(g) <= xtol:
            return at(t)
        if t_prev is not None and np.sign(seen[t_prev][0]) != np.sign(g):
            from scipy.optimize import brentq  # only once bracketed: imports take 0.15 s

            left, right = sorted((t_prev, t))
            root = float(brentq(gap, left, right, xtol=xtol, rtol=4 * np.finfo(float).eps))
            gap(root)
            return at(root)
        g_prev = None if t_prev is None else seen[t_prev][0]
        step = g  # the EM step
        if g_prev is not None and g_prev != g:  # secant, at least the EM step, at most 4x it
            secant = -g * (t - t_prev) / (g - g_prev)
            step = float(np.clip(secant, g, 4.0 * g) if g > 0 else np.clip(secant, 4.0 * g, g))
        t_prev, t = t, float(np.clip(t + step, lo_t, hi_t))
        if t == t_prev:  # at a bound of the hyperprior's range
            return at(t)
    gap(t)
    return at(t)
