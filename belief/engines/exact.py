r"""The exact engine: posterior P(true) per claim with source reliability integrated out.

Model
-----
Claim *c* has truth :math:`T_c \in \{0, 1\}`. Source *s* has sensitivity
:math:`\theta_s = P(\text{confirm} \mid T=1)` and specificity
:math:`\phi_s = P(\text{deny} \mid T=0)` among its informative reports, with independent priors
:math:`\theta_s \sim \mathrm{Beta}(a_s, b_s)`, :math:`\phi_s \sim \mathrm{Beta}(c_s, d_s)`.
Given a joint truth state *T*, let :math:`n^{ct}_s, n^{dt}_s` be the (weighted) confirms and
denies of *s* on true claims and :math:`n^{cf}_s, n^{df}_s` on false ones. Integrating the
reliabilities out exactly gives the Beta–Binomial marginal likelihood

.. math::

    p(R \mid T) = \prod_s \frac{B(a_s + n^{ct}_s,\, b_s + n^{dt}_s)}{B(a_s, b_s)}
                  \frac{B(c_s + n^{df}_s,\, d_s + n^{cf}_s)}{B(c_s, d_s)},

which couples every claim a source reported on. The prior over states is
:math:`p(T) \propto \prod_c e^{\ell_c T_c}` restricted to states where each group has at most
one true claim (:math:`\ell_c` = prior log-odds incl. signals; see :mod:`belief.core.compiler`).
The posterior is computed by enumerating all allowed states of each *connected component*
(claims linked by a shared source or a group), in log space. Components with more than
``2**max_enumeration`` states use the cavity mean-field approximation (described in
:mod:`belief.core.groups`, computed by :func:`belief.engines.fast.run_vb`), with an
:class:`~belief.exceptions.ApproximationWarning`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import product

import numpy as np
import pandas as pd
from scipy.special import expit, logsumexp

from belief.core.compiler import Evidence, compile_case
from belief.core.groups import group_logodds
from belief.core.hyper import learn_hyper
from belief.core.special import log_beta_ratio
from belief.data.types import Case, Report, Signal
from belief.engines.result import BeliefResult, Interval, posterior_frame
from belief.exceptions import ApproximationWarning, EnumerationLimitError
from belief.priors.config import Config

__all__ = ["components", "infer_exact", "posterior_logodds"]

#: Largest state matrix (states × claims) enumerated densely (int8: 256 MB).
MAX_CELLS = 1 << 28
_CHUNK = 1 << 16  # states per block: bounds memory at ~ _CHUNK * n_sources floats


def components(ev: Evidence) -> list[list[int]]:
    """Connected components of claims linked by a shared channel or a group.

    A bipartite graph of claims and channels (plus one node per group), labelled with
    :func:`scipy.sparse.csgraph.connected_components`: O(reports + claims).
    """
    from scipy.sparse import coo_matrix  # not at import: the CLI's fast path never needs it
    from scipy.sparse.csgraph import connected_components

    n, s = len(ev.claim_ids), len(ev.source_ids)
    empty: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    g_claim = np.concatenate([np.asarray(g, dtype=np.int64) for g in ev.groups] or empty)
    g_node = np.repeat(np.arange(len(ev.groups)), [len(g) for g in ev.groups]) + n + s
    rows = np.concatenate([ev.r_claim, g_claim]).astype(np.int64)
    cols = np.concatenate([ev.r_source + n, g_node]).astype(np.int64)
    size = n + s + len(ev.groups)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    _, label = connected_components(graph, directed=False)
    order = np.argsort(label[:n], kind="stable")
    cuts = np.flatnonzero(np.diff(label[:n][order])) + 1
    return [part.tolist() for part in np.split(order, cuts)] if n else []


def _blocks(claims: list[int], groups: list[list[int]]) -> list[list[int]]:
    """Split a component into groups and free claims (each free claim its own block)."""
    in_group = {c for g in groups for c in g}
    blocks = [g for g in groups if g[0] in set(claims)]
    return blocks + [[c] for c in claims if c not in in_group]


def n_states(claims: list[int], groups: list[list[int]]) -> int:
    """Number of allowed joint truth states: prod over blocks of (size + 1)."""
    return math.prod(len(b) + 1 for b in _blocks(claims, groups))  # exact int, never overflows


def _states(claims: list[int], groups: list[list[int]]) -> np.ndarray:
    """All allowed truth states as a (n_states, n_claims) 0/1 matrix, columns as ``claims``."""
    col = {c: k for k, c in enumerate(claims)}
    blocks = _blocks(claims, groups)
    choices = [range(len(b) + 1) for b in blocks]  # 0 = none true, j = member j-1 true
    out = np.zeros((n_states(claims, groups), len(claims)), dtype=np.int8)
    for row, pick in enumerate(product(*choices)):
        for b, j in zip(blocks, pick):
            if j:
                out[row, col[b[j - 1]]] = 1
    return out


def _component_loglik(ev: Evidence, claims: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-claim weighted confirm/deny counts of the component's sources: (2, n_src, n_claims)."""
    col = {c: k for k, c in enumerate(claims)}
    mask = np.isin(ev.r_claim, claims)
    srcs, s_local = np.unique(ev.r_source[mask], return_inverse=True)
    c_local = np.array([col[c] for c in ev.r_claim[mask]], dtype=np.int64)
    counts = np.zeros((2, len(srcs), len(claims)))
    np.add.at(counts, (ev.r_confirm[mask].astype(int) ^ 1, s_local, c_local), ev.r_weight[mask])
    return srcs, counts  # counts[0] = confirms, counts[1] = denies


