"""The joint Bayesian model of claims and sources, as a scikit-learn style estimator.

:class:`ClaimBeliefModel` learns every source's sensitivity and specificity from the evidence
itself (partially pooled within ``kind``, with the case's Admiralty grades and explicit values as
informative priors), a side-alignment effect, one effect per signal kind, the base rate and,
optionally, how much a copy adds. The truth of each claim is marginalized exactly (jointly
within a group of competing claims), so NUTS can sample the model; P(true) is computed from the
marginal terms for every posterior draw. The model itself is documented in
:mod:`belief.model.graph`.

This module imports PyMC; ``import belief`` does not import it.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from belief._version import __version__
from belief.data.types import Case
from belief.exceptions import NotFittedError, ValidationError
from belief.model.diagnostics import check_convergence, stance_check
from belief.model.graph import ModelData, build_model, encode_case
from belief.model.io import (
    INTERVAL,
    constant_data,
    effects_table,
    interval_summary,
    load_idata,
    model_id,
    reliability_table,
    sample_idata,
    save_idata,
)
from belief.priors.config import Config

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
}

#: Default sampler configuration.
DEFAULT_SAMPLER_CONFIG: dict[str, Any] = {
    "draws": 1000,
    "tune": 1000,
    "chains": 4,
    "target_accept": 0.9,
    "random_seed": None,
    "nuts_sampler": "pymc",
    "progressbar": False,
    "advi_iterations": 30000,
    "advi_draws": 1000,
    "rhat_max": 1.01,
    "ess_min": None,
}

METHODS = ("mcmc", "advi", "map")
_FITTED = ("idata_", "method_", "reliability_", "effects_", "diagnostics_", "model_", "data_")


def _check_keys(given: Mapping[str, Any], allowed: Mapping[str, Any], what: str) -> None:
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
    return encode_case(case, exact, keep_copies=learned_copies), resolved


class ClaimBeliefModel:
    """Joint Bayesian model of claim truth and source reliability.

    Parameters
    ----------
    model_config : dict, optional
        Priors, merged key by key over :data:`DEFAULT_MODEL_CONFIG`.
    sampler_config : dict, optional
        Sampler settings, merged over :data:`DEFAULT_SAMPLER_CONFIG`: ``draws``, ``tune``,
        ``chains`` (run on ``min(chains, 2)`` cores), ``target_accept``, ``random_seed``,
        ``nuts_sampler`` (passed to ``pm.sample``, e.g. ``"nutpie"``), ``advi_iterations``,
        ``advi_draws``, and the diagnostics thresholds ``rhat_max`` and ``ess_min`` (default
        100 per chain).

    Attributes
    ----------
    idata_ : arviz.InferenceData
        Posterior with dims ``claim``, ``source``, ``kind``, ``signal_kind``; the encoded
        evidence in ``constant_data``.
    reliability_ : pandas.DataFrame
        Per source: posterior mean and 90% interval of sensitivity and specificity.
    effects_ : pandas.DataFrame
        Posterior mean and 90% interval of base rate, alignment, signal effects, copy weight.
    diagnostics_ : pandas.DataFrame
        R-hat and ESS per checked parameter (empty unless ``method="mcmc"``);
        ``diagnostics_.attrs["divergences"]``.

    Examples
    --------
    >>> from belief.data.types import Case, Claim, Report, Source
    >>> case = Case(
    ...     (Claim("c1"), Claim("c2")),
    ...     (Source("s1", kind="wire"), Source("s2", kind="blog")),
    ...     (Report("c1", "s1", "confirm"), Report("c2", "s2", "deny")),
    ... )
    >>> model = ClaimBeliefModel(sampler_config={"random_seed": 1}).fit(case, method="map")
    >>> model.predict_proba().columns.tolist()
    ['claim_id', 'p_true', 'p_low', 'p_high']
    """

    def __init__(
        self,
        model_config: Mapping[str, Any] | None = None,
        sampler_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_config = model_config
        self.sampler_config = sampler_config

    # -- configuration -------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name in _FITTED:
            raise NotFittedError(f"This ClaimBeliefModel has no {name!r}: call fit(case) first")
        raise AttributeError(name)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn protocol)."""
        return {"model_config": self.model_config, "sampler_config": self.sampler_config}

    def set_params(self, **params: Any) -> ClaimBeliefModel:
        """Set constructor parameters (scikit-learn protocol); return ``self``."""
        _check_keys(params, self.get_params(), "parameter")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    @property
    def full_model_config(self) -> dict[str, Any]:
        """:data:`DEFAULT_MODEL_CONFIG` updated with ``model_config``."""
        _check_keys(self.model_config or {}, DEFAULT_MODEL_CONFIG, "model_config")
        return copy.deepcopy(DEFAULT_MODEL_CONFIG | dict(self.model_config or {}))

    @property
    def full_sampler_config(self) -> dict[str, Any]:
        """:data:`DEFAULT_SAMPLER_CONFIG` updated with ``sampler_config``."""
        _check_keys(self.sampler_config or {}, DEFAULT_SAMPLER_CONFIG, "sampler_config")
        return DEFAULT_SAMPLER_CONFIG | dict(self.sampler_config or {})

    @property
    def id(self) -> str:
        """Identity hash of model type, belief version and model configuration."""
        return model_id(type(self).__name__, self.full_model_config)

    # -- fitting -------------------------------------------------------------------------
    def build(self, case: Case, config: Config | None = None) -> tuple[Any, ModelData]:
        """Encode ``case`` and build the PyMC model (without fitting); return ``(model, data)``."""
        if not case.claims:
            raise ValidationError("The case has no claims: nothing to fit")
        data, resolved = prepare(case, self.full_model_config, config)
        return build_model(data, resolved), data

    def fit(
        self,
        case: Case | str | os.PathLike[str],
        method: str = "mcmc",
        *,
        config: Config | None = None,
    ) -> ClaimBeliefModel:
        """Fit the model to a case; return ``self``.

        Parameters
        ----------
        case : Case or path
            The case (a path is read with :func:`belief.data.io.read_case`).
        method : {"mcmc", "advi", "map"}
            NUTS (default); mean-field ADVI (fast, intervals too narrow); or the joint posterior
            mode (fastest, no intervals, overconfident when sources have few reports).
        config : Config, optional
            Engine settings shared with the exact engine (base rate and signal effects as prior
            centres, reliability defaults, calibrated ``source_priors``, copy weight); default
            ``Config.from_case(case)``.

        Returns
        -------
        ClaimBeliefModel

        Warns
        -----
        ConvergenceWarning
            With ``method="mcmc"``, when R-hat, ESS or divergences fail their thresholds.

        Examples
        --------
        >>> from belief.data.io import read_case
        >>> case = read_case("seeds/khasham.yaml")  # doctest: +SKIP
        >>> model = ClaimBeliefModel(sampler_config={"random_seed": 7}).fit(case)  # doctest: +SKIP
        >>> model.diagnostics_.attrs["divergences"]  # doctest: +SKIP
        0
        """
        if method not in METHODS:
            raise ValidationError(f"method: expected one of {list(METHODS)} but got {method!r}")
        if not isinstance(case, Case):
            from belief.data.io import read_case

            case = read_case(case)
        scfg = self.full_sampler_config
        model, data = self.build(case, config)
        idata = sample_idata(model, data, method, scfg)
        idata.add_groups(constant_data=constant_data(data))
        idata.attrs.update(method=method, case_name=case.name, model_type=type(self).__name__)
        for name in _FITTED:
            self.__dict__.pop(name, None)
        self.model_, self.data_ = model, data
        self._set_fitted(idata)
        if method == "mcmc":
            checked = [v.name for v in model.free_RVs] + ["p_true"]
            self.diagnostics_ = check_convergence(
                idata, checked, rhat_max=scfg["rhat_max"], ess_min=scfg["ess_min"]
            )
        return self

    def _set_fitted(self, idata) -> None:
        self.idata_ = idata
        self.method_ = str(idata.attrs.get("method", ""))
        self.reliability_ = reliability_table(idata)
        self.effects_ = effects_table(idata)
        self.diagnostics_ = pd.DataFrame(columns=["param", "rhat", "ess_bulk", "ess_tail", "ok"])
        self.diagnostics_.attrs["divergences"] = 0

    # -- queries -------------------------------------------------------------------------
    def predict_proba(self, prob: float = INTERVAL) -> pd.DataFrame:
        """P(true) per claim: posterior mean and central ``prob`` interval over draws.

        Returns
        -------
        pandas.DataFrame
            Columns ``claim_id``, ``p_true``, ``p_low``, ``p_high``, in case order.

        Examples
        --------
        >>> model.predict_proba(prob=0.5).round(2).head(2)  # doctest: +SKIP
                     claim_id  p_true  p_low  p_high
        0            handover    0.07   0.00    0.05
        1  army_holds_khasham    0.85   0.82    0.98
        """
        p = self.idata_.posterior["p_true"]
        out = pd.DataFrame({"claim_id": p["claim"].values.astype(str)})
        out["p_true"], out["p_low"], out["p_high"] = interval_summary(p, prob)
        return out

    def posterior_table(self) -> pd.DataFrame:
        """:meth:`predict_proba` plus ``verbal``, ``n_reports``, ``n_independent``."""
        from belief.core.verbal import verbal_array

        out = self.predict_proba()
        cd = self.idata_.constant_data
        out["verbal"] = verbal_array(out["p_true"].to_numpy())
        out["n_reports"] = cd["n_reports"].values.astype(int)
        out["n_independent"] = cd["n_independent"].values.astype(int)
        return out

    def check_stances(self, by: str = "kind", n_draws: int = 500, random_seed=None):
        """Posterior predictive check of report stances (:func:`~.diagnostics.stance_check`).

        Examples
        --------
        >>> table = model.check_stances(by="kind", random_seed=0)  # doctest: +SKIP
        >>> table.query("p_value < 0.05")  # misfitting groups  # doctest: +SKIP
        """
        return stance_check(self.idata_, by=by, n_draws=n_draws, random_seed=random_seed)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the fitted model (netCDF) with its identity attributes.

        Examples
        --------
        >>> model.save("khasham.nc")  # doctest: +SKIP
        >>> ClaimBeliefModel.load("khasham.nc").predict_proba()  # doctest: +SKIP
        """
        attrs: dict[str, Any] = {
            "id": self.id,
            "model_type": type(self).__name__,
            "version": __version__,
        }
        attrs |= {
            "model_config": self.full_model_config,
            "sampler_config": self.full_sampler_config,
        }
        save_idata(self.idata_, path, attrs)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ClaimBeliefModel:
        """Load a model saved by :meth:`save`.

        Raises
        ------
        ModelMismatchError
            The file was written by another model type, belief version or configuration.
        """
        idata, attrs = load_idata(path, cls.__name__)
        model = cls(model_config=attrs["model_config"], sampler_config=attrs["sampler_config"])
        model._set_fitted(idata)
        return model
