"""The joint Bayesian model of claims and sources, as a scikit-learn style estimator.

:class:`ClaimBeliefModel` learns every source's sensitivity and specificity from the evidence
itself (partially pooled within ``kind``, with the case's Admiralty grades and explicit values as
informative priors), a side-alignment effect, one effect per signal kind, the base rate, every
source's copy propensity (how often it repeats an earlier report without saying so; pooled
within ``kind``; ``model_config["copy_propensity"]``) and, optionally, how much a declared copy
adds. The truth of each claim is marginalized exactly (jointly
within a group of competing claims), so NUTS can sample the model; P(true) is computed from the
marginal terms for every posterior draw. The model itself is documented in
:mod:`belief.model.graph`, its configuration in :mod:`belief.model.config` (re-exported here).
A fit reuses the model and its compiled sampler when a case of the same shape was fitted before
in the process (:mod:`belief.model.cache`); NUTS runs on nutpie or PyMC's sampler
(:mod:`belief.model.nuts`).

This module imports PyMC; ``import belief`` does not import it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from belief._version import __version__
from belief.data.types import Case
from belief.exceptions import NotFittedError, ValidationError
from belief.model.cache import checkout
from belief.model.config import (
    DEFAULT_MODEL_CONFIG,
    DEFAULT_SAMPLER_CONFIG,
    check_keys,
    prepare,
    resolve_config,
)
from belief.model.diagnostics import check_convergence, check_orientation, stance_check
from belief.model.graph import ModelData, build_model
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
from belief.model.nuts import check_nuts_sampler
from belief.priors.config import Config

__all__ = [
    "DEFAULT_MODEL_CONFIG",
    "DEFAULT_SAMPLER_CONFIG",
    "METHODS",
    "ClaimBeliefModel",
    "prepare",
    "resolve_config",
]

METHODS = ("mcmc", "advi", "map")
_FITTED = ("idata_", "method_", "reliability_", "effects_", "diagnostics_", "model_", "data_")


class ClaimBeliefModel:
    """Joint Bayesian model of claim truth and source reliability.

    Parameters
    ----------
    model_config : dict, optional
        Priors, merged key by key over :data:`DEFAULT_MODEL_CONFIG`.
    sampler_config : dict, optional
        Sampler settings, merged over :data:`DEFAULT_SAMPLER_CONFIG`: ``draws``, ``tune``,
        ``chains`` (run on ``min(chains, 2)`` cores), ``target_accept``, ``random_seed``,
        ``nuts_sampler`` (``"auto"``, ``"nutpie"`` or ``"pymc"``: see
        :mod:`belief.model.nuts`), ``advi_iterations``, ``advi_draws``, and the diagnostics
        thresholds ``rhat_max`` and ``ess_min`` (default 100 per chain).

    Attributes
    ----------
    idata_ : arviz.InferenceData
        Posterior with dims ``claim``, ``source``, ``kind``, ``signal_kind`` (and ``rate``:
        sensitivity, specificity); the encoded evidence in ``constant_data``; with
        ``method="mcmc"``, ``attrs`` record the NUTS back-end and its compile and sampling
        seconds (:func:`belief.model.nuts.sample_nuts`).
    model_ : pymc.Model
        The model that was fitted. Fits of cases of the same shape share it
        (:mod:`belief.model.cache`): its ``pm.Data`` hold the data of the latest such fit.
    reliability_ : pandas.DataFrame
        Per source: posterior mean and 90% interval of sensitivity and specificity and, when
        some report may be an unattributed repeat, of the copy propensity
        (``copy_propensity``, ``copy_propensity_low``, ``copy_propensity_high``;
        ``copy_learned`` is False where the config fixes it).
    effects_ : pandas.DataFrame
        Posterior mean and 90% interval of base rate, alignment, signal effects, copy weight
        and, per kind with learned propensities, ``copy_propensity[kind]`` (its typical
        source's).
    diagnostics_ : pandas.DataFrame
        R-hat and ESS per checked parameter (empty unless ``method="mcmc"``);
        ``diagnostics_.attrs["divergences"]`` and ``attrs["mirrored_chains"]`` (chains in the
        mirror-image solution, :func:`~belief.model.diagnostics.check_orientation`).

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
        check_keys(params, self.get_params(), "parameter")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    @property
    def full_model_config(self) -> dict[str, Any]:
        """:data:`DEFAULT_MODEL_CONFIG` updated with ``model_config``."""
        check_keys(self.model_config or {}, DEFAULT_MODEL_CONFIG, "model_config")
        return copy.deepcopy(DEFAULT_MODEL_CONFIG | dict(self.model_config or {}))

    @property
    def full_sampler_config(self) -> dict[str, Any]:
        """:data:`DEFAULT_SAMPLER_CONFIG` updated with ``sampler_config``."""
        check_keys(self.sampler_config or {}, DEFAULT_SAMPLER_CONFIG, "sampler_config")
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
            With ``method="mcmc"``, when R-hat, ESS or divergences fail their thresholds, and
            (a separate warning) when chains landed in mirror-image solutions
            (:func:`~belief.model.diagnostics.check_orientation`).
        BeliefWarning
            nutpie would sample but is not installed: PyMC's sampler is used instead.

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
        check_nuts_sampler(scfg["nuts_sampler"])
        if not case.claims:
            raise ValidationError("The case has no claims: nothing to fit")
        data, resolved = prepare(case, self.full_model_config, config)
        with checkout(data, resolved) as (entry, _):
            idata = sample_idata(entry, data, method, scfg)
            model = entry.model
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
            orientation = check_orientation(idata)
            self.diagnostics_.attrs["mirrored_chains"] = orientation.attrs["mirrored_chains"]
        return self

    def _set_fitted(self, idata) -> None:
        self.idata_ = idata
        self.method_ = str(idata.attrs.get("method", ""))
        self.reliability_ = reliability_table(idata)
        self.effects_ = effects_table(idata)
        self.diagnostics_ = pd.DataFrame(columns=["param", "rhat", "ess_bulk", "ess_tail", "ok"])
        self.diagnostics_.attrs.update(divergences=0, mirrored_chains=[])

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