def reprior(cache: dict | None, ev: Evidence) -> None:
    """Forget the cached likelihoods of ``cache`` when ``ev``'s reliability priors changed.

    The components (graph structure) stay; learning kind-level reliability tries many priors.
    """
    if cache is None:
        return
    priors = ev.priors
    old = cache.get("priors")
    if old is not None and old.shape == priors.shape and np.array_equal(old, priors):
        return
    for key in [k for k in cache if isinstance(k, tuple) and k[0] in ("enumerate", "group")]:
        del cache[key]
    cache["priors"] = priors


def _enumerate(ev: Evidence, claims: list[int], cache: dict | None = None) -> np.ndarray:
    """Exact posterior log-odds of each claim in one component.

    ``cache`` keeps each component's states and their log-likelihood (which do not depend on
    the claims' prior): learning the base rate re-evaluates the posterior at many priors.
    """
    key = ("enumerate", tuple(claims))
    if cache is not None and key in cache:
        states, ll_sum = cache[key]
        return _state_logodds(states, states @ ev.prior_logodds[claims] + ll_sum)
    states = _states(claims, ev.groups)
    srcs, counts = _component_loglik(ev, claims)
    conf, deny = counts[0], counts[1]
    a_se, b_se, a_sp, b_sp = (x[srcs] for x in (ev.a_se, ev.b_se, ev.a_sp, ev.b_sp))
    log_joint = np.empty(len(states))
    chunk = max(1, min(_CHUNK, (1 << 22) // max(len(claims), 1)))  # float block <= 32 MB
    for start in range(0, len(states), chunk):
        t = states[start : start + chunk].astype(float)
        n_ct, n_dt = t @ conf.T, t @ deny.T
        n_cf, n_df = conf.sum(1) - n_ct, deny.sum(1) - n_dt
        # Beta-Binomial marginal likelihood in log space, stable for huge counts and priors
        ll = log_beta_ratio(a_se, b_se, n_ct, n_dt) + log_beta_ratio(a_sp, b_sp, n_df, n_cf)
        log_joint[start : start + len(t)] = ll.sum(axis=1)
    if cache is not None:
        cache[key] = (states, log_joint.copy())
    return _state_logodds(states, states @ ev.prior_logodds[claims] + log_joint)


def _state_logodds(states: np.ndarray, log_joint: np.ndarray) -> np.ndarray:
    """Each claim's log-odds from the joint log weights of the enumerated states."""
    out = np.empty(states.shape[1])
    for k in range(states.shape[1]):
        on = states[:, k] == 1
        out[k] = logsumexp(log_joint[on]) - logsumexp(log_joint[~on])
    return out


def _one_group(ev: Evidence, claims: list[int]) -> list[int] | None:
    """The group, when the component is exactly one group of competing claims, else None."""
    blocks = _blocks(claims, ev.groups)
    return blocks[0] if len(blocks) == 1 and len(blocks[0]) > 1 else None


def _enumerate_group(ev: Evidence, claims: list[int], cache: dict | None = None) -> np.ndarray:
    """Exact log-odds of a component that is one group: its states are one-hot (or none true).

    Linear in the component's (claim, source) cells, whatever the group's size: with every
    claim false, source *s* scores ``B0_s = lbr(spec; denies, confirms)``; making claim *j* the
    true one changes it by ``lbr(sens; x_sj, y_sj) + lbr(spec; Y_s - y_sj, X_s - x_sj) - B0_s``
    for the sources that reported on *j* only. The group marginal then follows from
    :func:`belief.core.groups.group_logodds`.
    """
    ckey = ("group", tuple(claims))
    if cache is not None and ckey in cache:
        g = cache[ckey] + ev.prior_logodds[claims]
        return group_logodds(g, [list(range(len(claims)))])
    mask = np.isin(ev.r_claim, claims)
    pos = np.searchsorted(np.sort(claims), ev.r_claim[mask])
    order = np.argsort(claims)
    n_src = len(ev.source_ids)
    key = pos * n_src + ev.r_source[mask]
    cells, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    w, conf = ev.r_weight[mask], ev.r_confirm[mask]
    x = np.bincount(inv, w * conf, len(cells))
    y = np.bincount(inv, w * ~conf, len(cells))
    c_pos, s = cells // n_src, cells % n_src
    big_x = np.bincount(s, x, n_src)[s]
    big_y = np.bincount(s, y, n_src)[s]
    a_se, b_se, a_sp, b_sp = ev.a_se[s], ev.b_se[s], ev.a_sp[s], ev.b_sp[s]
    delta = (
        log_beta_ratio(a_se, b_se, x, y)
        + log_beta_ratio(a_sp, b_sp, big_y - y, big_x - x)
        - log_beta_ratio(a_sp, b_sp, big_y, big_x)
    )
    g_sorted = np.bincount(c_pos, delta, len(claims))
    g = np.empty(len(claims))
    g[order] = g_sorted
    if cache is not None:
        cache[ckey] = g.copy()
    g += ev.prior_logodds[claims]
    return group_logodds(g, [list(range(len(claims)))])


def posterior_logodds(
    ev: Evidence,
    config: Config,
    init: np.ndarray | None = None,
    only: set[int] | None = None,
    cache: dict | None = None,
) -> tuple[np.ndarray, set[int]]:
    """Posterior log-odds of every claim in ``ev`` and the set of approximated claim indices.

    A component that is one group is computed exactly in linear time and memory; other
    components are enumerated while they have at most ``2**max_enumeration`` states and their
    state matrix stays under :data:`MAX_CELLS` entries (memory), else approximated.
    """
    out = ev.prior_logodds.copy()  # claims left out by ``only`` keep their prior
    reprior(cache, ev)
    large: list[list[int]] = []
    limit = 2**config.max_enumeration
    comps = cache.get("components") if cache is not None else None
    if comps is None:
        comps = components(ev)
        if cache is not None:
            cache["components"] = comps
    for comp in comps:
        if only is not None and not only.intersection(comp):
            continue
        states = n_states(comp, ev.groups)
        if _one_group(ev, comp) is not None:
            out[comp] = _enumerate_group(ev, comp, cache)
        elif states <= limit and states * len(comp) <= MAX_CELLS:
            out[comp] = _enumerate(ev, comp, cache)
        else:
            large.append(comp)
    approx = {c for comp in large for c in comp}
    if large:
        sizes = sorted((len(c) for c in large), reverse=True)
        if config.on_large == "error":
            raise EnumerationLimitError(
                f"{len(large)} component(s) too large to enumerate (largest {sizes[0]} claims; "
                f"limit 2**{config.max_enumeration} states); set on_large='approximate'"
            )
        from belief.engines.fast import run_vb

        warnings.warn(
            f"{len(approx)} claims in {len(large)} component(s) (largest {sizes[0]} claims) "
            f"exceed 2**{config.max_enumeration} joint states; using the mean-field approximation",
            ApproximationWarning,
            stacklevel=3,
        )
        idx = np.array(sorted(approx))
        out[idx] = run_vb(ev, tol=1e-10, init=init)[0][idx]  # init: a warm start
    return out, approx


def infer_exact(
    case: Case,
    config: Config | None = None,
    *,
    reports: list[Report] | None = None,
    signals: list[Signal] | None = None,
    init: pd.Series | None = None,
    only: Sequence[str] | None = None,
) -> BeliefResult:
    """Posterior P(true) of every claim of ``case``, reliability integrated out exactly.

    The engine behind ``belief.infer(case, method="exact")``.

    Parameters
    ----------
    case : Case
        A validated case.
    config : Config, optional
        Engine settings; default ``Config.from_case(case)``.
    reports, signals : list, optional
        Use only these reports / signals (for timelines and leave-one-out).
    init : Series, optional
        Log-odds by claim id to start the mean-field fallback from (a nearby answer, e.g. the
        previous step of a timeline); it does not change the fixed point, only its cost.
    only : sequence of str, optional
        Compute only the components holding these claims (the others keep their prior log-odds
        in the result): what a timeline or contribution of a few claims needs.

    Returns
    -------
    BeliefResult
        ``p_low == p_high == p_true`` (interval kind ``none``).

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({
    ...     "claims": [{"claim_id": "c1", "prior": 0.5}],
    ...     "sources": [{"source_id": "s1", "sensitivity": 0.8, "specificity": 0.8,
    ...                  "strength": 1e9}],
    ...     "reports": [{"claim_id": "c1", "source_id": "s1", "stance": "confirm"}],
    ... })
    >>> round(infer_exact(case).p("c1"), 4)  # 0.8 / (0.8 + 0.2)
    0.8
    """
    config = Config.from_case(case) if config is None else config
    ev = compile_case(case, config, reports, signals)
    start = None if init is None else init.reindex(ev.claim_ids).fillna(0.0).to_numpy(float)
    index = {c: i for i, c in enumerate(ev.claim_ids)}
    wanted = None if only is None else {index[c] for c in only}
    diagnostics: dict[str, object] = {}
    learns = (ev.base_mask is not None and ev.base_mask.any()) or (
        ev.kinds is not None and ev.kinds.size > 0
    )
    if not learns:
        lo, approx = posterior_logodds(ev, config, start, wanted)
    else:  # learned from the data: every claim counts (``only`` cannot narrow it)
        cache: dict = {}  # the likelihood of each component's states does not depend on the rate
        ev, lo, learned = learn_hyper(
            ev, lambda e: (posterior_logodds(e, config, start, None, cache)[0], None)
        )
        lo, approx = posterior_logodds(ev, config, lo, None, cache)
        diagnostics.update(learned)
    # reliability is integrated out: the interval collapses onto p_true
    p = expit(lo)
    post = posterior_frame(ev.claim_ids, lo, (p, p), ev.n_reports, ev.n_independent)
    return BeliefResult(
        posterior=post,
        log_odds=pd.Series(lo, index=ev.claim_ids, name="log_odds"),
        method="exact",
        interval=Interval("none"),
        config=config,
        diagnostics={"approximate": frozenset(ev.claim_ids[i] for i in approx), **diagnostics},
    )
