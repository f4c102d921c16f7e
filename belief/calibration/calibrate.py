r"""Calibrate priors on resolved cases: empirical Bayes by EM (fast default) or full Bayes.

The model is the one every engine shares (:mod:`belief.engines.exact`, :mod:`belief.model.graph`).
Claim
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
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from belief._version import __version__
from belief.calibration._copies import CopyFit, fit_copy_propensity
from belief.calibration._em import _counts, _Data, _encode, _estep, _evidence, _Params, _run_em
from belief.calibration._hyper import _Hyper
from belief.data.types import Case
from belief.exceptions import ConvergenceWarning, ValidationError
from belief.priors.config import Config
from belief.priors.file import CalibratedPriors
from belief.priors.reliability import BetaPrior, SourcePrior

METHODS = ("em", "bayes")
BAYES_METHODS = ("advi", "mcmc")  #: joint-model fits that give posterior uncertainty


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


def fit_em(
    case: Case,
    config: Config | None = None,
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
    config : Config, optional
        Starting values and hyperprior centres; default ``Config.from_case(case)``.
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
    >>> from belief.data.types import Claim, Report, Source
    >>> claims = tuple(Claim(f"c{i}", truth=i < 3) for i in range(4))
    >>> reports = tuple(Report(f"c{i}", "s", "confirm") for i in range(4))
    >>> flat = Source("s", sensitivity=0.5, specificity=0.5, strength=2.0)  # Beta(1, 1) priors
    >>> res = fit_em(Case(claims, (flat,), reports))
    >>> sp = res.priors.sources["s"]  # + 3 confirms of true claims, 1 confirm of a false one
    >>> sp.sensitivity, sp.specificity
    (BetaPrior(alpha=4.0, beta=1.0), BetaPrior(alpha=1.0, beta=2.0))
    """
    config = Config.from_case(case) if config is None else config
    if not case.claims:
        raise ValidationError("the case has no claims: nothing to calibrate")
    d = _encode(case, config)
    hyper = _Hyper(d, config)
    p, ab, it, converged, history = _run_em(d, hyper, config, max_iter, tol, fit_hyper)
    if not converged:
        warnings.warn(
            f"EM calibration did not converge in {max_iter} iterations (tol={tol})",
            ConvergenceWarning,
            stacklevel=2,
        )
    ell, L1, L0 = _evidence(d, *p)
    q, _ = _estep(d, ell + L1 - L0)
    provenance = _provenance(case, d, it, converged, history)
    priors = _priors(d, hyper, ab, q, p, config, provenance)
    post = pd.DataFrame({"claim_id": d.claim_ids, "p_true": q, "truth": d.truth})
    return EMResult(priors, post, it, converged, history)


def case_digest(case: Case) -> str:
    """SHA-256 of a case's claims, sources, reports and signals (for provenance).

    Examples
    --------
    >>> from belief.data.types import Claim
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
    d: _Data,
    hyper: _Hyper,
    ab: np.ndarray,
    q: np.ndarray,
    p: _Params,
    config: Config,
    provenance: dict[str, Any],
) -> CalibratedPriors:
    """The calibrated priors at EM's final parameters; a source's is its Beta posterior."""
    c = _counts(d, q)
    sources = {
        sid: SourcePrior(
            BetaPrior(float(ab[0, i] + c[0, i]), float(ab[1, i] + c[1, i] - c[0, i])),
            BetaPrior(float(ab[2, i] + c[2, i]), float(ab[3, i] + c[3, i] - c[2, i])),
        )
        for i, sid in enumerate(d.source_ids)
    }
    return CalibratedPriors(
        base_rate=float(expit(p.theta[0])) if d.use_base.any() else float(config.base_rate or 0.5),
        default=hyper.prior[None],
        kinds={k: hyper.prior[k] for k in hyper.kinds},
        sources=sources,
        source_kinds=dict(zip(d.source_ids, d.source_kind)),
        side_effect=float(p.a),
        signal_effects={k: float(e) for k, e in zip(d.signal_kinds, p.theta[1:])},
        method="em",
        provenance=provenance,
    )


def _provenance(
    case: Case, d: _Data, n_iter: int, converged: bool, history: list[float]
) -> dict[str, Any]:
    resolved = ~np.isnan(d.truth)
    return {
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


def calibrate(
    case: Case,
    method: str = "em",
    *,
    config: Config | None = None,
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
        ``"bayes"``: the joint PyMC model (:class:`belief.model.estimator.ClaimBeliefModel`) fitted
        with resolved claims pinned to their truth and the EM's base rate and signal effects; source
        and kind reliabilities and the side effect are then posterior summaries.
    config : Config, optional
        Starting values and hyperprior centres; default ``Config.from_case(case)``.
    max_iter, tol : int, float
        EM stopping rule.
    bayes_method : {"advi", "mcmc"}
        How the joint model is fitted with ``method="bayes"`` (ADVI under-states posterior
        variance, so its Beta priors are somewhat too strong; MCMC is slower but faithful).
    sampler_config : mapping, optional
        Passed to :class:`~belief.model.estimator.ClaimBeliefModel` with ``method="bayes"``.

    Returns
    -------
    CalibratedPriors

    Raises
    ------
    ValidationError
        Unknown ``method``, an empty case, or two claims of a group resolved true.

    Examples
    --------
    >>> from belief.evaluation.simulate import simulate_case
    >>> priors = calibrate(simulate_case(300, 20, density=0.2, random_seed=0))
    >>> sorted(priors.kinds), 0.0 < priors.base_rate < 1.0
    (['blog', 'media', 'wire'], True)
    """
    if method not in METHODS:
        raise ValidationError(f"method: expected one of {list(METHODS)} but got {method!r}")
    if method == "bayes" and bayes_method not in BAYES_METHODS:
        raise ValidationError(
            f"bayes_method: expected one of {list(BAYES_METHODS)} but got {bayes_method!r}"
        )
    em = fit_em(case, config, max_iter=max_iter, tol=tol)
    em = _with_copying(case, em, config, max_iter, tol)
    if method == "em":
        return em.priors
    from belief.calibration._bayes import calibrate_bayes

    return calibrate_bayes(case, em, bayes_method, sampler_config)


