"""One entry point to every engine: :func:`infer`, returning a
:class:`~belief.engines.result.BeliefResult`.

``exact`` (closed form, :mod:`belief.engines.exact`), ``fast`` (vectorized mean-field,
:mod:`belief.engines.fast`), and ``mcmc``/``advi``/``map`` (the joint PyMC model,
:mod:`belief.model.estimator`, imported only then). All of them consume the one compiler
(:mod:`belief.core.compiler`) and one :class:`~belief.priors.config.Config`. The command line, the
analyst's report and evaluation all go through :func:`infer`. The incremental engine
(:class:`belief.engines.incremental.Belief`) and the Dask backend
(:func:`belief.engines.dask.infer_dask`) return the same result type.

Engine options: ``fast`` takes ``tol``, ``max_iter``, ``damping``, ``level`` and
``exact_states``; the joint model takes ``sampler_config``, ``model_config``, ``level`` and
``save_model``; ``exact`` takes none.
An option an engine does not have is refused with a :class:`~belief.exceptions.ValidationError`
naming it, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit

from belief.data.types import Case
from belief.engines.result import BeliefResult, Interval, check_finite
from belief.exceptions import ValidationError
from belief.priors.config import Config, as_config

__all__ = ["METHODS", "OPTIONS", "infer", "posterior"]

METHODS: tuple[str, ...] = ("exact", "fast", "mcmc", "advi", "map")

#: Engine options accepted by :func:`infer`, per method.
OPTIONS: dict[str, tuple[str, ...]] = {
    "exact": (),
    "fast": ("tol", "max_iter", "damping", "level", "exact_states"),
    "mcmc": ("sampler_config", "model_config", "level", "save_model"),
    "advi": ("sampler_config", "model_config", "level", "save_model"),
    "map": ("sampler_config", "model_config", "save_model"),
}


def _check_call(case: Any, method: Any, options: Mapping[str, Any]) -> None:
    if not isinstance(case, Case):
        hint = " (read a file with belief.read_case or belief.read_tables)" if isinstance(
            case, str) else ""  # fmt: skip
        raise ValidationError(f"case: expected a belief.Case but got {type(case).__name__}{hint}")
    if not isinstance(method, str) or method not in METHODS:
        hint = "; pass settings as config=..." if isinstance(method, Mapping) else ""
        raise ValidationError(
            f"method: expected one of {', '.join(METHODS)} but got {method!r}{hint}"
        )
    bad = sorted(set(options) - set(OPTIONS[method]))
    if bad:
        valid = ", ".join(OPTIONS[method]) or "none"
        raise ValidationError(
            f"{bad[0]}: not an option of method {method!r} (its options: {valid})"
        )


def infer(
    case: Case,
    method: str = "exact",
    config: Config | Mapping[str, Any] | None = None,
    **options: Any,
) -> BeliefResult:
    """Posterior P(true) of every claim of ``case``.

    Parameters
    ----------
    case : Case
        A validated case (:func:`belief.read_case`, :func:`belief.read_tables`, ...).
    method : {"exact", "fast", "mcmc", "advi", "map"}
        ``exact`` integrates reliability out exactly (components up to ``2**max_enumeration``
        states); ``fast`` is the vectorized mean-field engine for large cases; ``mcmc``,
        ``advi`` and ``map`` fit the joint PyMC model (learns base rate, kind reliability,
        signal effects).
    config : Config or mapping, optional
        Settings. A :class:`Config` is used as is; a mapping is deep-merged into the case's own
        settings (``{"kind_priors": {"blog": {...}}}`` changes blogs only); default the case's.
    **options
        Engine options (see the module doc); an option the method does not have raises
        :class:`~belief.exceptions.ValidationError`.

    Returns
    -------
    BeliefResult

    Examples
    --------
    >>> import belief
    >>> case = belief.case_from_records({
    ...     "claims": [{"claim_id": "deal", "prior": 0.5}],
    ...     "reports": [{"claim_id": "deal", "source_id": "blog", "stance": "confirm"}]})
    >>> res = belief.infer(case, method="fast")
    >>> res.method, round(res.p("deal"), 2), res.interval.kind
    ('fast', 0.65, 'reliability')
    >>> round(belief.infer(case, config={"base_rate": 0.2}).p("deal"), 2)  # own prior wins
    0.65
    """
    _check_call(case, method, options)
    cfg = as_config(config, case)
    if method == "exact":
        from belief.engines.exact import infer_exact

        return infer_exact(case, cfg)  # its table refuses NaN (result.posterior_frame)
    if method == "fast":
        from belief.engines.fast import infer_fast

        return infer_fast(case, cfg, **options)
    return check_finite(_joint(case, method, cfg, **options))  # the model builds its own table


def _joint(
    case: Case,
    method: str,
    config: Config,
    *,
    sampler_config: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
    level: float = 0.9,
    save_model: Any = None,
) -> BeliefResult:
    from belief.model.estimator import ClaimBeliefModel

    model = ClaimBeliefModel(
        model_config=dict(model_config or {}), sampler_config=dict(sampler_config or {})
    )
    model.fit(case, method=method, config=config)
    if save_model is not None:
        model.save(save_model)
    return joint_result(model, config, level)


def joint_result(model: Any, config: Config, level: float = 0.9) -> BeliefResult:
    """A :class:`BeliefResult` from a fitted :class:`~belief.model.estimator.ClaimBeliefModel`."""
    table = model.posterior_table()
    if level != 0.9:
        lo_hi = model.predict_proba(prob=level)
        table["p_low"], table["p_high"] = lo_hi["p_low"], lo_hi["p_high"]
    p = np.clip(table["p_true"].to_numpy(dtype=float), 1e-300, 1 - 1e-16)
    method = model.method_
    diagnostics: dict[str, Any] = {"convergence": model.diagnostics_}
    diagnostics["divergences"] = model.diagnostics_.attrs.get("divergences", 0)
    for key in ("nuts_sampler", "compile_seconds", "sampling_seconds"):  # NUTS fits record them
        if key in model.idata_.attrs:
            diagnostics[key] = model.idata_.attrs[key]
    return BeliefResult(
        posterior=table,
        log_odds=pd.Series(logit(p), index=table["claim_id"].tolist(), name="log_odds"),
        method=method,
        interval=Interval("none") if method == "map" else Interval("posterior", level),
        config=config,
        reliability=model.reliability_,
        diagnostics=diagnostics,
    )


def posterior(
    case: Case,
    method: str = "exact",
    config: Config | Mapping[str, Any] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """The posterior table of :func:`infer` (convenience for tables-only callers)."""
    return infer(case, method, config, **options).posterior
