r"""The fast engine: vectorized cavity mean-field over large report streams.

The model is that of :mod:`belief.engines.exact`; the approximation and its fixed point are exactly
those of :mod:`belief.core.groups` (tests check the two agree to 1e-12), computed for millions of
reports. Reports are merged into (claim, source) *cells* holding the weighted confirms
:math:`x` and denies :math:`y`. With :math:`q_c` the current P(true) of each claim, a sweep is

1. *reduce over claims* — per source, the Beta posteriors of sensitivity and specificity
   :math:`(A, B) = (a + \sum x q,\; b + \sum y q)`, :math:`(C, D) = (c + \sum y (1-q),\;
   d + \sum x (1-q))` (a sparse product, :meth:`Block.source_stats`);
2. *reduce over sources* — per claim, :math:`g_c = \ell_c + \sum_{s} x \log\frac{\hat{se}}{1 -
   \hat{sp}} + y \log\frac{1 - \hat{se}}{\hat{sp}}` with the predictive means of the source's
   *cavity* Betas (its posterior minus this cell's own reports, so a claim's reports are not
   counted twice), then exact within groups (at most one true) and damped
   (:meth:`Block.claim_sums`).

Cost per sweep is linear in the cells, with no Python loop per report and no dense claims ×
sources matrix; a few dozen sweeps converge (``tol`` on the largest change of P(true)). With
fixed reliabilities (huge prior strength) the result is the exact independent log-odds update.

The sweep is map-reduce shaped: a :class:`Block` holds some claims with all their reports,
:meth:`Block.source_stats` of all blocks sum to the global statistics, and each block updates
its own claims from them. :mod:`belief.engines.dask` runs exactly these steps on partitions.

``p_low``/``p_high`` are a ``level`` interval of P(true | reliabilities) when each source's
reliabilities vary as its cavity Beta: the claim's log-odds is then a sum of independent terms
:math:`x(\log\theta - \log(1-\phi)) + y(\log(1-\theta) - \log\phi)` with digamma means and
trigamma variances, and the interval is :math:`\mathrm{expit}(m \pm z\sqrt{v})` (normal
approximation; within a group, a first-order delta method over the members), widened if needed
to contain ``p_true`` (which is the mean of P(true | reliabilities), not its median). Monte
Carlo over the cavity Betas agrees to a few hundredths (``tests/engines/test_fast.py``). It
collapses onto ``p_true`` when the reliabilities are fixed.

Agreement with the exact engine (:func:`belief.engines.exact.infer_exact`): identical with fixed
reliabilities, and where every source reports on one claim. A cell holding several reports of
one source (repeats, or a confirm and a deny) is scored with the exact Beta–Binomial ratio of
its cavity Betas (:func:`belief.engines.cells.cell_llr`), so repeats are not counted as independent.
Small coupled components (at least two claims, at most ``exact_states`` joint states) are then
enumerated exactly (:func:`exact_small_components`): there mean-field can lock onto one mode of
a two-mode posterior. Pure mean-field (``exact_states=0``) on random cases of 10 claims and 4
sources reporting on 90% of them (priors of strength 4-10) has a largest \|Δp\| per case with
median 0.012 and 99th percentile 0.05 over 200 cases; ``tests/engines/test_contract.py`` holds both.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtri

from belief.core.base_rate import rate_update
from belief.core.compiler import Evidence, compile_arrays, compile_case
from belief.core.groups import group_logodds, group_variance
from belief.core.hyper import learn_hyper
from belief.core.kinds import kind_means, start_means, with_means
from belief.data.arrays import ReportArrays
from belief.data.types import Case
from belief.engines.cells import Block
from belief.engines.result import BeliefResult, Interval, posterior_frame, reliability_frame
from belief.engines.small import EXACT_COMPONENTS, EXACT_STATES, exact_small_components
from belief.exceptions import ConvergenceWarning, ValidationError
from belief.priors.config import Config

if TYPE_CHECKING:
    from belief.engines.compact import CompactBlock

__all__ = [  # the small components' names re-exported: their home was this module
    "EXACT_COMPONENTS",
    "EXACT_STATES",
    "Block",
    "exact_small_components",
    "infer_fast",
    "run_vb",
    "source_posteriors",
]

_WARMUP, _PATIENCE = 10, 200  # adaptive damping (see Damping)


def source_posteriors(stats: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Beta parameters ``(A, B, C, D)`` per source: sensitivity ``(A, B)``, specificity ``(C, D)``.

    ``priors`` has the same layout; ``stats`` comes from summing :meth:`Block.source_stats`.
    """
    return priors + stats


