"""The EM of :func:`belief.calibration.calibrate.fit_em`: encoding, E-step, M-step and the
iteration.

The model and the algorithm are described in :mod:`belief.calibration.calibrate`. A case is encoded
once into :class:`_Data` (flat arrays over claims and informative reports); :func:`_run_em` then
alternates the E-step (claim posteriors), the per-source reliability updates and the fits of
the shared parameters in :mod:`belief.calibration._hyper` (side effect, base rate and signal
effects, kind Beta priors), tracking the log posterior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit, logit

from belief.calibration._hyper import _SD_EFFECT, _align_update, _group_lse, _Hyper, _prior_update
from belief.core.compiler import compile_case, has_own_prior, source_prior
from belief.data.types import Case, Source
from belief.exceptions import ValidationError
from belief.priors.config import Config


@dataclass(frozen=True)
class _Data:
    """A case encoded for EM; ``r_*`` describe informative reports with weight > 0."""

    claim_ids: list[str]
    truth: np.ndarray  # 1.0 / 0.0 / nan
    offset: np.ndarray  # prior log-odds without the learned base rate and signal effects
    use_base: np.ndarray
    X: np.ndarray  # (claims, signal kinds): summed directions of the learned signals
    signal_kinds: list[str]
    gid: np.ndarray  # group index of each claim (an ungrouped claim is its own group)
    n_groups: int
    r_claim: np.ndarray
    r_source: np.ndarray
    r_confirm: np.ndarray
    r_weight: np.ndarray
    r_align: np.ndarray
    source_ids: list[str]
    source_kind: list[str | None]
    own: np.ndarray  # (2, sources): sensitivity / specificity prior is the source's own
    own_ab: np.ndarray  # (4, sources): alpha, beta of sensitivity then of specificity


def _encode(case: Case, config: Config) -> _Data:
    index = {c: i for i, c in enumerate(case.claim_ids)}
    n = len(index)
    truth, use_base, offset, X, kinds = _encode_claims(case, index)
    gid = _group_ids(case)
    _check_groups(case, truth, gid)
    smap = case.source_map()
    ev = compile_case(case, config)  # the one compiler's reports (copies, sides, weights)
    assert ev.channel_source is not None and ev.r_align is not None
    r_src = [ev.channel_source[k] for k in ev.r_source]
    source_ids = sorted(set(r_src))
    sindex = {s: i for i, s in enumerate(source_ids)}
    own, own_ab = _source_priors(source_ids, smap, config)
    return _Data(
        claim_ids=list(case.claim_ids),
        truth=truth,
        offset=offset,
        use_base=use_base,
        X=X,
        signal_kinds=kinds,
        gid=np.asarray(gid, dtype=np.int64),
        n_groups=int(gid.max()) + 1 if n else 0,
        r_claim=ev.r_claim.astype(np.int64),
        r_source=np.array([sindex[s] for s in r_src], dtype=np.int64),
        r_confirm=ev.r_confirm.astype(bool),
        r_weight=ev.r_weight.astype(float),
        r_align=ev.r_align.astype(float),
        source_ids=source_ids,
        source_kind=[smap[s].kind for s in source_ids],
        own=own,
        own_ab=own_ab,
    )


def _encode_claims(
    case: Case, index: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Truths, base-rate use, fixed prior log-odds, learned-signal directions and their kinds."""
    truth = np.array([np.nan if c.truth is None else float(c.truth) for c in case.claims])
    use_base = np.array([c.prior is None for c in case.claims], dtype=bool)
    offset = np.array([0.0 if c.prior is None else logit(c.prior) for c in case.claims])
    learned = [s for s in case.signals if s.likelihood_ratio is None]
    kinds = sorted({s.kind for s in learned})
    X = np.zeros((len(index), len(kinds)))
    for s in case.signals:
        if s.likelihood_ratio is not None:
            offset[index[s.claim_id]] += math.log(s.likelihood_ratio)
        else:
            X[index[s.claim_id], kinds.index(s.kind)] += s.direction
    return truth, use_base, offset, X, kinds


def _group_ids(case: Case) -> np.ndarray:
    """Group index of each claim, in order of first appearance; an ungrouped claim is alone."""
    labels = [
        ("g", c.group) if c.group is not None else ("c", i) for i, c in enumerate(case.claims)
    ]
    if not labels:
        return np.zeros(0)
    return pd.factorize(pd.Series(labels, dtype=object))[0].astype(np.int64)


