"""EM fits of the parameters shared across sources (see :mod:`belief.calibration.calibrate`).

The side-alignment effect and the base rate and signal effects (Newton, each a conditional
maximization step given the E-step's claim posteriors), and the kind Beta priors by empirical
Bayes (:class:`_Hyper`). Also the group-softmax normalizer :func:`_group_lse`, which the E-step
in :mod:`belief.calibration._em` shares.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, log_expit, logit

from belief.data.types import Source
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, SourcePrior, resolve_source_prior

if TYPE_CHECKING:
    from belief.calibration._em import _Data

_SD_EFFECT = 2.0  # sd of the Normal priors of signal effects and the alignment effect
_HYPER_SD = 1.5  # sd of the hyperpriors of a kind's logit mean and log strength
_LOG_STRENGTH0 = math.log(20.0)


def _group_lse(v: np.ndarray, gid: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: ``log(1 + sum exp v)`` (the none-true state has log-weight 0), and the shift."""
    m = np.zeros(n_groups)
    np.maximum.at(m, gid, v)
    # max-shifted so that exp never overflows; -inf members contribute exp(-inf) = 0
    z = np.exp(-m) + np.bincount(gid, np.exp(v - m[gid]), n_groups)
    return m + np.log(z), m


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

    x0 = np.array([logit(init.mean), math.log(init.strength)])
    bounds = [(-10.0, 10.0), (math.log(0.5), math.log(1e5))]
    start = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
    fit = minimize(f, start, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 500})  # fmt: skip
    x = fit.x
    return BetaPrior.from_mean_strength(float(expit(x[0])), float(math.exp(x[1])))


class _Hyper:
    """Kind-level Beta priors (and the all-source default), refitted by empirical Bayes."""

    def __init__(self, d: _Data, config: Config) -> None:
        self.d = d
        self.kinds = sorted({k for k in d.source_kind if k is not None})
        self.center = {
            k: resolve_source_prior(Source("_", kind=k), config.kind_priors, config.default_prior)
            for k in [*self.kinds, None]
        }
        self.prior = dict(self.center)
        self.members: dict[str | None, np.ndarray] = {
            k: np.array([sk == k for sk in d.source_kind]) for k in self.kinds
        }
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
