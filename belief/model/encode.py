"""A :class:`~belief.data.types.Case` encoded to arrays for the joint model (numpy only).

:func:`encode_case` applies the one compiler (:func:`belief.core.compiler.compile_case`) and
indexes claims, sources, kinds, signals and informative reports by position; the PyMC graph
(:mod:`belief.model.graph`) is built from the resulting :class:`ModelData`. Nothing here imports
PyMC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import digamma, logit, polygamma

from belief.core.compiler import compile_case, has_own_prior, signal_logodds, source_prior
from belief.core.propensity import copy_propensity_levels
from belief.data.types import Case, Source
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, resolve_source_prior

__all__ = ["NO_KIND", "ModelData", "encode_case", "logit_normal"]

NO_KIND = "unknown"  #: kind label of sources without a ``kind``


@dataclass(frozen=True)
class ModelData:
    """A case encoded for the joint model (claims, sources and reports indexed by position).

    ``group_index`` is a (groups x max size) matrix of claim positions padded with
    ``n_claims``; the ``r_*`` arrays describe the informative reports that carry weight.
    Unattributed repeats (:mod:`belief.core.repeats`): ``r_earlier`` and ``r_same`` are each
    report's ``m`` and ``k`` (earlier reports on its claim by other sources, and how many of
    them share its stance); per source, ``copy_learned`` says whether its copy propensity is
    learned and ``copy_value`` gives it where it is fixed; per kind, ``copy_centre`` is the
    prior centre of the learned propensities.
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
    r_earlier: np.ndarray
    r_same: np.ndarray
    copy_learned: np.ndarray
    copy_value: np.ndarray
    copy_centre: np.ndarray
    kind_mean_sd: float = 0.75

    @property
    def r_mixture(self) -> np.ndarray:
        """The reports that may be unattributed repeats: earlier reports on their claim by
        other sources, and a source whose propensity is learned or fixed above 0."""
        src = self.r_source
        return (self.r_earlier > 0) & (self.copy_learned[src] | (self.copy_value[src] > 0))

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


def _copy_arrays(
    case: Case, source_ids: list[str], kinds: list[str], config: Config, mode: str, mean: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per source: learned or not, and the configured value; per kind: the prior centre.

    ``mode`` "learn": learned unless the config fixes it (the source's own
    ``source_copy_propensity``, or its kind's ``copy_propensity`` set to 0); "fixed": as
    configured. A kind's centre is its configured propensity, else the configured default,
    else ``mean`` (when those are 0).
    """
    value, level = copy_propensity_levels(source_ids, case.sources, config)
    if mode == "learn":
        learned = (level == 0) | ((level == 1) & (value > 0))
    else:
        learned = np.zeros(len(source_ids), dtype=bool)
    default = float(config.default_copy_propensity) or mean
    centre = np.array([float(config.copy_propensity.get(k, 0.0)) or default for k in kinds])
    return learned, value, centre


def encode_case(
    case: Case,
    config: Config,
    *,
    keep_copies: bool,
    copy_propensity: str = "fixed",
    copy_mean: float = 0.05,
    kind_mean_sd: float = 0.75,
) -> ModelData:
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
    copy_propensity : {"fixed", "learn"}
        Whether the copy propensities the config does not fix are learned (model_config
        ``copy_propensity``), and ``copy_mean`` the prior centre of those whose kind and
        default are 0.
    kind_mean_sd : float
        model_config ``kind_mean_sd`` (the normalizing constant of the kinds' skill prior is
        data of the model, :func:`belief.model.graph.data_values`).

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
    # the one compiler's reports, with the repeat rule's shares
    ev = compile_case(case, config, keep_copies=keep_copies, repeat_shares=True)
    assert ev.r_earlier is not None and ev.r_same is not None
    assert ev.channel_source is not None and ev.r_align is not None and ev.r_copy is not None
    source_ids = sorted(smap)
    sindex = {s: i for i, s in enumerate(source_ids)}
    source_kind = tuple(smap[s].kind or NO_KIND for s in source_ids)
    kinds = sorted(set(source_kind))
    own, own_m, own_sd, kind_m = _source_arrays(case, source_ids, kinds, config)
    copy_learned, copy_value, copy_centre = _copy_arrays(
        case, source_ids, kinds, config, copy_propensity, copy_mean
    )
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
        r_earlier=ev.r_earlier.astype(np.int64),
        r_same=ev.r_same.astype(np.int64),
        copy_learned=copy_learned,
        copy_value=copy_value,
        copy_centre=copy_centre,
        kind_mean_sd=float(kind_mean_sd),
    )