def _source_priors(
    source_ids: list[str], smap: Mapping[str, Source], config: Config
) -> tuple[np.ndarray, np.ndarray]:
    """Per source: whether each rate's prior is its own, and the alpha/beta of both priors."""
    own = np.zeros((2, len(source_ids)), dtype=bool)
    own_ab = np.ones((4, len(source_ids)))
    for i, sid in enumerate(source_ids):
        src = smap[sid]
        sp = source_prior(src, config)
        own[:, i] = [has_own_prior(src, f, config) for f in ("sensitivity", "specificity")]
        own_ab[:, i] = (
            sp.sensitivity.alpha,
            sp.sensitivity.beta,
            sp.specificity.alpha,
            sp.specificity.beta,
        )
    return own, own_ab


def _check_groups(case: Case, truth: np.ndarray, gid: np.ndarray) -> None:
    true_per_group = np.bincount(gid[truth == 1], minlength=int(gid.max(initial=-1)) + 1)
    if (true_per_group > 1).any():
        g = int(np.flatnonzero(true_per_group > 1)[0])
        ids = [c.claim_id for c, k in zip(case.claims, gid) if k == g and c.truth]
        group = case.claim(ids[0]).group
        raise ValidationError(
            f"claims {', '.join(ids)} share group {group!r} but are all resolved true; "
            "at most one claim of a group can be true"
        )


