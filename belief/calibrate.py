r"""Calibrate priors on resolved cases: empirical Bayes by EM (fast default) or full Bayes.

The model is the one every engine shares (:mod:`belief.exact`, :mod:`belief._graph`). Claim
*c* has prior log-odds :math:`\ell_c = \operatorname{logit}(\text{prior}_c \text{ or } \pi) +
\sum_g d_g e_{k(g)}` (an explicit likelihood ratio replaces :math:`d_g e_k`); within a group at
most one claim is true. An informative report of source *s* with side alignment
:math:`al \in \{-1, 0, 1\}` has :math:`P(\text{confirm} \mid T=1) = \sigma(\lambda_s + a\,al)`
and :math:`P(\text{deny} \mid T=0) = \sigma(\phi_s - a\,al)`, and weight 1 (or the copy weight).
Source reliabilities are drawn from their kind: :math:`\sigma(\lambda_s) \sim
\mathrm{Beta}(\alpha_k, \beta_k)` (alike for :math:`\phi_s`).

:func:`fit_em` alternates

* **E-step**: :math:`q_c = P(T_c = 1 \mid \text{data})` from the current parameters, exactly
  within each group; a resolved claim has :math:`q_c` = its truth (and fixes its group).
* **M-step** (conditional maximization, each step raising the expected log posterior):
  per-source MAP of :math:`\lambda_s, \phi_s` under the Beta prior on the logit scale, which
  without alignment is the conjugate posterior mean :math:`(\alpha + n^{ct})/(\alpha + \beta +
  n^{t})`; the alignment :math:`a` (Newton, :math:`\mathcal N(0, 2^2)` prior); the base rate and
  signal effects (Newton on the group-softmax prior, a Beta(1, 1) prior on :math:`\pi` and
  :math:`\mathcal N(0, 2^2)` on each effect: a shrunk MLE);
* **empirical Bayes step**: per kind (and over all sources, for the default), the Beta
  :math:`(\alpha_k, \beta_k)` maximizing the Beta-Binomial marginal likelihood of its sources'
  expected counts, with a weak hyperprior (logit mean :math:`\mathcal N(\cdot, 1.5^2)` around
  the configured kind default, log strength :math:`\mathcal N(\log 20, 1.5^2)`).

The stored reliability of a calibrated source is its Beta posterior: the kind prior plus its
expected counts (exact when all its claims are resolved and there is no alignment effect).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, expit, log_expit, logit

from belief._version import __version__
from belief.evidence import ExactConfig, effective_reports
from belief.exceptions import ConvergenceWarning, ValidationError
from belief.priors_file import CalibratedPriors
from belief.reliability import ADMIRALTY_PRIORS, BetaPrior, SourcePrior, resolve_source_prior
from belief.types import Case, Source

METHODS = ("em", "bayes")
BAYES_METHODS = ("advi", "mcmc")  #: joint-model fits that give posterior uncertainty
_SD_EFFECT = 2.0  # sd of the Normal priors of signal effects and the alignment effect
_HYPER_SD = 1.5  # sd of the hyperpriors of a kind's logit mean and log strength
_LOG_STRENGTH0 = math.log(20.0)


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


@dataclass(frozen=True)
class EMResult:
    """What :func:`fit_em` returns.

    Attributes
    ----------
    priors : CalibratedPriors
    posterior : DataFrame
        ``claim_id, p_true, truth``: :math:`q_c` for every claim (a resolved claim's truth).
    n_iter : int
    converged : bool
    log_posterior : list of float
        Observed-data log-likelihood plus log priors after each iteration.
    """

    priors: CalibratedPriors
    posterior: pd.DataFrame
    n_iter: int
    converged: bool
    log_posterior: list[float]


def _alignment(side: str | None, favors: str | None) -> int:
    return 0 if not (side and favors) else (1 if side == favors else -1)


def _has_own(src: Source, field: str, config: ExactConfig) -> bool:
    return (
        src.source_id in config.source_priors
        or getattr(src, field) is not None
        or src.strength is not None
        or src.admiralty in ADMIRALTY_PRIORS
    )


def _encode(case: Case, config: ExactConfig) -> _Data:
    index = {c: i for i, c in enumerate(case.claim_ids)}
    n = len(index)
    truth = np.array([np.nan if c.truth is None else float(c.truth) for c in case.claims])
    use_base = np.array([c.prior is None for c in case.claims], dtype=bool)
    offset = np.array([0.0 if c.prior is None else logit(c.prior) for c in case.claims])
    learned = [s for s in case.signals if s.likelihood_ratio is None]
    kinds = sorted({s.kind for s in learned})
    X = np.zeros((n, len(kinds)))
    for s in case.signals:
        if s.likelihood_ratio is not None:
            offset[index[s.claim_id]] += math.log(s.likelihood_ratio)
        else:
            X[index[s.claim_id], kinds.index(s.kind)] += s.direction
    labels = [
        ("g", c.group) if c.group is not None else ("c", i) for i, c in enumerate(case.claims)
    ]
    gid = pd.factorize(pd.Series(labels, dtype=object))[0].astype(np.int64) if n else np.zeros(0)
    _check_groups(case, truth, gid)
    smap, favors = case.source_map(), [c.favors for c in case.claims]
    rows = [
        (index[r.claim_id], src, r.stance == "confirm", w)
        for r, src, w in effective_reports(case.reports, config.copy_weight)
        if r.stance != "neutral" and w > 0
    ]
    source_ids = sorted({src for _, src, _, _ in rows})
    sindex = {s: i for i, s in enumerate(source_ids)}
    own = np.zeros((2, len(source_ids)), dtype=bool)
    own_ab = np.ones((4, len(source_ids)))
    for i, sid in enumerate(source_ids):
        src = smap[sid]
        sp = config.source_priors.get(sid) or resolve_source_prior(
            src, config.kind_priors, config.default_prior
        )
        own[:, i] = [_has_own(src, f, config) for f in ("sensitivity", "specificity")]
        own_ab[:, i] = (
            sp.sensitivity.alpha,
            sp.sensitivity.beta,
            sp.specificity.alpha,
            sp.specificity.beta,
        )
    return _Data(
        claim_ids=list(case.claim_ids),
        truth=truth,
        offset=offset,
        use_base=use_base,
        X=X,
        signal_kinds=kinds,
        gid=np.asarray(gid, dtype=np.int64),
        n_groups=int(gid.max()) + 1 if n else 0,
        r_claim=np.array([c for c, _, _, _ in rows], dtype=np.int64),
        r_source=np.array([sindex[s] for _, s, _, _ in rows], dtype=np.int64),
        r_confirm=np.array([y for _, _, y, _ in rows], dtype=bool),
        r_weight=np.array([w for _, _, _, w in rows], dtype=float),
        r_align=np.array([_alignment(smap[s].side, favors[c]) for c, s, _, _ in rows], float),
        source_ids=source_ids,
        source_kind=[smap[s].kind for s in source_ids],
        own=own,
        own_ab=own_ab,
    )


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


def _group_lse(v: np.ndarray, gid: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: ``log(1 + sum exp v)`` (the none-true state has log-weight 0), and the shift."""
    m = np.zeros(n_groups)
    np.maximum.at(m, gid, v)
    # max-shifted so that exp never overflows; -inf members contribute exp(-inf) = 0
    z = np.exp(-m) + np.bincount(gid, np.exp(v - m[gid]), n_groups)
    return m + np.log(z), m


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


def _align_update(d: _Data, q_r: np.ndarray, lam: np.ndarray, phi: np.ndarray, a: float) -> float:
    """Newton on the side-alignment effect, with a Normal(0, 2^2) prior."""
    al, w = d.r_align, d.r_weight
    s1 = np.where(d.r_confirm, 1.0, -1.0)  # +1: the report is right if the claim is true
    for _ in range(50):
        u1 = s1 * (lam[d.r_source] + a * al)
        u0 = -s1 * (phi[d.r_source] - a * al)
        p1, p0 = expit(u1), expit(u0)
        g = np.sum(w * q_r * s1 * al * (1 - p1)) + np.sum(w * (1 - q_r) * s1 * al * (1 - p0))
        g -= a / _SD_EFFECT**2
        h = np.sum(w * al**2 * (q_r * p1 * (1 - p1) + (1 - q_r) * p0 * (1 - p0)))
        step = float(np.clip(g / (h + 1 / _SD_EFFECT**2), -1.0, 1.0))
        a += step
        if abs(step) < 1e-10:
            break
    return a


def _prior_update(d: _Data, q: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Newton on (logit base rate, signal effects) under the group-softmax prior of truths.

    Priors: Beta(1, 1) on the base rate (on the logit scale: ``log_expit(b) + log_expit(-b)``)
    and Normal(0, 2^2) on each signal effect. Only parameters that some claim uses are moved.
    """
    active = np.r_[d.use_base.any(), np.ones(d.X.shape[1], dtype=bool)]
    if not active.any():
        return theta
    Z = np.column_stack([d.use_base.astype(float), d.X])[:, active]
    is_b = np.r_[True, np.zeros(d.X.shape[1], dtype=bool)][active]

    def objective(th: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        ell = d.offset + Z @ th
        lse, _ = _group_lse(ell, d.gid, d.n_groups)
        p = np.exp(ell - lse[d.gid])
        sb = expit(th)
        log_prior = np.where(is_b, log_expit(th) + log_expit(-th), -(th**2) / (2 * _SD_EFFECT**2))
        Zp = Z * p[:, None]
        S = np.zeros((d.n_groups, Z.shape[1]))
        np.add.at(S, d.gid, Zp)
        grad = Z.T @ (q - p) - np.where(is_b, 2 * sb - 1, th / _SD_EFFECT**2)
        curv = np.where(is_b, 2 * sb * (1 - sb), 1 / _SD_EFFECT**2)
        neg_hess = Z.T @ Zp - S.T @ S + np.diag(curv)
        return float(q @ ell - lse.sum() + log_prior.sum()), grad, neg_hess

    th = theta[active]
    val, grad, neg_hess = objective(th)
    for _ in range(50):
        step = np.linalg.solve(neg_hess, grad)
        t = 1.0
        while (new := objective(th + t * step))[0] < val - 1e-12 and t > 1e-6:
            t /= 2
        th = th + t * step
        val, grad, neg_hess = new
        if np.max(np.abs(t * step)) < 1e-10:
            break
    out = theta.copy()
    out[active] = th
    return out


def _fit_beta(k: np.ndarray, n: np.ndarray, center: BetaPrior, init: BetaPrior) -> BetaPrior:
    """Beta maximizing the Beta-Binomial marginal likelihood of soft counts ``k`` of ``n``.

    A weak hyperprior (logit mean around ``center``'s, log strength around log 20) keeps kinds
    with one or two sources, or unanimous ones, finite. Returns ``init`` if no source has data.
    """
    keep = n > 1e-12
    k, n = k[keep], n[keep]
    if not keep.any():
        return init
    m0, n_src = logit(center.mean), len(k)

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        mu, s = expit(x[0]), math.exp(x[1])
        a, b = mu * s, (1 - mu) * s
        ll = np.sum(betaln(a + k, b + n - k)) - n_src * betaln(a, b)
        da = np.sum(digamma(a + k) - digamma(a + b + n)) - n_src * (digamma(a) - digamma(a + b))
        db = np.sum(digamma(b + n - k) - digamma(a + b + n)) - n_src * (digamma(b) - digamma(a + b))
        dev = (x - [m0, _LOG_STRENGTH0]) / _HYPER_SD**2
        obj = -ll + 0.5 * float(np.sum((x - [m0, _LOG_STRENGTH0]) * dev))
        return obj, np.array([-s * mu * (1 - mu) * (da - db), -(a * da + b * db)]) + dev

    x = np.array([logit(init.mean), math.log(init.strength)])
    lo, hi = np.array([-10.0, math.log(0.5)]), np.array([10.0, math.log(1e5)])
    val, grad = f(x)
    for _ in range(100):  # Newton (finite-difference Hessian of the exact gradient) + Armijo
        h = np.column_stack([(f(x + e)[1] - f(x - e)[1]) / 2e-6 for e in np.eye(2) * 1e-6])
        w, v = np.linalg.eigh((h + h.T) / 2)
        step = -v @ ((v.T @ grad) / np.maximum(w, 1e-3))  # eigenvalue floor: a descent step
        step *= min(1.0, 2.0 / max(np.linalg.norm(step), 1e-300))
        t = 1.0
        while (new := f(np.clip(x + t * step, lo, hi)))[0] > val + 1e-4 * t * (grad @ step):
            t /= 2
            if t < 1e-8:
                break
        moved = np.clip(x + t * step, lo, hi) - x
        x, (val, grad) = x + moved, new
        if np.max(np.abs(moved)) < 1e-9:
            break
    return BetaPrior.from_mean_strength(float(expit(x[0])), float(math.exp(x[1])))


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


class _Hyper:
    """Kind-level Beta priors (and the all-source default), refitted by empirical Bayes."""

    def __init__(self, d: _Data, config: ExactConfig) -> None:
        self.d = d
        self.kinds = sorted({k for k in d.source_kind if k is not None})
        self.center = {
            k: resolve_source_prior(Source("_", kind=k), config.kind_priors, config.default_prior)
            for k in [*self.kinds, None]
        }
        self.prior = dict(self.center)
        self.members = {k: np.array([sk == k for sk in d.source_kind]) for k in self.kinds}
        self.members[None] = np.ones(len(d.source_ids), dtype=bool)

    def refit(self, counts: np.ndarray) -> None:
        for k, mask in self.members.items():
            c, p = self.center[k], self.prior[k]
            se = _fit_beta(counts[0, mask], counts[1, mask], c.sensitivity, p.sensitivity)
            sp = _fit_beta(counts[2, mask], counts[3, mask], c.specificity, p.specificity)
            self.prior[k] = SourcePrior(se, sp)

    def arrays(self) -> np.ndarray:
        """(4, sources): alpha/beta of sensitivity and of specificity priors per source."""
        pooled = (
            np.array(
                [
                    [b.alpha, b.beta, s.alpha, s.beta]
                    for b, s in (
                        (self.prior[k].sensitivity, self.prior[k].specificity)
                        for k in (k if k in self.prior else None for k in self.d.source_kind)
                    )
                ]
            )
            .reshape(-1, 4)
            .T
        )
        own = np.repeat(self.d.own, 2, axis=0)
        return np.where(own, self.d.own_ab, pooled)


def _theta0(d: _Data, config: ExactConfig) -> np.ndarray:
    effects = [config.signal_effects.get(k, config.default_signal_effect) for k in d.signal_kinds]
    return np.r_[logit(config.base_rate), np.asarray(effects, dtype=float)]


def _evidence(
    d: _Data, lam: np.ndarray, phi: np.ndarray, a: float, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prior log-odds ``ell`` and summed report log-likelihoods under T=0 and T=1."""
    l1, l0 = _report_logliks(d, lam, phi, a)
    n = len(d.claim_ids)
    ell = d.offset + d.use_base * theta[0] + d.X @ theta[1:]
    return ell, np.bincount(d.r_claim, l1, n), np.bincount(d.r_claim, l0, n)


def fit_em(
    case: Case,
    config: ExactConfig | None = None,
    *,
    max_iter: int = 500,
    tol: float = 1e-6,
    fit_hyper: bool = True,
) -> EMResult:
    """Empirical-Bayes EM calibration (see the module docstring), with its claim posteriors.

    Parameters
    ----------
    case : Case
        Claims with ``truth`` where resolved; unresolved claims inform reliability too.
    config : ExactConfig, optional
        Starting values and hyperprior centres; default ``ExactConfig.from_case(case)``.
    max_iter, tol : int, float
        Stop when no claim's P(true) and no parameter moves more than ``tol`` in an iteration.
    fit_hyper : bool
        Refit the kind Beta priors (empirical Bayes); ``False`` keeps the configured ones, and
        each iteration then never lowers ``log_posterior``.

    Returns
    -------
    EMResult

    Examples
    --------
    >>> from belief.types import Claim, Report
    >>> claims = tuple(Claim(f"c{i}", truth=i < 3) for i in range(4))
    >>> reports = tuple(Report(f"c{i}", "s", "confirm") for i in range(4))
    >>> flat = Source("s", sensitivity=0.5, specificity=0.5, strength=2.0)  # Beta(1, 1) priors
    >>> res = fit_em(Case(claims, (flat,), reports))
    >>> sp = res.priors.sources["s"]  # + 3 confirms of true claims, 1 confirm of a false one
    >>> sp.sensitivity, sp.specificity
    (BetaPrior(alpha=4.0, beta=1.0), BetaPrior(alpha=1.0, beta=2.0))
    """
    config = ExactConfig.from_case(case) if config is None else config
    if not case.claims:
        raise ValidationError("the case has no claims: nothing to calibrate")
    d = _encode(case, config)
    hyper = _Hyper(d, config)
    ab = hyper.arrays()
    lam, phi = logit(ab[0] / (ab[0] + ab[1])), logit(ab[2] / (ab[2] + ab[3]))
    a, theta, q_old = 0.0, _theta0(d, config), None
    learn_align, history, converged = bool(np.any(d.r_align)), [], False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (used after the loop)
        ell, L1, L0 = _evidence(d, lam, phi, a, theta)
        q, log_ev = _estep(d, ell + L1 - L0)
        history.append(_log_posterior(d, ell, L0, log_ev, lam, phi, a, theta, ab))
        old = np.r_[lam, phi, a, theta]
        q_r = q[d.r_claim]
        lam = _rate_update(d, d.r_weight * q_r, d.r_confirm, a * d.r_align, ab[:2], lam)
        phi = _rate_update(d, d.r_weight * (1 - q_r), ~d.r_confirm, -a * d.r_align, ab[2:], phi)
        if learn_align:
            a = _align_update(d, q_r, lam, phi, a)
        theta = _prior_update(d, q, theta)
        if fit_hyper:
            hyper.refit(_counts(d, q))
            ab = hyper.arrays()
        delta = np.max(np.abs(np.r_[lam, phi, a, theta] - old), initial=0.0)
        if q_old is not None and max(np.max(np.abs(q - q_old), initial=0.0), delta) < tol:
            converged = True
            break
        q_old = q
    if not converged:
        warnings.warn(
            f"EM calibration did not converge in {max_iter} iterations (tol={tol})",
            ConvergenceWarning,
            stacklevel=2,
        )
    ell, L1, L0 = _evidence(d, lam, phi, a, theta)
    q, _ = _estep(d, ell + L1 - L0)
    priors = _priors(case, d, hyper, ab, q, a, theta, config, it, converged, history)
    post = pd.DataFrame({"claim_id": d.claim_ids, "p_true": q, "truth": d.truth})
    return EMResult(priors, post, it, converged, history)


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


def case_digest(case: Case) -> str:
    """SHA-256 of a case's claims, sources, reports and signals (for provenance).

    Examples
    --------
    >>> from belief.types import Claim
    >>> case_digest(Case((Claim("a"),))) == case_digest(Case((Claim("a"),)))
    True
    >>> case_digest(Case((Claim("a"),))) == case_digest(Case((Claim("a", truth=True),)))
    False
    """
    h = hashlib.sha256()
    for table in (case.claims, case.sources, case.reports, case.signals):
        for rec in table:
            h.update(
                repr(
                    tuple(getattr(rec, f) for f in rec.__dataclass_fields__ if f != "extra")
                ).encode()
            )
        h.update(b"\x00")
    return h.hexdigest()


def _priors(
    case: Case,
    d: _Data,
    hyper: _Hyper,
    ab: np.ndarray,
    q: np.ndarray,
    a: float,
    theta: np.ndarray,
    config: ExactConfig,
    n_iter: int,
    converged: bool,
    history: list[float],
) -> CalibratedPriors:
    c = _counts(d, q)
    sources = {
        sid: SourcePrior(
            BetaPrior(float(ab[0, i] + c[0, i]), float(ab[1, i] + c[1, i] - c[0, i])),
            BetaPrior(float(ab[2, i] + c[2, i]), float(ab[3, i] + c[3, i] - c[2, i])),
        )
        for i, sid in enumerate(d.source_ids)
    }
    resolved = ~np.isnan(d.truth)
    provenance = {
        "belief_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "case_name": case.name,
        "case_sha256": case_digest(case),
        "n_claims": len(d.claim_ids),
        "n_resolved": int(resolved.sum()),
        "n_resolved_true": int(np.nansum(d.truth)),
        "n_sources": len(d.source_ids),
        "n_reports": len(case.reports),
        "n_signals": len(case.signals),
        "iterations": int(n_iter),
        "converged": bool(converged),
        "log_posterior": float(history[-1]) if history else None,
    }
    return CalibratedPriors(
        base_rate=float(expit(theta[0])) if d.use_base.any() else float(config.base_rate),
        default=hyper.prior[None],
        kinds={k: hyper.prior[k] for k in hyper.kinds},
        sources=sources,
        source_kinds=dict(zip(d.source_ids, d.source_kind)),
        side_effect=float(a),
        signal_effects={k: float(e) for k, e in zip(d.signal_kinds, theta[1:])},
        method="em",
        provenance=provenance,
    )


def calibrate(
    case: Case,
    method: str = "em",
    *,
    config: ExactConfig | None = None,
    max_iter: int = 500,
    tol: float = 1e-6,
    bayes_method: str = "advi",
    sampler_config: Mapping[str, Any] | None = None,
) -> CalibratedPriors:
    """Learn priors (base rate, reliability per kind and per source, effects) from a case.

    Parameters
    ----------
    case : Case
        Claims with ``truth`` where resolved; unresolved claims still inform reliability.
    method : {"em", "bayes"}
        ``"em"``: empirical Bayes by EM (:func:`fit_em`; seconds, numpy/scipy only).
        ``"bayes"``: the joint PyMC model (:class:`belief.model.ClaimBeliefModel`) fitted with
        resolved claims pinned to their truth and the EM's base rate and signal effects; source
        and kind reliabilities and the side effect are then posterior summaries.
    config : ExactConfig, optional
        Starting values and hyperprior centres; default ``ExactConfig.from_case(case)``.
    max_iter, tol : int, float
        EM stopping rule.
    bayes_method : {"advi", "mcmc"}
        How the joint model is fitted with ``method="bayes"`` (ADVI under-states posterior
        variance, so its Beta priors are somewhat too strong; MCMC is slower but faithful).
    sampler_config : mapping, optional
        Passed to :class:`~belief.model.ClaimBeliefModel` with ``method="bayes"``.

    Returns
    -------
    CalibratedPriors

    Raises
    ------
    ValidationError
        Unknown ``method``, an empty case, or two claims of a group resolved true.

    Examples
    --------
    >>> from belief.simulate import simulate_case
    >>> priors = calibrate(simulate_case(300, 20, density=0.2, random_seed=0))
    >>> sorted(priors.kinds), 0.0 < priors.base_rate < 1.0
    (['blog', 'media', 'wire'], True)
    """
    if method not in METHODS:
        raise ValidationError(f"method should be one of {list(METHODS)} but got {method!r}")
    if method == "bayes" and bayes_method not in BAYES_METHODS:
        raise ValidationError(
            f"bayes_method should be one of {list(BAYES_METHODS)} but got {bayes_method!r}"
        )
    em = fit_em(case, config, max_iter=max_iter, tol=tol)
    if method == "em":
        return em.priors
    return _calibrate_bayes(case, em, bayes_method, sampler_config)


def plugin_posterior(
    case: Case, priors: CalibratedPriors, config: ExactConfig | None = None
) -> pd.DataFrame:
    """P(true) per claim with calibrated *point* estimates, including the side effect.

    Reliabilities are fixed at their calibrated means (a seen source's posterior mean, else its
    own prior if it has one, else its kind's mean), with the calibrated side-alignment effect,
    base rate and signal effects. Unlike :func:`belief.exact.infer` it does not integrate over
    reliability uncertainty, but it uses ``side``/``favors``. Truths in ``case`` are ignored.

    Examples
    --------
    >>> from belief.simulate import simulate_case
    >>> case = simulate_case(100, 10, density=0.3, random_seed=0)
    >>> post = plugin_posterior(case, calibrate(case))
    >>> post.columns.tolist(), len(post)
    (['claim_id', 'p_true'], 100)
    """
    config = ExactConfig.from_case(case) if config is None else config
    blind = tuple(dataclasses.replace(c, truth=None) for c in case.claims)
    d = _encode(case.replace(claims=blind), config)
    smap = case.source_map()
    learned = [priors.source_prior(smap[s]) for s in d.source_ids]
    ab = np.array([_ab(sp) for sp in learned]).reshape(-1, 4).T
    seen = np.array([s in priors.sources for s in d.source_ids], dtype=bool)
    ab = np.where(np.repeat(d.own, 2, axis=0) & ~seen, d.own_ab, ab)
    lam, phi = logit(ab[0] / (ab[0] + ab[1])), logit(ab[2] / (ab[2] + ab[3]))
    effects = {**config.signal_effects, **priors.signal_effects}
    theta = np.r_[
        logit(priors.base_rate),
        [effects.get(k, config.default_signal_effect) for k in d.signal_kinds],
    ]
    ell, L1, L0 = _evidence(d, lam, phi, priors.side_effect, theta)
    q, _ = _estep(d, ell + L1 - L0)
    return pd.DataFrame({"claim_id": d.claim_ids, "p_true": q})


def _ab(sp: SourcePrior) -> tuple[float, float, float, float]:
    return sp.sensitivity.alpha, sp.sensitivity.beta, sp.specificity.alpha, sp.specificity.beta


_PINNED = 1e-12  # a resolved claim's prior in the joint model: logit = +-27.6


def _beta_moments(mean: np.ndarray, var: np.ndarray) -> list[BetaPrior]:
    """Beta priors with the given means and variances (strength capped at 1e5)."""
    mean = np.clip(mean, 1e-6, 1 - 1e-6)
    strength = np.clip(mean * (1 - mean) / np.maximum(var, 1e-12) - 1.0, 1e-3, 1e5)
    return [BetaPrior.from_mean_strength(float(m), float(s)) for m, s in zip(mean, strength)]


def _kind_population(mu: np.ndarray, sd: np.ndarray) -> tuple[float, float]:
    """Mean and variance of expit(mu + sd z), z ~ N(0, 1), averaged over posterior draws."""
    z, w = np.polynomial.hermite_e.hermegauss(40)
    p = expit(mu[:, None] + sd[:, None] * z[None, :])
    w = w / w.sum()
    mean = float(np.mean(p @ w))
    return mean, float(np.mean((p**2) @ w) - mean**2)


def _calibrate_bayes(
    case: Case, em: EMResult, fit_method: str, sampler_config: Mapping[str, Any] | None
) -> CalibratedPriors:
    from belief.model import ClaimBeliefModel  # imports PyMC: only on this path

    pinned = tuple(
        c if c.truth is None else dataclasses.replace(c, prior=1 - _PINNED if c.truth else _PINNED)
        for c in case.claims
    )
    effects = {**case.config.get("signal_effects", {}), **em.priors.signal_effects}
    conditioned = case.replace(
        claims=pinned,
        config={**case.config, "base_rate": em.priors.base_rate, "signal_effects": effects},
    )
    model = ClaimBeliefModel(
        model_config={"base_rate": em.priors.base_rate, "signal_effect_sd": 0.0},
        sampler_config=sampler_config,
    ).fit(conditioned, method=fit_method)
    post = model.idata_.posterior.stack(_s=("chain", "draw"))
    seen = [s for s in em.priors.sources if s in set(post["source"].values.astype(str))]
    rates = {}
    for name in ("sensitivity", "specificity"):
        draws = post[name].sel(source=seen).values
        rates[name] = _beta_moments(draws.mean(axis=1), draws.var(axis=1))
    kinds, weights = {}, {}
    for k in post["kind"].values.astype(str):
        pop = [
            _kind_population(
                post[f"mu_{r}"].sel(kind=k).values, post[f"sigma_{r}"].sel(kind=k).values
            )
            for r in ("sensitivity", "specificity")
        ]
        kinds[k] = SourcePrior(*(_beta_moments(np.array([m]), np.array([v]))[0] for m, v in pop))
        weights[k] = sum(em.priors.source_kinds.get(s) == k for s in seen)
    align = float(post["alignment"].mean()) if "alignment" in post else 0.0
    prov = {**em.priors.provenance, "bayes_method": fit_method, "method": "bayes"}
    return CalibratedPriors(
        base_rate=em.priors.base_rate,
        default=_mixture(kinds, weights) if kinds else em.priors.default,
        kinds={k: sp for k, sp in kinds.items() if k != "unknown"},
        sources=dict(zip(seen, map(SourcePrior, rates["sensitivity"], rates["specificity"]))),
        source_kinds={s: em.priors.source_kinds.get(s) for s in seen},
        side_effect=align,
        signal_effects=dict(em.priors.signal_effects),
        method="bayes",
        provenance=prov,
    )


def _mixture(kinds: Mapping[str, SourcePrior], weights: Mapping[str, int]) -> SourcePrior:
    """Beta moment-matched to the mixture of kind populations, weighted by source counts."""
    w = np.array([max(weights[k], 0) for k in kinds], dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))
    out = []
    for rate in ("sensitivity", "specificity"):
        betas = [getattr(sp, rate) for sp in kinds.values()]
        m = np.array([b.mean for b in betas])
        v = np.array([b.mean * (1 - b.mean) / (b.strength + 1) for b in betas])
        mean = float(w @ m)
        out.append(_beta_moments(np.array([mean]), np.array([w @ (v + m**2) - mean**2]))[0])
    return SourcePrior(*out)
