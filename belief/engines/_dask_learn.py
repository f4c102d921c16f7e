"""The Dask backend's joint start of the learned values, as the in-memory engine's.

From :data:`belief.engines.fast.JOINT_START_CELLS` cells on, the in-memory engine reaches the
base rate and the kind-level means with one pass of sweeps, each followed by their EM updates,
before :func:`belief.core.hyper.learn_hyper` checks them. This is the same pass as a map-reduce
over the partitions, with the same arithmetic, so the two backends take the same steps: each
sweep's reduce returns the per-source statistics, the largest change and the sum of P(true)
over the claims that take the base rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit

from belief.core.base_rate import rate_update
from belief.core.compiler import Evidence
from belief.core.kinds import kind_means, start_means, with_means
from belief.engines._dask_parts import _start, _step
from belief.engines._dask_store import _Part, _Spilled, _State, load, shift_base
from belief.engines.fast import Damping


def _joint_stats(
    part: _Part | _Spilled, state: _State, mask: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """The part's per-source statistics, last change, and sum of P(true) over ``mask``."""
    part = load(part)
    q = expit(state.lo)
    return part.block.source_stats(q), state.delta, float(q[mask[part.claims]].sum())


def _add3(a: tuple[np.ndarray, float, float], b: tuple[np.ndarray, float, float]) -> tuple:
    return a[0] + b[0], max(a[1], b[1]), a[2] + b[2]


def joint_start(
    run: Any, parts: list[Any], ev: Evidence, *, tol: float, max_iter: int,
    damping: float | None,
) -> tuple[float, np.ndarray | None, list[Any]]:  # fmt: skip
    """``(rate, kind means or None, states)`` at the joint fixed point (see the module doc)."""
    import dask

    from belief.engines._dask_run import _call, _tree

    mask_arr = ev.base_mask if ev.base_mask is not None else np.zeros(len(ev.claim_ids), bool)
    mask = dask.delayed(mask_arr, pure=True)
    n = int(mask_arr.sum())
    kl = ev.kinds if ev.kinds is not None and ev.kinds.size else None
    means = None if kl is None else start_means(kl)
    start = float(logit(ev.base_start))
    schedule, rate, priors = Damping(damping), 0.5, ev.priors

    def reduce(states: list[Any]) -> tuple[np.ndarray, float, float]:
        out = _tree(_add3, [_call(_joint_stats, p, s, mask) for p, s in zip(parts, states)])
        return run.compute([out])[0]

    states = run.persist([_call(_start, p) for p in parts])
    stats, _, qsum = reduce(states)
    kinds_on = False
    for _ in range(max_iter):
        if n:
            rate = float(expit(rate_update(qsum, n, ev.base_prior)))
        if kinds_on and kl is not None:
            means = kind_means(kl, stats)
            priors = with_means(ev.priors, kl, means)
        post = dask.delayed(stats + priors, pure=True)
        shifted = parts
        if n:
            delta_t = float(logit(rate)) - start
            shifted = run.persist([_call(shift_base, p, mask, delta_t) for p in parts])
        d = schedule.value
        states = run.persist([_call(_step, p, s, post, d) for p, s in zip(shifted, states)])
        stats, delta, qsum = reduce(states)
        schedule.observe(delta)
        if delta < tol:
            if kinds_on or kl is None:
                break
            kinds_on, schedule = True, Damping(damping)
    return rate, means, states