def _priors(ev: Evidence) -> np.ndarray:
    return np.column_stack([ev.a_se, ev.b_se, ev.a_sp, ev.b_sp]).reshape(-1, 4)


class Damping:
    """Weight of the previous log-odds in each sweep: fixed, or adaptive when ``None``.

    Adaptive runs undamped for ``_WARMUP`` sweeps (changes grow while reliabilities separate,
    then shrink by a ratio λ per sweep). It then over-relaxes with the weight that is optimal
    for a contraction spectrum in [0, λ], -λ / (2 - λ) (a step 2 / (2 - λ) times the sweep's),
    which needs fewer sweeps for the same fixed point. It switches to 0.5 for good as soon as a
    sweep moves P(true) more than the one before (an oscillating iteration), or after
    ``_PATIENCE`` sweeps without convergence.
    """

    def __init__(self, damping: float | None) -> None:
        self.adaptive, self.value = damping is None, 0.0 if damping is None else float(damping)
        self._last, self._seen = np.inf, 0

    def observe(self, delta: float) -> None:
        """Record a sweep's largest change of P(true)."""
        self._seen += 1
        if not self.adaptive:
            return
        if (self._seen > _WARMUP and delta > self._last) or self._seen > _PATIENCE:
            self.adaptive, self.value = False, 0.5
        elif self._seen == _WARMUP and 0 < delta < self._last:
            ratio = min(delta / self._last, 0.9)
            self.value = -ratio / (2.0 - ratio)
        self._last = delta


def sweep(
    lo: np.ndarray, post: np.ndarray, block: Block | CompactBlock, prior_lo: np.ndarray,
    groups: list[list[int]], damping: float,
) -> np.ndarray:  # fmt: skip
    """One damped claim update given the source posteriors ``post`` (computed at ``lo``)."""
    g = prior_lo + block.claim_sums(post, expit(lo))
    target = group_logodds(g, groups)
    return (
        target if damping == 0 else lo + (1.0 - damping) * (target - lo)
    )  # exact at a fixed point


def run_vb(
    ev: Evidence,
    *,
    tol: float = 1e-6,
    max_iter: int = 2000,
    damping: float | None = None,
    init: np.ndarray | None = None,
    block: Block | None = None,
) -> tuple[np.ndarray, np.ndarray, Block, int, bool]:
    """Sweeps to convergence: ``(log_odds, source posteriors, block, n_iter, converged)``.

    ``block`` (the reports' cells, :class:`Block`) is built from ``ev`` when not given.
    """
    if block is None:
        block = _block(ev)
    priors = _priors(ev)
    lo = group_logodds(ev.prior_logodds, ev.groups) if init is None else np.asarray(init, float)
    converged, it, schedule = False, 0, Damping(damping)
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        q = expit(lo)
        post = source_posteriors(block.source_stats(q), priors)
        new = sweep(lo, post, block, ev.prior_logodds, ev.groups, schedule.value)
        delta = np.max(np.abs(expit(new) - q), initial=0.0)
        schedule.observe(delta)
        lo = new
        if delta < tol:
            converged = True
            break
    post = source_posteriors(block.source_stats(expit(lo)), priors)
    return lo, post, block, it, converged


