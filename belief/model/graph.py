r"""The joint model's graph: a :class:`~belief.data.types.Case` encoded to arrays, then a PyMC
model.

Two pure functions: :func:`encode_case` (numpy only) turns a case and a resolved model
configuration into a :class:`ModelData`; :func:`build_model` turns that into a ``pm.Model``.
Neither touches an estimator; :mod:`belief.model.estimator` orchestrates them.

The model
---------
Claim :math:`c` has prior log-odds
:math:`\ell_c = \operatorname{logit}(\text{prior}_c \text{ or } \pi) + \sum_g \delta_g`, where a
signal shifts it by :math:`\log \mathrm{LR}_g` when the analyst gave a likelihood ratio and by
:math:`d_g e_{k(g)}` otherwise (one learned effect :math:`e_k` per signal kind).

Source :math:`s` of kind :math:`k` has logit sensitivity (and, alike, specificity)

.. math::

    \lambda_s = \begin{cases} m_s + \tau_s z_s & \text{own prior (explicit values, Admiralty
    grade, strength or calibrated priors)} \\ \mu_k + \sigma_k z_s & \text{otherwise}
    \end{cases}, \quad z_s \sim \mathcal N(0, 1),

with :math:`\mu_k \sim \mathcal N(\bar m_k, \text{kind\_mean\_sd})` centred on the kind's default
prior (better than chance for every built-in kind, which keeps the model away from the mirror
solution "every claim flipped, every source a liar") and
:math:`\sigma_k \sim \mathrm{HalfNormal}(\text{kind\_sd\_scale})`. A Beta(a, b) prior enters on
the logit scale as the normal with the same first two moments, which are known exactly:
:math:`m = \psi(a) - \psi(b)`, :math:`\tau^2 = \psi_1(a) + \psi_1(b)` (digamma, trigamma).

An informative report of source :math:`s` on claim :math:`c` with side alignment
:math:`al \in \{-1, 0, 1\}` and side effect :math:`a` has
:math:`P(\text{confirm} \mid T=1) = \sigma(\lambda^{sens}_s + a\,al)` and
:math:`P(\text{deny} \mid T=0) = \sigma(\lambda^{spec}_s - a\,al)`; its log-likelihood enters with
weight 1 (originals, and the stand-in copy of a silent original) or the copy weight.

Truth is marginalized: with :math:`L^t_c` the summed log-likelihoods under :math:`T_c = t` and
:math:`D_c = \ell_c + L^1_c - L^0_c`, a group :math:`G` (an ungrouped claim is a group of one;
at most one member true, :math:`P(T) \propto \prod_c e^{\ell_c T_c}`) contributes

.. math::

    \sum_{c \in G} L^0_c + \log\Bigl(1 + \sum_{c \in G} e^{D_c}\Bigr)
    - \log\Bigl(1 + \sum_{c \in G} e^{\ell_c}\Bigr),
    \qquad P(T_c = 1 \mid \theta, \text{data}) = \frac{e^{D_c}}{1 + \sum_{j \in G} e^{D_j}}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad
from scipy.special import digamma, logit, polygamma

from belief.core.compiler import compile_case, has_own_prior, signal_logodds, source_prior
from belief.data.types import Case, Source
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, resolve_source_prior

NO_KIND = "unknown"  #: kind label of sources without a ``kind``


@dataclass(frozen=True)
class ModelData:
    """A case encoded for the joint model (claims, sources and reports indexed by position).

    ``group_index`` is a (groups x max size) matrix of claim positions padded with
    ``n_claims``; the ``r_*`` arrays describe the informative reports that carry weight.
    """

    claim_ids: tuple[str, ...]
    source_ids: tuple[str, ...]
    source_kind: tuple[str, ...]
    source_side: tuple[str, ...]
    kinds: tuple[str, ...]
    signal_kinds: tuple[str, ...]
    lo_fixed: np.ndarray
    use_base: np.ndarray
    sig_claim: np.ndarray
    sig_kind: np.ndarray
    sig_dir: np.ndarray
    sig_center: np.ndarray
    group_index: np.ndarray
    claim_group: np.ndarray
    r_claim: np.ndarray
    r_source: np.ndarray
    r_confirm: np.ndarray
    r_align: np.ndarray
    r_copy: np.ndarray
    src_kind: np.ndarray
    own: np.ndarray
    own_m: np.ndarray
    own_sd: np.ndarray
    kind_m: np.ndarray
    n_reports: np.ndarray
    n_independent: np.ndarray
    base_rate: float
    copy_weight: float

    @property
    def coords(self) -> dict[str, list[str]]:
        """PyMC/ArviZ coordinates: claim, source, kind, signal_kind."""
        return {
            "claim": list(self.claim_ids),
            "source": list(self.source_ids),
            "kind": list(self.kinds),
            "signal_kind": list(self.signal_kinds),
        }


def logit_normal(prior: BetaPrior) -> tuple[float, float]:
    """Mean and sd of ``logit(p)`` for ``p ~ Beta(alpha, beta)`` (exact moments).

    Examples
    --------
    >>> m, sd = logit_normal(BetaPrior(8e5, 2e5))
    >>> round(m, 4), sd < 0.01
    (1.3863, True)
    """
    a, b = prior.alpha, prior.beta
    mean = float(digamma(a) - digamma(b))
    var = float(polygamma(1, a) + polygamma(1, b))
    return mean, float(np.sqrt(var))


def _source_arrays(case: Case, source_ids: list[str], kinds: list[str], config: Config):
    smap = case.source_map()
    own = np.zeros((2, len(source_ids)), dtype=bool)
    own_m = np.zeros((2, len(source_ids)))
    own_sd = np.ones((2, len(source_ids)))
    for i, sid in enumerate(source_ids):
        src = smap[sid]
        sp = source_prior(src, config)
        for j, (field, beta) in enumerate(
            (("sensitivity", sp.sensitivity), ("specificity", sp.specificity))
        ):
            own[j, i] = has_own_prior(src, field, config)
            own_m[j, i], own_sd[j, i] = logit_normal(beta)
    kind_m = np.zeros((2, len(kinds)))
    for k, kind in enumerate(kinds):
        kp = resolve_source_prior(
            Source("_", kind=None if kind == NO_KIND else kind),
            config.kind_priors,
            config.default_prior,
        )
        kind_m[:, k] = logit_normal(kp.sensitivity)[0], logit_normal(kp.specificity)[0]
    return own, own_m, own_sd, kind_m


def _group_arrays(case: Case) -> tuple[np.ndarray, np.ndarray]:
    members: dict[Any, list[int]] = {}
    for i, c in enumerate(case.claims):
        members.setdefault(("g", c.group) if c.group is not None else ("c", i), []).append(i)
    groups = list(members.values())
    width = max((len(g) for g in groups), default=1)
    index = np.full((len(groups), width), len(case.claims), dtype=np.int64)
    claim_group = np.zeros(len(case.claims), dtype=np.int64)
    for g, idx in enumerate(groups):
        index[g, : len(idx)] = idx
        claim_group[idx] = g
    return index, claim_group


def _signal_arrays(case: Case, config: Config, index: Mapping[str, int]):
    lo_shift = np.zeros(len(index))
    learned = [s for s in case.signals if s.likelihood_ratio is None]
    for s in case.signals:
        if s.likelihood_ratio is not None:
            lo_shift[index[s.claim_id]] += signal_logodds(s, config)
    kinds = sorted({s.kind for s in learned})
    kindex = {k: i for i, k in enumerate(kinds)}
    center = np.array(
        [float(config.signal_effects.get(k, config.default_signal_effect)) for k in kinds]
    )
    return (
        lo_shift,
        tuple(kinds),
        np.array([index[s.claim_id] for s in learned], dtype=np.int64),
        np.array([kindex[s.kind] for s in learned], dtype=np.int64),
        np.array([s.direction for s in learned], dtype=float),
        center,
    )


def encode_case(case: Case, config: Config, *, keep_copies: bool) -> ModelData:
    """Encode ``case`` for :func:`build_model`.

    Parameters
    ----------
    case : Case
        The case.
    config : Config
        Shared engine settings (base rate, signal effects, reliability defaults, copy weight).
    keep_copies : bool
        Keep copy reports (weight ``copy_weight``, fixed or learned) even when the configured
        weight is 0; otherwise zero-weight copies are dropped.

    Returns
    -------
    ModelData

    Examples
    --------
    >>> from belief.data.types import Claim, Report
    >>> case = Case((Claim("c1"),), reports=(Report("c1", "s1", "confirm"),))
    >>> data = encode_case(case, Config(), keep_copies=False)
    >>> data.source_ids, data.r_confirm.tolist()
    (('s1',), [1])
    """
    index = {c: i for i, c in enumerate(case.claim_ids)}
    smap = case.source_map()
    ev = compile_case(case, config, keep_copies=keep_copies)  # the one compiler's reports
    assert ev.channel_source is not None and ev.r_align is not None and ev.r_copy is not None
    source_ids = sorted(smap)
    sindex = {s: i for i, s in enumerate(source_ids)}
    source_kind = tuple(smap[s].kind or NO_KIND for s in source_ids)
    kinds = sorted(set(source_kind))
    own, own_m, own_sd, kind_m = _source_arrays(case, source_ids, kinds, config)
    lo_shift, sig_kinds, sig_claim, sig_kind, sig_dir, sig_center = _signal_arrays(
        case, config, index
    )
    prior = np.array([np.nan if c.prior is None else c.prior for c in case.claims])
    use_base = np.isnan(prior)
    lo_fixed = np.where(use_base, 0.0, logit(np.where(use_base, 0.5, prior))) + lo_shift
    group_index, claim_group = _group_arrays(case)
    return ModelData(
        claim_ids=tuple(case.claim_ids),
        source_ids=tuple(source_ids),
        source_kind=source_kind,
        source_side=tuple(smap[s].side or "" for s in source_ids),
        kinds=tuple(kinds),
        signal_kinds=sig_kinds,
        lo_fixed=lo_fixed,
        use_base=use_base,
        sig_claim=sig_claim,
        sig_kind=sig_kind,
        sig_dir=sig_dir,
        sig_center=sig_center,
        group_index=group_index,
        claim_group=claim_group,
        r_claim=ev.r_claim.astype(np.int64),
        r_source=np.array([sindex[ev.channel_source[k]] for k in ev.r_source], dtype=np.int64),
        r_confirm=ev.r_confirm.astype(np.int64),
        r_align=ev.r_align.astype(float),
        r_copy=ev.r_copy.astype(bool),
        src_kind=np.array([kinds.index(k) for k in source_kind], dtype=np.int64),
        own=own,
        own_m=own_m,
        own_sd=own_sd,
        kind_m=kind_m,
        n_reports=ev.n_reports.astype(np.int64),
        n_independent=ev.n_independent.astype(np.int64),
        base_rate=0.5 if config.base_rate is None else float(config.base_rate),
        copy_weight=float(config.copy_weight),
    )


def _is_fixed(spec: Any) -> bool:
    return isinstance(spec, int | float) and not isinstance(spec, bool)


def _reliability(data: ModelData, config: Mapping[str, Any], name: str, j: int):
    """Logit reliability per source (non-centred), pooled within kind unless an own prior."""
    mu = pm.Normal(f"mu_{name}", mu=data.kind_m[j], sigma=config["kind_mean_sd"], dims="kind")
    sd = pm.HalfNormal(f"sigma_{name}", sigma=config["kind_sd_scale"], dims="kind")
    z = pm.Normal(f"z_{name}", 0.0, 1.0, dims="source")
    pooled = mu[data.src_kind] + sd[data.src_kind] * z
    own = data.own_m[j] + data.own_sd[j] * z
    lam = pm.Deterministic(f"logit_{name}", pt.where(data.own[j], own, pooled), dims="source")
    pm.Deterministic(name, pt.sigmoid(lam), dims="source")
    return lam


def _scalar(name: str, spec: Any, dist: str):
    if _is_fixed(spec):
        # recorded as a deterministic so that every fit reports the value it used
        return pm.Deterministic(name, pt.constant(float(spec)))
    if dist == "normal":
        return pm.Normal(name, mu=spec["mu"], sigma=spec["sigma"])
    return pm.Beta(name, alpha=spec["alpha"], beta=spec["beta"])


def _prior_logodds(data: ModelData, config: Mapping[str, Any]):
    base = _scalar("base_rate", config["base_rate"], "beta")
    lo = pt.as_tensor_variable(data.lo_fixed) + data.use_base * pt.log(base / (1.0 - base))
    if data.sig_claim.size:
        sd, center = config["signal_effect_sd"], data.sig_center
        effect = (
            pm.Normal("signal_effect", mu=center, sigma=sd, dims="signal_kind")
            if sd > 0
            else pm.Deterministic(
                "signal_effect", pt.as_tensor_variable(center), dims="signal_kind"
            )
        )
        lo = pt.inc_subtensor(lo[data.sig_claim], data.sig_dir * effect[data.sig_kind])
    return lo


def _group_logsumexp(x, group_index: np.ndarray, n_claims: int):
    """``log(1 + sum(exp(x[c]) for c in group))`` per row of the padded ``group_index``."""
    member = group_index < n_claims
    # padding is masked with where(), not gathered from a -inf constant; the leading zero
    # column is the "none true" state, so the row maximum is finite and >= 0
    values = pt.where(member, x[np.where(member, group_index, 0)], -np.inf)
    full = pt.concatenate([pt.zeros((group_index.shape[0], 1)), values], axis=1)
    # max-shifted log-sum-exp. Not pm.math.logsumexp: its isinf() switch is rewritten into
    # a branch exp(x) that overflows for strong evidence and turns the gradient into NaN.
    # The result does not depend on the shift, so no gradient flows through it.
    shift = disconnected_grad(pt.max(full, axis=1, keepdims=True))
    return (shift + pt.log(pt.sum(pt.exp(full - shift), axis=1, keepdims=True)))[:, 0]


def build_model(data: ModelData, config: Mapping[str, Any], *, mutable_stances: bool = False):
    """Build the marginalized joint model as a ``pm.Model``.

    Parameters
    ----------
    data : ModelData
        From :func:`encode_case`.
    config : mapping
        A resolved model configuration (see ``belief.model.estimator.DEFAULT_MODEL_CONFIG``): the
        ``base_rate`` / ``alignment`` / ``copy_weight`` entries are numbers (fixed) or prior
        parameter mappings.
    mutable_stances : bool
        Hold the stances (1 = confirm, 0 = deny) in ``pm.Data("stance")`` so that the same
        compiled model can be refitted to new stances with ``pm.set_data`` (used by SBC).

    Returns
    -------
    pymc.Model
        Free variables ``base_rate``, ``mu_*``/``sigma_*``/``z_*`` (reliability), ``alignment``,
        ``signal_effect``, ``copy_weight`` (those not fixed); the evidence as the potential
        ``evidence``; deterministics ``sensitivity``, ``specificity`` and ``p_true``.

    Examples
    --------
    >>> from belief.model.estimator import DEFAULT_MODEL_CONFIG, prepare
    >>> from belief.data.types import Claim, Report
    >>> case = Case((Claim("c1"),), reports=(Report("c1", "s1", "confirm"),))
    >>> model = build_model(*prepare(case, DEFAULT_MODEL_CONFIG))
    >>> sorted(model.named_vars_to_dims["p_true"])
    ['claim']
    """
    n_claims = len(data.claim_ids)
    with pm.Model(coords=data.coords) as model:
        lo = _prior_logodds(data, config)
        lam_sens = _reliability(data, config, "sensitivity", 0)
        lam_spec = _reliability(data, config, "specificity", 1)
        align = _scalar("alignment", config["alignment"], "normal")
        copy_w = data.copy_weight if config["copy_weight"] is None else config["copy_weight"]
        weight_copy = _scalar("copy_weight", copy_w, "beta")
        stance = data.r_confirm
        if mutable_stances:
            model.add_coord("report", np.arange(data.r_claim.size))
            stance = pm.Data("stance", data.r_confirm.astype(float), dims="report")
        sign = 2.0 * stance - 1.0
        x1 = lam_sens[data.r_source] + align * data.r_align
        x0 = lam_spec[data.r_source] - align * data.r_align
        # log sigmoid(u) = -softplus(-u): stable for large |u|
        w = pt.where(data.r_copy, weight_copy, 1.0)
        lp1 = -w * pt.softplus(-sign * x1)
        lp0 = -w * pt.softplus(sign * x0)
        ll1 = pt.inc_subtensor(pt.zeros(n_claims)[data.r_claim], lp1)
        ll0 = pt.inc_subtensor(pt.zeros(n_claims)[data.r_claim], lp0)
        d = lo + ll1 - ll0
        lse_d = _group_logsumexp(d, data.group_index, n_claims)
        lse_lo = _group_logsumexp(lo, data.group_index, n_claims)
        pm.Potential("evidence", ll0.sum() + lse_d.sum() - lse_lo.sum())
        pm.Deterministic("p_true", pt.exp(d - lse_d[data.claim_group]), dims="claim")
    return model