def _estep(d: _Data, D: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior P(true) per claim given the evidence log-odds ``D``, and the log evidence term.

    A claim resolved false is excluded from its group's states; a claim resolved true fixes
    its group's state. The second value is ``sum_g log sum_{allowed states} exp(D_state)``.
    """
    known = ~np.isnan(d.truth)
    is_true = known & (d.truth == 1)
    has_true = np.zeros(d.n_groups, dtype=bool)
    has_true[d.gid[is_true]] = True
    Dm = np.where((known & (d.truth == 0)) | has_true[d.gid], -np.inf, D)
    lse, _ = _group_lse(Dm, d.gid, d.n_groups)
    q = np.exp(Dm - lse[d.gid])
    q[known] = d.truth[known]
    fixed = np.bincount(d.gid[is_true], D[is_true], d.n_groups)
    return q, float(np.where(has_true, fixed, lse).sum())


def _report_logliks(
    d: _Data, lam: np.ndarray, phi: np.ndarray, a: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-report log P(stance | T=1) and log P(stance | T=0), weighted."""
    sign = np.where(d.r_confirm, 1.0, -1.0)
    x1 = lam[d.r_source] + a * d.r_align
    x0 = phi[d.r_source] - a * d.r_align
    return d.r_weight * log_expit(sign * x1), d.r_weight * log_expit(-sign * x0)


def _rate_update(
    d: _Data, t: np.ndarray, y: np.ndarray, off: np.ndarray, ab: np.ndarray, lam0: np.ndarray
) -> np.ndarray:
    """MAP of logit reliability per source: soft-labelled logistic regression + Beta prior.

    ``t``: weight of each report for this rate (``w q`` or ``w (1 - q)``); ``y``: 1 where the
    report is correct under that truth; ``off``: the alignment offset. Concave in each
    ``lambda_s``: Newton from the conjugate closed form (exact when ``off == 0``).
    """
    alpha, beta = ab
    n_src = len(d.source_ids)
    k, n = np.bincount(d.r_source, t * y, n_src), np.bincount(d.r_source, t, n_src)
    lam = logit((alpha + k) / (alpha + beta + n))
    if not np.any(off):
        return lam
    lam = lam0 if lam0 is not None else lam
    for _ in range(50):
        p = expit(lam[d.r_source] + off)
        pr = expit(lam)
        g = np.bincount(d.r_source, t * (y - p), n_src) + alpha - (alpha + beta) * pr
        h = np.bincount(d.r_source, t * p * (1 - p), n_src) + (alpha + beta) * pr * (1 - pr)
        step = np.clip(g / h, -2.0, 2.0)
        lam = lam + step
        if np.max(np.abs(step), initial=0.0) < 1e-10:
            break
    return lam


def _counts(d: _Data, q: np.ndarray) -> np.ndarray:
    """Expected counts per source: (confirms if true, reports if true, denies if false, ...)."""
    n_src, q_r, w, y = len(d.source_ids), q[d.r_claim], d.r_weight, d.r_confirm
    return np.array(
        [
            np.bincount(d.r_source, w * q_r * y, n_src),
            np.bincount(d.r_source, w * q_r, n_src),
            np.bincount(d.r_source, w * (1 - q_r) * ~y, n_src),
            np.bincount(d.r_source, w * (1 - q_r), n_src),
        ]
    )


def _theta0(d: _Data, config: Config) -> np.ndarray:
    effects = [config.signal_effects.get(k, config.default_signal_effect) for k in d.signal_kinds]
    return np.r_[
        logit(0.5 if config.base_rate is None else config.base_rate),
        np.asarray(effects, dtype=float),
    ]


def _evidence(
    d: _Data, lam: np.ndarray, phi: np.ndarray, a: float, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prior log-odds ``ell`` and summed report log-likelihoods under T=0 and T=1."""
    l1, l0 = _report_logliks(d, lam, phi, a)
    n = len(d.claim_ids)
    ell = d.offset + d.use_base * theta[0] + d.X @ theta[1:]
    return ell, np.bincount(d.r_claim, l1, n), np.bincount(d.r_claim, l0, n)


def _log_posterior(
    d: _Data,
    ell: np.ndarray,
    L0: np.ndarray,
    log_ev: float,
    lam: np.ndarray,
    phi: np.ndarray,
    a: float,
    theta: np.ndarray,
    ab: np.ndarray,
) -> float:
    """Observed-data log-likelihood plus the log priors of every parameter EM maximizes."""
    lse, _ = _group_lse(ell, d.gid, d.n_groups)
    rel = ab[0] * log_expit(lam) + ab[1] * log_expit(-lam)
    rel += ab[2] * log_expit(phi) + ab[3] * log_expit(-phi)
    prior = -(a**2 + theta[1:] @ theta[1:]) / (2 * _SD_EFFECT**2)
    prior += (log_expit(theta[0]) + log_expit(-theta[0])) if d.use_base.any() else 0.0
    return float(L0.sum() + log_ev - lse.sum() + rel.sum() + prior)


class _Params(NamedTuple):
    """What EM maximizes: logit sensitivities and specificities, side effect, (base, effects)."""

    lam: np.ndarray
    phi: np.ndarray
    a: float
    theta: np.ndarray

    def flat(self) -> np.ndarray:
        return np.r_[self.lam, self.phi, self.a, self.theta]


def _run_em(
    d: _Data, hyper: _Hyper, config: Config, max_iter: int, tol: float, fit_hyper: bool
) -> tuple[_Params, np.ndarray, int, bool, list[float]]:
    """Alternate E- and M-steps until nothing moves more than ``tol``, or ``max_iter`` times.

    Returns the parameters, the (4, sources) prior alpha/beta array, the number of iterations,
    whether EM converged, and the log posterior at the start of each iteration.
    """
    ab = hyper.arrays()
    lam, phi = logit(ab[0] / (ab[0] + ab[1])), logit(ab[2] / (ab[2] + ab[3]))
    p, q_old, history = _Params(lam, phi, 0.0, _theta0(d, config)), None, []
    it = 0
    for it in range(1, max_iter + 1):
        ell, L1, L0 = _evidence(d, *p)
        q, log_ev = _estep(d, ell + L1 - L0)
        history.append(_log_posterior(d, ell, L0, log_ev, *p, ab))
        old, p = p, _m_step(d, q, p, ab)
        if fit_hyper:
            hyper.refit(_counts(d, q))
            ab = hyper.arrays()
        delta = np.max(np.abs(p.flat() - old.flat()), initial=0.0)
        if q_old is not None and max(np.max(np.abs(q - q_old), initial=0.0), delta) < tol:
            return p, ab, it, True, history
        q_old = q
    return p, ab, it, False, history


def _m_step(d: _Data, q: np.ndarray, p: _Params, ab: np.ndarray) -> _Params:
    """One round of conditional maximization: rates, then side effect, then base and effects."""
    lam, phi, a, theta = p
    q_r = q[d.r_claim]
    lam = _rate_update(d, d.r_weight * q_r, d.r_confirm, a * d.r_align, ab[:2], lam)
    phi = _rate_update(d, d.r_weight * (1 - q_r), ~d.r_confirm, -a * d.r_align, ab[2:], phi)
    if np.any(d.r_align):
        a = _align_update(d, q_r, lam, phi, a)
    return _Params(lam, phi, a, _prior_update(d, q, theta))