def interval_moments(
    block: Block | CompactBlock,
    prior_lo: np.ndarray,
    groups: list[list[int]],
    post: np.ndarray,
    lo: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Centre and variance of each claim's log-odds given reliabilities (see the module doc)."""
    mean, var = block.claim_moments(post, expit(lo))
    g = prior_lo + mean
    if groups:
        var = group_variance(g, var, groups)
    return group_logodds(g, groups), var


def bounds(
    centre: np.ndarray, var: np.ndarray, lo: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """``expit(centre ∓ z sqrt(var))``, widened if needed to contain ``expit(lo)``."""
    half = ndtri(0.5 + level / 2) * np.sqrt(np.maximum(var, 0.0))  # the normal quantile
    p = expit(lo)
    return np.minimum(expit(centre - half), p), np.maximum(expit(centre + half), p)


def _check_options(
    tol: float, max_iter: int, damping: float | None, level: float, exact_states: int = 0
) -> None:
    from belief.priors.config import check_number

    check_number("tol", tol, 0.0, 1.0, closed=False, where="fast engine")
    if not isinstance(max_iter, int) or isinstance(max_iter, bool) or max_iter < 1:
        raise ValidationError(
            f"fast engine max_iter: expected an integer >= 1 but got {max_iter!r}"
        )
    if damping is not None:
        check_number("damping", damping, 0.0, 0.99, where="fast engine")
    check_number("level", level, 0.0, 1.0, closed=False, where="fast engine")
    if (
        not isinstance(exact_states, int)
        or isinstance(exact_states, bool)
        or not (0 <= exact_states <= 1 << 20)
    ):
        raise ValidationError(
            f"fast engine exact_states: expected an integer in 0..2**20 but got {exact_states!r}"
        )


def infer_fast(
    data: Case | Evidence | ReportArrays,
    config: Config | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 2000,
    damping: float | None = None,
    level: float = 0.9,
    init: np.ndarray | None = None,
    exact_states: int = EXACT_STATES,
) -> BeliefResult:
    """Posterior P(true) of every claim by vectorized mean-field VB (see the module doc).

    The engine behind ``belief.infer(case, method="fast")``.

    Parameters
    ----------
    data : Case, Evidence or ReportArrays
        A validated case, compiled evidence (e.g. :func:`belief.core.compiler.read_evidence`) or
        coded reports (compiled with :func:`belief.core.compiler.compile_arrays`).
    config : Config, optional
        Engine settings; default ``Config.from_case(case)`` or ``Config()``.
    tol : float
        Stop when no claim's P(true) moves more than this in a sweep.
    max_iter : int
        Upper bound on sweeps (a :class:`~belief.exceptions.ConvergenceWarning` if reached).
    damping : float, optional
        Weight of the previous log-odds in each update, in [0, 0.99]; default adaptive
        (:class:`Damping`). The fixed point does not depend on it.
    level : float
        Mass of the ``p_low``/``p_high`` interval (interval kind ``reliability``).
    init : ndarray, optional
        Starting log-odds per claim (warm start); default: the prior log-odds.
    exact_states : int
        Enumerate small coupled components exactly up to this many joint states (and at most
        ``2**config.max_enumeration``; :func:`exact_small_components`); ``0`` gives pure
        mean-field.

    Returns
    -------
    BeliefResult

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({
    ...     "claims": [{"claim_id": "c1", "prior": 0.5}],
    ...     "sources": [{"source_id": "s1", "sensitivity": 0.8, "specificity": 0.8,
    ...                  "strength": 1e9}],
    ...     "reports": [{"claim_id": "c1", "source_id": "s1", "stance": "confirm"}],
    ... })
    >>> round(infer_fast(case).p("c1"), 4)  # reliability known: 0.8 / (0.8 + 0.2)
    0.8
    """
    _check_options(tol, max_iter, damping, level, exact_states)
    if isinstance(data, Case):
        config = Config.from_case(data) if config is None else config
        ev = compile_case(data, config)
    else:
        config = Config() if config is None else config
        ev = compile_arrays(data, config) if isinstance(data, ReportArrays) else data
    return _result(ev, config, "fast", tol=tol, max_iter=max_iter, damping=damping,
                   level=level, init=init, exact_states=exact_states)  # fmt: skip


#: From this many cells, the base-rate search starts from the joint fixed point
#: (``_rate_start``): about a third of the sweeps at ten million reports. Below, it starts
#: from 0.5 as :mod:`belief.engines.dask` does, so the two backends take the same steps and
#: agree to rounding on small cases; the two starts give the same rate to the sweeps' ``tol``.
JOINT_START_CELLS = 100_000


def _block(ev: Evidence) -> Block:
    """The reports' cells of ``ev`` (:class:`Block`)."""
    return Block(len(ev.claim_ids), len(ev.source_ids), ev.r_claim, ev.r_source, ev.r_confirm,
                 ev.r_weight)  # fmt: skip


def _joint_start(
    ev: Evidence, block: Block, *, tol: float, max_iter: int, damping: float | None,
    init: np.ndarray | None,
) -> tuple[float, np.ndarray | None, np.ndarray]:  # fmt: skip
    """Learned values near the answer, and the log-odds there: where their search starts.

    The sweeps of :func:`run_vb`, each followed by the EM updates of the base rate
    (:mod:`belief.core.base_rate`) and the kind-level means (:mod:`belief.core.kinds`) from the
    current P(true): one pass to the joint fixed point instead of a pass to the fixed point at
    each setting tried. The search (:func:`belief.core.hyper.learn_hyper`) then checks them with
    exact runs at given values, which start here and take a sweep or two each. Returns
    ``(rate, kind means or None, log-odds)``.
    """
    mask = ev.base_mask
    n = 0 if mask is None else int(mask.sum())
    kl = ev.kinds if ev.kinds is not None and ev.kinds.size else None
    means = None if kl is None else start_means(kl)
    lo = group_logodds(ev.prior_logodds, ev.groups) if init is None else np.asarray(init, float)
    if n == 0 and kl is None:
        return 0.5, None, lo
    base_lo = ev.prior_logodds - (0.0 if mask is None else np.where(mask, logit(ev.base_start), 0))
    schedule, rate, priors = Damping(damping), 0.5, _priors(ev)
    # The kind means join once the claims have settled at the built-in values: from P(true) =
    # 1/2 everywhere their first update would make every source uninformative (a fixed point
    # the sweeps then leave only slowly), where the built-in values break that symmetry.
    kinds_on = False
    for _ in range(max_iter):
        q = expit(lo)
        stats = block.source_stats(q)
        if n:
            rate = float(expit(rate_update(float(q[mask].sum()), n, ev.base_prior)))
        prior_lo = base_lo + (0.0 if mask is None else np.where(mask, logit(rate), 0.0))
        if kinds_on and kl is not None:
            means = kind_means(kl, stats)
            priors = with_means(_priors(ev), kl, means)
        post = source_posteriors(stats, priors)
        new = sweep(lo, post, block, prior_lo, ev.groups, schedule.value)
        delta = np.max(np.abs(expit(new) - q), initial=0.0)
        schedule.observe(delta)
        lo = new
        if delta < tol:
            if kinds_on or kl is None:
                break
            kinds_on, schedule = True, Damping(damping)
    return rate, means, lo


def _result(
    ev: Evidence, config: Config, method: str, *, tol: float, max_iter: int,
    damping: float | None, level: float, init: np.ndarray | None, exact_states: int,
) -> BeliefResult:  # fmt: skip
    limit = min(exact_states, 2**config.max_enumeration)
    extra: dict[str, object] = {}
    block = _block(ev)  # the reports' cells, built once for every run below
    memo: dict = {}  # the small components and their likelihoods (found once)
    if (ev.base_mask is not None and ev.base_mask.any()) or (
        ev.kinds is not None and ev.kinds.size > 0
    ):  # learn the base rate and kind reliability (belief.core.hyper)
        warm: list = [init]  # the last state

        def at(e: Evidence) -> tuple[np.ndarray, np.ndarray]:
            lo = run_vb(e, tol=tol, max_iter=max_iter, damping=damping, init=warm[0],
                        block=block)[0].copy()  # fmt: skip
            exact_small_components(e, lo, limit, block, memo)
            warm[0] = lo
            return lo, block.source_stats(expit(lo))

        rate0, means0 = 0.5, None
        if len(block.claim) >= JOINT_START_CELLS:  # a start next to the root (see the constant)
            rate0, means0, warm[0] = _joint_start(ev, block, tol=tol, max_iter=max_iter,
                                                  damping=damping, init=init)  # fmt: skip
        # known to the precision of the sweeps (tol on P(true))
        ev, _, learned = learn_hyper(ev, at, xtol=max(tol, 1e-12), start=rate0,
                                     start_means=means0)  # fmt: skip
        extra.update(learned)
        # The final run starts from the state of the search's *last* run (which need not be
        # the run at the returned values), as in belief.engines.dask: both backends then make
        # the same sweeps and agree far below tol (two different warm starts each stop within tol).
        init = warm[0]
    lo, post, block, n_iter, ok = run_vb(ev, tol=tol, max_iter=max_iter, damping=damping,
                                         init=init, block=block)  # fmt: skip
    if not ok:
        warnings.warn(
            f"{method} engine: no convergence to tol={tol:g} in {max_iter} sweeps",
            ConvergenceWarning,
            stacklevel=3,
        )
    exact = exact_small_components(ev, lo, limit, block, memo)
    if len(exact):  # the reliability posteriors and intervals follow the final state
        post = source_posteriors(block.source_stats(expit(lo)), _priors(ev))
    centre, var = interval_moments(block, ev.prior_logodds, ev.groups, post, lo)
    interval = bounds(centre, var, lo, level)
    return BeliefResult(
        posterior=posterior_frame(ev.claim_ids, lo, interval, ev.n_reports, ev.n_independent),
        log_odds=pd.Series(lo, index=ev.claim_ids, name="log_odds"),
        method=method,
        interval=Interval("reliability", level),
        config=config,
        reliability=reliability_frame(ev.source_ids, post),
        diagnostics={"n_iter": n_iter, "converged": ok, "exact_claims": len(exact), **extra},
    )
