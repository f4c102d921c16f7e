r"""The joint model's graph: a PyMC model of an encoded case.

:func:`~belief.model.encode.encode_case` (numpy only; re-exported here) turns a case into a
:class:`~belief.model.encode.ModelData`; :func:`build_model` turns that into a ``pm.Model``
whose evidence sits in ``pm.Data`` containers (:func:`data_values`), so that one built (and
compiled) model serves every case of the same shape (:func:`shape_key`, :func:`set_data`;
:mod:`belief.model.cache` keeps them). Nothing here touches an estimator;
:mod:`belief.model.estimator` orchestrates.

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

and :math:`\sigma_k \sim \mathrm{HalfNormal}(\text{kind\_sd\_scale})`. The kind means are
parametrised by a *skill* :math:`\kappa_k = \mu^{sens}_k + \mu^{spec}_k` (logit sensitivity plus
logit specificity: 0 is chance, :math:`\kappa > 0` is sensitivity + specificity > 1) and a *bias*
:math:`\beta_k = (\mu^{sens}_k - \mu^{spec}_k) / 2` (a tendency to confirm). With :math:`\bar m_k`
the kind's default prior centre and :math:`s` = ``kind_mean_sd``, the prior is
:math:`\mu^{sens}_k \sim \mathcal N(\bar m^{sens}_k, s)`, :math:`\mu^{spec}_k \sim \mathcal N(\bar
m^{spec}_k, s)` *conditioned on* :math:`\kappa_k` having the sign of its centre
:math:`\bar m^{sens}_k + \bar m^{spec}_k` (positive for every built-in kind): ``kind_skill``
:math:`= |\kappa_k| \sim \mathcal N^+(|\bar m^{sens}_k + \bar m^{spec}_k|, \sqrt 2 s)` (truncated
at 0) and ``kind_bias`` :math:`\sim \mathcal N((\bar m^{sens}_k - \bar m^{spec}_k)/2, s/\sqrt 2)`.
This identification constraint rules out the mirror solution of a case without truths ("every
claim flipped, every kind a liar": :math:`\kappa \to -\kappa`, :math:`\pi \to 1 - \pi`), in which
chains used to land (label switching; :func:`belief.model.diagnostics.check_orientation` detects
it). Single sources may still be worse than chance. ``model_config={"constrain_skill": False}``
gives the unconstrained prior (independent normals for the two kind means). A Beta(a, b)
prior enters on the logit scale as the normal with the same first two moments, which are known
exactly:
:math:`m = \psi(a) - \psi(b)`, :math:`\tau^2 = \psi_1(a) + \psi_1(b)` (digamma, trigamma).

An informative report of source :math:`s` on claim :math:`c` with side alignment
:math:`al \in \{-1, 0, 1\}` and side effect :math:`a` has
:math:`P(\text{confirm} \mid T=1) = \sigma(\lambda^{sens}_s + a\,al)` and
:math:`P(\text{deny} \mid T=0) = \sigma(\lambda^{spec}_s - a\,al)`; its log-likelihood enters with
weight 1 (originals, and the stand-in copy of a silent original) or the copy weight.

Unattributed repeats (circular reporting, :mod:`belief.core.repeats`). A report of source
:math:`s` with :math:`m > 0` earlier reports on its claim by other sources, :math:`k` of them
with its stance (:func:`belief.core.repeats.report_shares`: the compiler's order and rules; a
declared copy is never one), has the mixture likelihood

.. math::

    P(x \mid T) = \pi_s \frac{k}{m} + (1 - \pi_s)\, P_{\text{indep}}(x \mid T),

a repeat of one of the earlier stances (no evidence about :math:`T`) with the source's *copy
propensity* :math:`\pi_s`, independent evidence otherwise; its log enters :math:`L^t_c` like any
report's. With ``model_config["copy_propensity"] = "learn"`` (the default),
:math:`\operatorname{logit} \pi_s = \nu_k + \text{source\_sd}\, z^\pi_s`,
:math:`z^\pi_s \sim \mathcal N(0, 1)`, :math:`\nu_k \sim \mathcal N(\operatorname{logit}
\bar\pi_k, \text{kind\_sd})` (``copy_prior``), :math:`\bar\pi_k` the config's
``copy_propensity[kind]``, else its ``default_copy_propensity``, else ``copy_prior["mean"]``;
a source with its own ``source_copy_propensity`` (the user's or calibrated) and a kind whose
configured propensity is 0 keep the configured value, as every source does with ``"fixed"``.
The mixture is evaluated once per distinct (cell, :math:`k/m`), not per report.

Truth is marginalized: with :math:`L^t_c` the summed log-likelihoods under :math:`T_c = t` and
:math:`D_c = \ell_c + L^1_c - L^0_c`, a group :math:`G` (an ungrouped claim is a group of one;
at most one member true, :math:`P(T) \propto \prod_c e^{\ell_c T_c}`) contributes

.. math::

    \sum_{c \in G} L^0_c + \log\Bigl(1 + \sum_{c \in G} e^{D_c}\Bigr)
    - \log\Bigl(1 + \sum_{c \in G} e^{\ell_c}\Bigr),
    \qquad P(T_c = 1 \mid \theta, \text{data}) = \frac{e^{D_c}}{1 + \sum_{j \in G} e^{D_j}}.

Evaluation: a report's log-likelihood depends on the parameters only through its *cell* (source,
alignment, stance), so the log-sigmoids are computed once per cell (:math:`6 \times` sources of
them) and gathered per report; on 10,000 reports from 60 sources this is 30 times fewer
transcendental functions per gradient than one per report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from belief.model.encode import NO_KIND, ModelData, encode_case, logit_normal
from belief.model.values import _pack, _unpack, data_values, packed_values, set_data, shape_key

__all__ = [
    "NO_KIND",
    "ModelData",
    "build_model",
    "data_values",
    "encode_case",
    "logit_normal",
    "packed_values",
    "set_data",
    "shape_key",
]

_ALIGN = np.array([-1.0, 0.0, 1.0])  # the alignment of the three cells of a source


def _is_fixed(spec: Any) -> bool:
    return isinstance(spec, int | float) and not isinstance(spec, bool)


def _scalar(name: str, spec: Any, dist: str):
    if _is_fixed(spec):
        # recorded as a deterministic so that every fit reports the value it used
        return pm.Deterministic(name, pt.constant(float(spec)))
    if dist == "normal":
        return pm.Normal(name, mu=spec["mu"], sigma=spec["sigma"])
    return pm.Beta(name, alpha=spec["alpha"], beta=spec["beta"])


def _prior_logodds(v: Mapping[str, Any], config: Mapping[str, Any]):
    base = _scalar("base_rate", config["base_rate"], "beta")
    lo = v["lo_fixed"] + v["use_base"] * pt.log(base / (1.0 - base))
    if "sig_claim" in v:
        sd, center = config["signal_effect_sd"], v["sig_center"]
        effect = (
            pm.Normal("signal_effect", mu=center, sigma=sd, dims="signal_kind")
            if sd > 0
            else pm.Deterministic("signal_effect", center, dims="signal_kind")
        )
        lo = pt.inc_subtensor(lo[v["sig_claim"]], v["sig_dir"] * effect[v["sig_kind"]])
    return lo


def _positive_normal_logp(value, mu, sigma, lognorm):
    """Log density of ``Normal(mu, sigma)`` truncated to ``[0, inf)``; ``lognorm`` is
    ``log P(X >= 0)`` (:func:`data_values`' ``skill_lognorm``)."""
    logp = -0.5 * ((value - mu) / sigma) ** 2 - pt.log(sigma) - 0.5 * np.log(2.0 * np.pi)
    return pt.switch(pt.ge(value, 0.0), logp - lognorm, -np.inf)


def _positive_normal_random(mu, sigma, lognorm, rng=None, size=None):
    """Draws of :func:`_positive_normal_logp`'s distribution (prior predictive)."""
    from scipy.stats import truncnorm

    mu, sigma = np.asarray(mu, float), np.asarray(sigma, float)
    return truncnorm.rvs(-mu / sigma, np.inf, loc=mu, scale=sigma, size=size, random_state=rng)


def _reliability(v: Mapping[str, Any], config: Mapping[str, Any], n_kinds: int):
    """Logit sensitivity then specificity of every source (flat), and the kind parameters.

    Kind means from skill (sign-constrained) and bias; sources non-centred, pooled within kind
    unless they have their own prior.
    """
    sd = float(config["kind_mean_sd"])
    centre = v["skill_centre"]
    if config.get("constrain_skill", True):
        # the normal truncated at 0, with its normalizing constant as data (``skill_lognorm``):
        # pm.TruncatedNormal computes it in the graph with erfcx, which numba cannot cache
        # (belief.model.numba_cache); the same density and log transform
        skill = pm.CustomDist(
            "kind_skill", pt.abs(centre), np.sqrt(2.0) * sd, v["skill_lognorm"], dims="kind",
            logp=_positive_normal_logp, random=_positive_normal_random,
            default_transform=pm.distributions.transforms.log,
            initval=pt.maximum(pt.abs(centre), 0.1),  # the prior centre, not PyMC's 1.0
        )  # fmt: skip
        half = pt.switch(pt.ge(centre, 0.0), skill, -skill) / 2.0
    else:  # the unconstrained prior: mu_sens, mu_spec independent normals
        half = pm.Normal("kind_skill", mu=centre, sigma=np.sqrt(2.0) * sd, dims="kind") / 2.0
    bias = pm.Normal("kind_bias", mu=v["bias_centre"], sigma=sd / np.sqrt(2.0), dims="kind")
    mu = pt.concatenate([bias + half, half - bias])
    sigma = pm.HalfNormal("sigma", sigma=config["kind_sd_scale"], dims=("rate", "kind"))
    z = pm.Normal("z", 0.0, 1.0, dims=("rate", "source")).ravel()
    k = v["rel_kind"]
    lam = pt.where(v["own"] > 0.5, v["own_m"] + v["own_sd"] * z, mu[k] + sigma.ravel()[k] * z)
    for j, rate in enumerate(("sensitivity", "specificity")):
        pm.Deterministic(f"mu_{rate}", mu[j * n_kinds : (j + 1) * n_kinds], dims="kind")
        pm.Deterministic(f"sigma_{rate}", sigma[j], dims="kind")
    return lam


def _group_logsumexp(x, v: Mapping[str, Any]):
    """``log(1 + sum(exp(x[c]) for c in group))`` per block and group (``group_gather``)."""
    # padding is masked with where(), not gathered from a -inf constant
    values = pt.where(v["group_member"] > 0.5, x[v["group_gather"]], -np.inf)
    # max-shifted log-sum-exp with the "none true" state (0) included, so the shift is finite.
    # Not pm.math.logsumexp: its isinf() switch is rewritten into a branch exp(x) that
    # overflows for strong evidence and turns the gradient into NaN. The result does not
    # depend on the shift, so no gradient flows through it.
    shift = disconnected_grad(pt.maximum(pt.max(values, axis=-1), 0.0))
    return shift + pt.log(pt.exp(-shift) + pt.sum(pt.exp(values - shift[..., None]), axis=-1))


def _logaddexp(a, b):
    """``log(exp(a) + exp(b))``, stable (pytensor's ``logaddexp`` is the naive formula)."""
    return pt.maximum(a, b) + pt.log1p(pt.exp(-pt.abs(a - b)))


def _copy_propensity(v: Mapping[str, Any], config: Mapping[str, Any], n_sources: int):
    """log pi and log(1 - pi) per source: learned (pooled by kind) or fixed by the config."""
    log_pi, log1m_pi, pi = v["copy_logp"], v["copy_log1mp"], v["copy_value"]
    if "copy_learn" in v:
        prior = config["copy_prior"]
        mu = pm.Normal("copy_kind_logit", mu=v["copy_centre"], sigma=prior["kind_sd"], dims="kind")
        z = pm.Normal("copy_z", 0.0, 1.0, dims="source")
        lg = mu[v["rel_kind"][:n_sources]] + prior["source_sd"] * z
        learn = v["copy_learn"] > 0.5
        log_pi = pt.where(learn, -pt.softplus(-lg), log_pi)
        log1m_pi = pt.where(learn, -pt.softplus(lg), log1m_pi)
        pi = pt.where(learn, pt.sigmoid(lg), pi)
        pm.Deterministic("copy_propensity_kind", pt.sigmoid(mu), dims="kind")
    pm.Deterministic("copy_propensity", pi, dims="source")
    return log_pi, log1m_pi


def _repeat_terms(v: Mapping[str, Any], config: Mapping[str, Any], table0, ratio, n_sources):
    """Per unit of the repeat mixture: ``log(pi q + (1 - pi) P(x | T))`` for T = 0, 1."""
    log_pi, log1m_pi = _copy_propensity(v, config, n_sources)
    cell = v["u_cell"]
    # the source of each cell (3 alignments per source, deny then confirm cells)
    src = pt.as_tensor(np.tile(np.repeat(np.arange(n_sources), 3), 2))[cell]
    repeat = log_pi[src] + v["u_logq"]
    indep0 = log1m_pi[src] + table0[cell]
    return _logaddexp(repeat, indep0), _logaddexp(repeat, indep0 + ratio[cell])


def _cell_tables(lam, align, n_sources: int):
    """Per cell (:func:`data_values`): log P(stance | T=0) and the log-likelihood ratio T=1:T=0."""
    sign = np.repeat([1.0, -1.0], n_sources)
    # y = [logit P(confirm | T=1); logit P(confirm | T=0)] per source and alignment, and
    # log P(deny | T) = log sigmoid(-y) = -softplus(y): stable for large |y|
    y = ((sign * lam)[:, None] + align * _ALIGN).ravel()
    log_deny = -pt.softplus(y)
    n = 3 * n_sources
    y1, y0, deny1, deny0 = y[:n], y[n:], log_deny[:n], log_deny[n:]
    ratio = deny1 - deny0
    return pt.concatenate([deny0, deny0 + y0]), pt.concatenate([ratio, ratio + y1 - y0])


def build_model(data: ModelData, config: Mapping[str, Any]):
    """Build the marginalized joint model as a ``pm.Model``.

    Parameters
    ----------
    data : ModelData
        From :func:`encode_case`; its arrays become ``pm.Data`` (:func:`data_values`, packed).
    config : mapping
        A resolved model configuration (see ``belief.model.estimator.DEFAULT_MODEL_CONFIG``): the
        ``base_rate`` / ``alignment`` / ``copy_weight`` entries are numbers (fixed) or prior
        parameter mappings.

    Returns
    -------
    pymc.Model
        Free variables ``base_rate``, ``kind_skill``, ``kind_bias``, ``sigma`` (dims ``rate``,
        ``kind``), ``z`` (``rate``, ``source``), ``alignment``, ``signal_effect``,
        ``copy_weight`` (those not fixed), ``copy_kind_logit`` (``kind``) and ``copy_z``
        (``source``) when copy propensities are learned; the evidence as the potential
        ``evidence``; deterministics ``mu_*`` and ``sigma_*`` (per kind), ``logit_*`` and
        ``sensitivity`` / ``specificity`` (per source), ``copy_propensity`` (per source, when
        some report may be a repeat) and ``copy_propensity_kind`` (per kind, when learned), and
        ``p_true``.

    Examples
    --------
    >>> from belief.model.estimator import DEFAULT_MODEL_CONFIG, prepare
    >>> from belief.data.types import Case, Claim, Report
    >>> case = Case((Claim("c1"),), reports=(Report("c1", "s1", "confirm"),))
    >>> model = build_model(*prepare(case, DEFAULT_MODEL_CONFIG))
    >>> sorted(model.named_vars_to_dims["p_true"])
    ['claim']
    """
    if float(config["kind_mean_sd"]) != data.kind_mean_sd:
        raise ValueError(
            f"kind_mean_sd: the data were encoded with {data.kind_mean_sd}, the configuration "
            f"says {config['kind_mean_sd']} (encode with prepare())"
        )
    values = data_values(data)
    n_sources, n_kinds = len(data.source_ids), len(data.kinds)
    coords = data.coords | {"rate": ["sensitivity", "specificity"]}
    with pm.Model(coords=coords) as model:
        # static shapes: fewer shape checks in the compiled graph (a cached model is only
        # refilled with data of its shape_key); unit_data's length follows the stances
        packed = {
            k: pm.Data(k, x) if k == "unit_data" else pm.Data(k, x, shape=x.shape)
            for k, x in _pack(values).items()
        }
        v = _unpack(packed, values)
        lo = _prior_logodds(v, config)
        lam = _reliability(v, config, n_kinds)
        align = _scalar("alignment", config["alignment"], "normal")
        weight_copy = _scalar("copy_weight", config["copy_weight"], "beta")
        table0, ratio = _cell_tables(lam, align, n_sources)
        # sum over reports of log P(stance | T=0), and per claim D = prior + log-likelihood ratio
        ll0 = pt.dot(v["o_count"], table0)
        d = pt.inc_subtensor(lo[v["o_claim"]], ratio[v["o_cell"]])
        if "c_cell" in v:
            ll0 = ll0 + weight_copy * pt.dot(v["c_count"], table0)
            d = pt.inc_subtensor(d[v["c_claim"]], weight_copy * ratio[v["c_cell"]])
        if "u_cell" in v:  # possible unattributed repeats: the mixture, per unit
            mix0, mix1 = _repeat_terms(v, config, table0, ratio, n_sources)
            ll0 = ll0 + pt.dot(v["u_count"], mix0)
            d = pt.inc_subtensor(d[v["m_claim"]], (mix1 - mix0)[v["m_unit"]])
        lse = _group_logsumexp(pt.concatenate([d, lo]), v)
        pm.Potential("evidence", ll0 + lse[0].sum() - lse[1].sum())
        pm.Deterministic("p_true", pt.exp(d - lse[0][v["claim_group"]]), dims="claim")
        for j, rate in enumerate(("sensitivity", "specificity")):
            logit_rate = lam[j * n_sources : (j + 1) * n_sources]
            pm.Deterministic(f"logit_{rate}", logit_rate, dims="source")
            pm.Deterministic(rate, pt.sigmoid(logit_rate), dims="source")
    return model
