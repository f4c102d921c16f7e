"""Calibration through the joint PyMC model (``calibrate(case, "bayes")``): fit, then summarise.

Resolved claims are pinned to their truth; the fitted model's source and kind reliabilities and
side effect become Beta priors by moment matching. Imports PyMC only when called.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

from belief.data.types import Case
from belief.priors.file import CalibratedPriors
from belief.priors.reliability import BetaPrior, SourcePrior

if TYPE_CHECKING:
    from belief.calibration.calibrate import EMResult

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


def calibrate_bayes(
    case: Case, em: EMResult, fit_method: str, sampler_config: Mapping[str, Any] | None
) -> CalibratedPriors:
    post = _fit_joint(case, em, fit_method, sampler_config)
    seen = [s for s in em.priors.sources if s in set(post["source"].values.astype(str))]
    rates = {}
    for name in ("sensitivity", "specificity"):
        draws = post[name].sel(source=seen).values
        rates[name] = _beta_moments(draws.mean(axis=1), draws.var(axis=1))
    kinds, weights = _kind_priors(post, em, seen)
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


def _fit_joint(
    case: Case, em: EMResult, fit_method: str, sampler_config: Mapping[str, Any] | None
) -> Any:
    """Posterior draws (stacked over chains) of the joint model, resolved claims pinned."""
    from belief.model.estimator import ClaimBeliefModel  # imports PyMC: only on this path

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
    return model.idata_.posterior.stack(_s=("chain", "draw"))


def _kind_priors(
    post: Any, em: EMResult, seen: list[str]
) -> tuple[dict[str, SourcePrior], dict[str, int]]:
    """Beta priors moment-matched to each kind's population, and its number of seen sources."""
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
    return kinds, weights


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
