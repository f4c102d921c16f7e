"""The Dask backend's results on the client: exact small components, the claims' values
gathered a few partitions at a time, and the result table.

Claims without reports keep their prior; at 10M claims the gathered arrays are what the client
holds (a few partitions' results travel at once, not all of them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from belief.core.groups import group_logodds
from belief.engines._dask_parts import _claim_counts, _finish, _small_cells
from belief.engines._dask_run import _call, _Runner, _tree
from belief.engines._dask_store import claims_of, load
from belief.engines.fast import bounds
from belief.engines.result import BeliefResult, Interval, posterior_frame, reliability_frame
from belief.priors.config import Config


def _exact_small(
    run: _Runner, parts: list[Any], prior: np.ndarray, max_states: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact log-odds of the small coupled components, as the in-memory fast engine has them."""
    from belief.core.compiler import Evidence
    from belief.engines.exact import _enumerate, components, n_states
    from belief.engines.fast import EXACT_COMPONENTS

    empty = (np.zeros(0, np.int64), np.zeros(0))
    if max_states < 2:
        return empty
    limit = 24
    counts = run.compute([_tree(np.add, [_call(_claim_counts, p) for p in parts])])[0]
    found = run.compute([_call(_small_cells, p, counts, limit) for p in parts])
    claims = np.concatenate([f[0] for f in found])
    if not len(claims):
        return empty
    local = {int(c): k for k, c in enumerate(claims)}
    r_claim = np.array([local[int(c)] for f in found for c in f[2]], dtype=np.int64)
    r_source = np.concatenate([f[3] for f in found]).astype(np.int64)
    x, y = np.concatenate([f[4] for f in found]), np.concatenate([f[5] for f in found])
    groups = [[local[int(c)] for c in g] for f in found for g in f[6]]
    both = np.r_[x > 0, y > 0]
    ev = Evidence(
        claim_ids=[str(c) for c in claims], source_ids=[str(i) for i in range(len(prior))],
        prior_logodds=np.concatenate([f[1] for f in found]), groups=groups,
        r_claim=np.r_[r_claim, r_claim][both], r_source=np.r_[r_source, r_source][both],
        r_confirm=np.r_[np.ones(len(x), bool), np.zeros(len(y), bool)][both],
        r_weight=np.r_[x, y][both], a_se=prior[:, 0], b_se=prior[:, 1], a_sp=prior[:, 2],
        b_sp=prior[:, 3], n_reports=np.zeros(len(claims), np.int64),
        n_independent=np.zeros(len(claims), np.int64),
    )  # fmt: skip
    small = []
    for comp in components(ev):
        if len(comp) < 2 or len(comp) > limit or n_states(comp, ev.groups) > max_states:
            continue
        srcs = ev.r_source[np.isin(ev.r_claim, comp)]
        pairs = np.unique(ev.r_claim[np.isin(ev.r_claim, comp)] * len(prior) + srcs)
        inside = np.bincount(pairs % len(prior), minlength=len(prior))
        if (inside[np.unique(srcs)] == counts[np.unique(srcs)]).all():  # the whole component
            small.append(comp)
    if not small or len(small) > EXACT_COMPONENTS:
        return empty
    lo = [_enumerate(ev, comp) for comp in small]
    return claims[np.concatenate(small)], np.concatenate(lo)


def _n_cells(part: Any) -> int:
    return len(load(part).block.claim)


#: partitions whose results travel to the client together (not all of them at once)
_BATCH = 8


def _batched(run: _Runner, fn: Any, parts: list[Any], states: list[Any], *args: Any) -> Any:
    """``fn(part, state, *args)`` of every partition, computed and yielded ``_BATCH`` at a time."""
    for i in range(0, len(parts), _BATCH):
        batch = zip(parts[i : i + _BATCH], states[i : i + _BATCH])
        yield from run.compute([_call(fn, p, s, *args) for p, s in batch])


def _claim_logodds(
    run: _Runner, ev0: Any, parts: list[Any], states: list[Any],
    exact: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:  # fmt: skip
    """Every claim's log-odds at ``states`` (claims without reports keep their prior)."""
    lo = group_logodds(ev0.prior_logodds, ev0.groups)
    for claims, values in _batched(run, _lo_of, parts, states):
        lo[claims] = values
    lo[exact[0]] = exact[1]  # small coupled components: exact, as the in-memory engine
    return lo


def _lo_of(part: Any, state: Any) -> tuple[np.ndarray, np.ndarray]:
    return claims_of(part), state.lo


def _collect(
    run: _Runner, ev0: Any, parts: list[Any], states: list[Any], post: np.ndarray,
    exact: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Every claim's ``lo, centre, var, n_rep, n_ind`` and the sources used, a few partitions'
    results at a time (others keep their prior)."""
    from dask import delayed

    n = len(ev0.claim_ids)
    lo = group_logodds(ev0.prior_logodds, ev0.groups)
    centre, var = lo.copy(), np.zeros(n)
    n_rep, n_ind = np.zeros(n, np.int64), np.zeros(n, np.int64)
    used = np.zeros(len(post), bool)
    shared = delayed(post, pure=True)  # one copy, not one per task
    for claims, *values, on in _batched(run, _finish, parts, states, shared):
        lo[claims], centre[claims], var[claims], n_rep[claims], n_ind[claims] = values
        used[on] = True
    lo[exact[0]] = exact[1]  # small coupled components: exact, as the in-memory engine
    return lo, centre, var, n_rep, n_ind, np.flatnonzero(used)


def _result(
    ev0: Any, source_ids: list[str], done: tuple[np.ndarray, ...], post: np.ndarray,
    n_iter: int, ok: bool,
    config: Config, level: float, exact: tuple[np.ndarray, np.ndarray],
    extra: dict[str, object],
) -> BeliefResult:  # fmt: skip
    """Assemble the partitions' claims (others keep their prior) into a result."""
    lo, centre, var, n_rep, n_ind, used = done
    del done  # the caller passes it inline: each array goes as soon as it is used
    interval = bounds(centre, var, lo, level)
    del centre, var
    posterior = posterior_frame(ev0.claim_ids, lo, interval, n_rep, n_ind, copy=False)
    del interval, n_rep, n_ind
    order = sorted(used.tolist(), key=lambda i: source_ids[i])
    return BeliefResult(
        posterior=posterior,
        log_odds=pd.Series(lo, index=ev0.claim_ids, name="log_odds", copy=False),
        method="dask",
        interval=Interval("reliability", level),
        config=config,
        reliability=reliability_frame([source_ids[i] for i in order], post[order]),
        diagnostics={"n_iter": n_iter, "converged": ok, "exact_claims": len(exact[0]), **extra},
    )
