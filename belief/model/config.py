"""The joint model's configuration: the defaults of ``model_config`` and ``sampler_config``, and
their resolution against a case's engine settings (:func:`prepare`: encode the case, resolve the
priors). Numpy only; :mod:`belief.model.estimator` re-exports these names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from belief.data.types import Case
from belief.exceptions import ValidationError
from belief.model.encode import ModelData, encode_case
from belief.priors.config import Config

__all__ = [
    "DEFAULT_MODEL_CONFIG",
    "DEFAULT_SAMPLER_CONFIG",
    "check_keys",
    "prepare",
    "resolve_config",
]

#: Default model configuration; ``model_config`` entries replace these key by key.
DEFAULT_MODEL_CONFIG: dict[str, Any] = {
    # Beta prior of the base rate: {"alpha", "beta"}, or {"strength", "mean"} (mean defaults to
    # the case's base_rate); a number in (0, 1) fixes it.
    "base_rate": {"strength": 2.0},
    # sd of the Normal hyperprior of a kind's mean logit reliability (centred on the kind default)
    "kind_mean_sd": 0.75,
    # HalfNormal scale of the spread of logit reliability within a kind
    "kind_sd_scale": 0.75,
    # Normal prior of the side-alignment effect (logit scale); a number fixes it
    "alignment": {"mu": 0.0, "sigma": 1.0},
    # sd of the Normal prior of each signal kind's effect around the case's configured effect;
    # 0 fixes the effects at the configured values
    "signal_effect_sd": 1.0,
    # evidence weight of copies: None = the case's copy_weight (default 0), a number in [0, 1]
    # fixes it, {"alpha", "beta"} learns it with that Beta prior
    "copy_weight": None,
    # keep each kind's skill (logit sensitivity + logit specificity of its typical source) on
    # the side of chance its prior centre is on: rules out the mirror solution of a case without
    # truths (label switching). False leaves it free (the model before this constraint).
    "constrain_skill": True,
    # copy propensities of unattributed repeats (circular reporting, belief.core.repeats):
    # "learn" learns every source's propensity that the config does not fix (a source's own
    # source_copy_propensity, set by the user or by calibrated priors, and kinds whose
    # copy_propensity is 0 keep theirs); "fixed" uses the config's propensities as they are
    # (default 0: uncited repeats count in full)
    "copy_propensity": "learn",
    # prior of the learned propensities: logit pi_s ~ Normal(mu_kind, source_sd) and
    # mu_kind ~ Normal(logit(centre), kind_sd), centre = the config's copy_propensity[kind],
    # else its default_copy_propensity, else (both 0) "mean"
    "copy_prior": {"mean": 0.05, "kind_sd": 1.5, "source_sd": 1.0},
}

#: Default sampler configuration.
DEFAULT_SAMPLER_CONFIG: dict[str, Any] = {
    "draws": 1000,
    "tune": 1000,
    "chains": 4,
    "target_accept": 0.9,
    "random_seed": None,
    "nuts_sampler": "auto",
    "progressbar": False,
    "advi_iterations": 30000,
    "advi_draws": 1000,
    "rhat_max": 1.01,
    "ess_min": None,
}


def check_keys(given: Mapping[str, Any], allowed: Mapping[str, Any], what: str) -> None:
    """Raise a :class:`~belief.exceptions.ValidationError` naming keys of ``given`` that are
    not in ``allowed``."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValidationError(
            f"Unknown {what} key(s) {', '.join(map(repr, unknown))}; expected any of "
            f"{', '.join(sorted(allowed))}"
        )


def _resolve_base_rate(spec: Any, case_rate: float | None) -> Any:
    if isinstance(spec, int | float):
        if not 0.0 < spec < 1.0:
            raise ValidationError(
                f"model_config base_rate: expected a number in (0, 1) but got {spec}"
            )
        return float(spec)
    if "alpha" in spec:
        return {"alpha": float(spec["alpha"]), "beta": float(spec["beta"])}
    mean, strength = float(spec.get("mean") or case_rate or 0.5), float(spec["strength"])
    return {"alpha": mean * strength, "beta": (1.0 - mean) * strength}


def resolve_config(config: Mapping[str, Any], exact: Config) -> dict[str, Any]:
    """Turn a model configuration into the numbers :func:`belief.model.graph.build_model` takes.

    Examples
    --------
    >>> cfg = resolve_config(DEFAULT_MODEL_CONFIG, Config(base_rate=0.25))
    >>> cfg["base_rate"], cfg["copy_weight"]
    ({'alpha': 0.5, 'beta': 1.5}, 0.0)
    """
    out = dict(config)
    out["base_rate"] = _resolve_base_rate(config["base_rate"], exact.base_rate)
    cw = exact.copy_weight if config["copy_weight"] is None else config["copy_weight"]
    if isinstance(cw, int | float) and not 0.0 <= cw <= 1.0:
        raise ValidationError(f"model_config copy_weight: expected a number in [0, 1] but got {cw}")
    out["copy_weight"] = float(cw) if isinstance(cw, int | float) else dict(cw)
    for key in ("kind_mean_sd", "kind_sd_scale"):
        if not float(config[key]) > 0:
            raise ValidationError(
                f"model_config {key}: expected a number > 0 but got {config[key]}"
            )
    if not isinstance(config["constrain_skill"], bool):
        raise ValidationError(
            f"model_config constrain_skill: expected True or False but got "
            f"{config['constrain_skill']!r}"
        )
    if config["copy_propensity"] not in ("learn", "fixed"):
        raise ValidationError(
            "model_config copy_propensity: expected 'learn' or 'fixed' but got "
            f"{config['copy_propensity']!r}"
        )
    prior = DEFAULT_MODEL_CONFIG["copy_prior"] | dict(config["copy_prior"])
    check_keys(prior, DEFAULT_MODEL_CONFIG["copy_prior"], "model_config copy_prior")
    if not 0.0 < float(prior["mean"]) < 1.0:
        raise ValidationError(
            f"model_config copy_prior mean: expected a number in (0, 1) but got {prior['mean']}"
        )
    for key in ("kind_sd", "source_sd"):
        if not float(prior[key]) > 0:
            raise ValidationError(
                f"model_config copy_prior {key}: expected a number > 0 but got {prior[key]}"
            )
    out["copy_prior"] = {k: float(v) for k, v in prior.items()}
    if not float(config["signal_effect_sd"]) >= 0:
        raise ValidationError(
            "model_config signal_effect_sd: expected a number >= 0 but got "
            f"{config['signal_effect_sd']}"
        )
    return out


def prepare(
    case: Case, model_config: Mapping[str, Any], config: Config | None = None
) -> tuple[ModelData, dict[str, Any]]:
    """Encode ``case`` and resolve ``model_config`` against the case's engine settings.

    ``config`` defaults to ``Config.from_case(case)``; a fixed ``copy_weight`` in
    ``model_config`` replaces the case's.

    Returns
    -------
    (ModelData, dict)
        The encoded case and the resolved configuration for :func:`belief.model.graph.build_model`.
    """
    exact = Config.from_case(case) if config is None else config
    resolved = resolve_config(model_config, exact)
    learned_copies = isinstance(resolved["copy_weight"], dict)
    if not learned_copies:
        exact = dataclasses.replace(exact, copy_weight=resolved["copy_weight"])
    data = encode_case(
        case,
        exact,
        keep_copies=learned_copies,
        copy_propensity=resolved["copy_propensity"],
        copy_mean=resolved["copy_prior"]["mean"],
        kind_mean_sd=float(resolved["kind_mean_sd"]),
    )
    return data, resolved
