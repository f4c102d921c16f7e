"""Learning copy propensities (circular reporting) from resolved claims, by EM.

The repeat model is :mod:`belief.core.repeats`: a report by source *s* on a claim with ``m``
earlier reports by other sources, ``k`` of them with its stance, has likelihood

.. math::

    \\pi_s \\frac{k}{m} + (1 - \\pi_s) P(x \\mid T, \\text{sens}_s, \\text{spec}_s)

(a first report, ``m = 0``, is independent). On resolved claims the truth ``T`` is known, so
the E-step gives each report's repeat probability ``rho`` exactly, and the M-step is the Beta
posterior mean of ``pi_s`` under its kind's prior (mean learned from the kind's reports,
strength :data:`STRENGTH` pseudo-reports); a kind's mean has a ``Beta(1, 9)`` hyperprior, so a
kind with no sign of copying stays near 0. The tell is the one AccuCopy uses: agreeing with
earlier reports where they are wrong. A source that confirms false claims *after* others did,
more often than its specificity explains, is a repeater; one that errs on its own is merely
unreliable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from belief.core.compiler import report_arrays_from_case
from belief.core.copies import copy_rank
from belief.core.repeats import earlier_shares
from belief.data.types import Case
from belief.priors.file import CalibratedPriors

#: Pseudo-reports of a kind's mean in each source's propensity prior.
STRENGTH = 4.0
#: ``Beta(A0, B0)`` hyperprior of a kind's (and the default) mean propensity.
A0, B0 = 1.0, 9.0


@dataclass(frozen=True)
class CopyFit:
    """Learned copy propensities: per source, per kind and the default."""

    sources: dict[str, float]
    kinds: dict[str, float]
    default: float
    n_iter: int


def fit_copy_propensity(
    case: Case, priors: CalibratedPriors, *, max_iter: int = 500, tol: float = 1e-9
) -> CopyFit:
    """EM estimate of every source's copy propensity on the resolved claims of ``case``.

    Examples
    --------
    Two sources that report first and are right; a third that always repeats them, true or
    false:

    >>> from datetime import datetime
    >>> from belief.data.types import Claim, Report, Source
    >>> from belief.priors.reliability import BetaPrior, SourcePrior
    >>> claims = tuple(Claim(f"c{i}", truth=i % 2 == 0) for i in range(40))
    >>> reports = []
    >>> for i in range(40):
    ...     first = "confirm" if i % 2 == 0 or i % 5 == 1 else "deny"  # a wrong first report
    ...     reports += [Report(f"c{i}", "a", first, time=datetime(2020, 1, 1)),
    ...                 Report(f"c{i}", "z", first, time=datetime(2020, 1, 2))]
    >>> case = Case(claims, (Source("a"), Source("z")), tuple(reports))
    >>> good = SourcePrior(BetaPrior(8, 2), BetaPrior(8, 2))
    >>> p = CalibratedPriors(0.5, good, sources={"a": good, "z": good})
    >>> fit = fit_copy_propensity(case, p)
    >>> round(fit.sources["z"], 2), "a" in fit.sources  # a always reports first
    (0.94, False)
    """
    ra = report_arrays_from_case(case)
    truth = np.array([np.nan if c.truth is None else float(c.truth) for c in case.claims])
    rank = copy_rank(ra)
    informative = (ra.stance != 0) & (ra.derived < 0)
    idx = np.flatnonzero(informative)
    m, k = earlier_shares(ra.claim[idx], ra.source[idx], ra.stance[idx] > 0, rank[idx])
    t = truth[ra.claim[idx]]
    use = (m > 0) & ~np.isnan(t)
    idx, m, k, t = idx[use], m[use], k[use], t[use]
    src = ra.source[idx]
    smap = case.source_map()
    sids = list(ra.source_ids)
    kinds = [smap[s].kind if s in smap else None for s in sids]
    sp = [priors.source_prior(smap[s]) if s in smap else priors.default for s in sids]
    sens = np.array([p.sensitivity.mean for p in sp])[src]
    spec = np.array([p.specificity.mean for p in sp])[src]
    confirm = ra.stance[idx] > 0
    p_conf = np.where(t > 0.5, sens, 1.0 - spec)
    p_ind = np.where(confirm, p_conf, 1.0 - p_conf)
    q = k / m
    kind_codes = {kd: i for i, kd in enumerate(sorted({str(x) for x in kinds if x}))}
    kind_of = np.array([kind_codes.get(str(x), -1) if x else -1 for x in kinds], dtype=np.int64)
    n_src = np.bincount(src, minlength=len(sids)).astype(float)
    pi = np.full(len(sids), A0 / (A0 + B0))
    default, kind_mean = A0 / (A0 + B0), np.full(len(kind_codes), A0 / (A0 + B0))
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (returned)
        num = pi[src] * q
        rho = np.divide(num, num + (1.0 - pi[src]) * p_ind, out=np.zeros(len(q)), where=num > 0)
        per = np.bincount(src, rho, minlength=len(sids))
        default = (per.sum() + A0) / (n_src.sum() + A0 + B0)
        ks = kind_of >= 0
        kind_sum = np.bincount(kind_of[ks], per[ks], minlength=len(kind_codes))
        kind_n = np.bincount(kind_of[ks], n_src[ks], minlength=len(kind_codes))
        kind_mean = (kind_sum + A0) / (kind_n + A0 + B0)
        centre = np.where(kind_of >= 0, np.r_[kind_mean, default][kind_of], default)
        new = (per + STRENGTH * centre) / (n_src + STRENGTH)
        done = np.max(np.abs(new - pi), initial=0.0) < tol
        pi = new
        if done:
            break
    seen = n_src > 0
    return CopyFit(
        sources={sids[i]: float(pi[i]) for i in np.flatnonzero(seen)},
        kinds={kd: float(kind_mean[i]) for kd, i in kind_codes.items()},
        default=float(default),
        n_iter=it,
    )
