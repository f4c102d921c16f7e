"""What every engine learns from the data: the base rate and the kind-level reliability.

:func:`learn_hyper` is the one place the engines call. Each engine hands a function that runs it
at given hyperparameters (compiled :class:`~belief.core.compiler.Evidence` with the base rate
and the learned prior means set) and returns its claims' log-odds; :func:`learn_hyper` solves
the empirical-Bayes equations of :mod:`belief.core.base_rate` and :mod:`belief.core.kinds`
jointly. The equations depend on the engine only through the claims' posterior marginals, so
engines that agree at every setting of the hyperparameters agree on the learned ones.

With only the base rate to learn, it is the scalar solver of :mod:`belief.core.base_rate`. With
kind-level means too, the vector of all of them (the logit of the rate and of each learned mean)
is the fixed point of the EM map (run the engine, then recompute the rate and the means from its
marginals), accelerated by SQUAREM (Varadhan and Roland, *Scand. J. Statist.* 35, 2008): each
cycle takes two EM steps, extrapolates along them, and takes a stabilising EM step from there,
falling back to the plain steps when the extrapolation does not help.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy.special import expit, logit

from belief.core.base_rate import learn_base_rate, rate_bounds, rate_update, with_base_rate
from belief.core.compiler import Evidence
from belief.core.kinds import KindLearning, apply_means, kind_means, report_stats
from belief.core.kinds import start_means as builtin_means
from belief.exceptions import BeliefError, ConvergenceWarning

__all__ = ["learn_hyper", "learned_kinds"]

#: ``Evidence -> (log-odds, expected counts per channel or None)``: an engine at given settings.
Run = Callable[[Evidence], tuple[np.ndarray, np.ndarray | None]]


def learn_hyper(
    ev: Evidence,
    run: Run,
    *,
    xtol: float = 1e-12,
    max_evals: int = 300,
    patience: int = 20,
    start: float = 0.5,
    start_means: np.ndarray | None = None,
) -> tuple[Evidence, np.ndarray, dict[str, object]]:
    """Learn what ``ev`` leaves to the data; return ``(evidence at it, log-odds, diagnostics)``.

    Parameters
    ----------
    ev : Evidence
        Compiled evidence; ``ev.base_mask`` marks the claims that take a learned base rate
        (``None``: the rate is given), ``ev.kinds`` the channels whose prior means are learned.
    run : callable
        The engine at given evidence: ``ev -> (log_odds, stats)``, ``stats`` the expected counts
        per channel (:func:`belief.core.kinds.report_stats`' layout) or ``None`` to compute them
        from the reports. It may warm-start from its previous call.
    xtol : float
        Tolerance on the logits of the learned values.
    max_evals : int
        Bound on engine runs (a :class:`~belief.exceptions.ConvergenceWarning` when reached).
    patience : int
        Stop when this many engine runs in a row came no closer to the fixed point than the
        best so far (and use the best, with a warning).
    start, start_means : float, ndarray, optional
        Where the search starts: the base rate, and the kind-level means (``(2, n_channels)``
        as :func:`belief.core.kinds.kind_means` gives them); default 0.5 and the built-in values.

    Returns
    -------
    (Evidence, ndarray, dict)
        ``diagnostics`` has ``base_rate`` when it was learned and ``kind_reliability``
        (``{kind: {"sensitivity": m, "specificity": m}}``, each kind's mean over all its
        sources) when kinds were.

    Examples
    --------
    A fixed likelihood ratio per claim: only the base rate is learned.

    >>> from belief.core.compiler import compile_case
    >>> from belief.data.types import Case, Claim
    >>> from belief.priors.config import Config
    >>> ev = compile_case(Case((Claim("a"), Claim("b"))), Config())
    >>> _, lo, info = learn_hyper(ev, lambda e: (e.prior_logodds.copy(), None))
    >>> round(info["base_rate"], 3)
    0.5
    """
    learn_rate = ev.base_mask is not None and bool(ev.base_mask.any())
    kl = ev.kinds
    if kl is None or kl.size == 0:
        if not learn_rate:
            return ev, run(ev)[0], {}
        assert ev.base_mask is not None
        rate, lo = learn_base_rate(
            lambda r: run(with_base_rate(ev, r))[0], ev.base_mask, ev.base_prior, xtol=xtol,
            start=start,
        )  # fmt: skip
        return with_base_rate(ev, rate), lo, {"base_rate": rate}

    mask = ev.base_mask if learn_rate else None
    on = kl.group >= 0
    n_base = int(mask.sum()) if mask is not None else 0
    lo_t, hi_t = rate_bounds(n_base, ev.base_prior) if mask is not None else (0.0, 0.0)
    k = 1 if mask is not None else 0

    def settings(x: np.ndarray) -> Evidence:
        means = np.full(kl.group.shape, np.nan)
        means[on] = expit(x[k:])
        e = apply_means(ev, means)
        return with_base_rate(e, float(expit(x[0]))) if mask is not None else e

    evals = [0]

    stats_at: dict[int, np.ndarray] = {}  # expected counts by the identity of their log-odds

    def em(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One EM step from ``x``; also the engine's log-odds at ``x``."""
        evals[0] += 1
        e = settings(x)
        lo, stats = run(e)
        p = expit(lo)
        if stats is None:
            n = len(e.source_ids)
            stats = report_stats(n, e.r_claim, e.r_source, e.r_confirm, e.r_weight, p)
        stats_at.clear()
        stats_at[id(lo)] = stats
        new = np.empty_like(x)
        if mask is not None:
            new[0] = rate_update(float(p[mask].sum()), n_base, ev.base_prior)
        new[k:] = logit(kind_means(kl, stats)[on])
        if not np.all(np.isfinite(new)):
            raise BeliefError(
                "numerical failure learning the base rate and kind reliability: the posterior "
                "is not finite; set base_rate, or learn_kind_priors: false, to fix it"
            )
        res = float(np.max(np.abs(new - x)))
        if res < best[0]:  # the closest to a fixed point so far
            best[:] = [res, x.copy(), lo, stats, evals[0]]
        return new, lo

    best: list = [np.inf, None, None, None, 0]  # residual, values, log-odds, counts, run

    def stalled() -> bool:
        """No run came closer to the fixed point in ``patience`` runs: the engine's answers at
        nearby values cycle (mean-field fixed points that depend on the warm start, on data
        that barely identify the values)."""
        return evals[0] >= max_evals or evals[0] - best[4] >= patience

    means0 = builtin_means(kl) if start_means is None else start_means
    x = np.concatenate([[float(logit(start))] if mask is not None else [],
                        logit(means0[on])])  # fmt: skip
    x1, lo = em(x)
    while True:
        r = x1 - x
        if np.max(np.abs(r)) <= xtol or stalled():
            break
        x2, lo1 = em(x1)
        v = x2 - x1 - r
        if np.max(np.abs(x2 - x1)) <= xtol or stalled():
            x, x1, lo = x1, x2, lo1
            break
        nv = float(np.linalg.norm(v))
        alpha = -float(np.linalg.norm(r)) / nv if nv > 0 else -1.0
        alpha = float(np.clip(alpha, -64.0, -1.0))
        cand = x - 2.0 * alpha * r + alpha * alpha * v
        if mask is not None:
            cand[0] = np.clip(cand[0], lo_t, hi_t)
        try:
            cand1, lo_c = em(cand)
            res_c = float(np.max(np.abs(cand1 - cand)))
        except BeliefError:  # an extrapolation too far (not finite): take the plain steps
            res_c = np.inf
        if res_c <= float(np.max(np.abs(x2 - x1))):
            x, x1, lo = cand, cand1, lo_c
        else:
            x, (x1, lo) = x2, em(x2)
    st = stats_at[id(lo)]  # ``lo`` is always from the last engine run
    if np.max(np.abs(x1 - x)) > xtol:
        warnings.warn(
            f"learning the base rate and kind reliability: no convergence to {xtol:g} in "
            f"{evals[0]} engine runs (the closest run was {best[0]:.3g} from its update; the "
            "data may barely identify them): using the values of that run; set base_rate, or "
            "learn_kind_priors: false, to fix them",
            ConvergenceWarning,
            stacklevel=3,
        )
        _, x, lo, st, _ = best
    e = settings(x)
    info: dict[str, object] = {
        "kind_reliability": learned_kinds(kl, st),
        "hyper_evals": evals[0],
    }
    if mask is not None:
        info["base_rate"] = float(expit(x[0]))
    return e, lo, info


def learned_kinds(kl: KindLearning, stats: np.ndarray) -> dict[str, dict[str, float]]:
    """Each learned kind's mean sensitivity and specificity over all its sources."""
    pooled = kind_means(kl, stats, pooled=True)
    out: dict[str, dict[str, float]] = {}
    for g, name in enumerate(kl.names):
        row = {f: float(pooled[i, g]) for i, f in enumerate(("sensitivity", "specificity"))
               if (kl.group[i] == g).any()}  # fmt: skip
        if row:
            out[name] = row
    return out