#: Learned copy propensities below this are stored as 0 (no measurable copying).
MIN_PROPENSITY = 0.01


def _with_copying(
    case: Case, em: EMResult, config: Config | None, max_iter: int, tol: float
) -> EMResult:
    """Learn copy propensities; if any source copies, refit reliability with them, and again.

    Reliability fitted with every repeat counted in full over-rates a repeater (it agrees with
    the earlier reports, mostly right), so after the first propensity fit the EM runs again
    with the repeat weights (:mod:`belief.core.repeats`) and the propensities are refitted.
    """
    fit = fit_copy_propensity(case, em.priors)
    if max(fit.sources.values(), default=0.0) < MIN_PROPENSITY:
        return dataclasses.replace(em, priors=_copy_priors(em.priors, fit))
    base = Config.from_case(case) if config is None else config
    learned = dataclasses.replace(
        base,
        default_copy_propensity=_floor(fit.default),
        copy_propensity={**base.copy_propensity, **_floors(fit.kinds)},
        source_copy_propensity={**_floors(fit.sources), **base.source_copy_propensity},
    )
    em = fit_em(case, learned, max_iter=max_iter, tol=tol)
    fit = fit_copy_propensity(case, em.priors)
    return dataclasses.replace(em, priors=_copy_priors(em.priors, fit))


def _floor(x: float) -> float:
    return 0.0 if x < MIN_PROPENSITY else x


def _floors(values: Mapping[str, float]) -> dict[str, float]:
    return {k: _floor(v) for k, v in values.items()}


def _copy_priors(priors: CalibratedPriors, fit: CopyFit) -> CalibratedPriors:
    prov = {**priors.provenance, "copy_iterations": fit.n_iter}
    return dataclasses.replace(
        priors,
        copy_propensity=_floors(fit.sources),
        kind_copy_propensity=_floors(fit.kinds),
        default_copy_propensity=_floor(fit.default),
        provenance=prov,
    )


def plugin_posterior(
    case: Case, priors: CalibratedPriors, config: Config | None = None
) -> pd.DataFrame:
    """P(true) per claim with calibrated *point* estimates, including the side effect.

    Reliabilities are fixed at their calibrated means (a seen source's posterior mean, else its
    own prior if it has one, else its kind's mean), with the calibrated side-alignment effect,
    base rate and signal effects. Unlike :func:`belief.engines.exact.infer_exact` it does not
    integrate over reliability uncertainty, but it uses ``side``/``favors``. Truths in ``case``
    are ignored.

    Examples
    --------
    >>> from belief.evaluation.simulate import simulate_case
    >>> case = simulate_case(100, 10, density=0.3, random_seed=0)
    >>> post = plugin_posterior(case, calibrate(case))
    >>> post.columns.tolist(), len(post)
    (['claim_id', 'p_true'], 100)
    """
    config = Config.from_case(case) if config is None else config
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
