"""One entry point to every engine: the contract's posterior table of a case, by method name.

``exact`` (closed form, :mod:`belief.exact`), ``fast`` (vectorized, :mod:`belief.fast`), and
``mcmc``/``advi``/``map`` (the joint PyMC model, :mod:`belief.model`, imported only then). The
command line, the analyst's report and ``belief evaluate`` all go through :func:`posterior`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from belief.evidence import ExactConfig
from belief.exceptions import ValidationError
from belief.types import Case

METHODS: tuple[str, ...] = ("exact", "fast", "mcmc", "advi", "map")


def posterior(
    case: Case,
    method: str = "exact",
    config: ExactConfig | None = None,
    *,
    sampler_config: Mapping[str, Any] | None = None,
    save_model: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Posterior table (``claim_id, p_true, p_low, p_high, verbal, n_reports, n_independent``).

    Parameters
    ----------
    case : Case
    method : {"exact", "fast", "mcmc", "advi", "map"}
    config : ExactConfig, optional
        Engine settings (e.g. with calibrated priors applied); default
        ``ExactConfig.from_case(case)``.
    sampler_config : mapping, optional
        Joint model only: passed to :class:`~belief.model.ClaimBeliefModel`.
    save_model : path-like, optional
        Joint model only: save the fitted model there.

    Examples
    --------
    >>> from belief.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm"}]})
    >>> posterior(case, "exact").verbal.tolist()
    ['likely']
    """
    if method not in METHODS:
        raise ValidationError(f"method: expected one of {', '.join(METHODS)} but got {method!r}")
    config = ExactConfig.from_case(case) if config is None else config
    if method == "exact":
        from belief.exact import infer

        return infer(case, config).posterior
    if method == "fast":
        from belief.fast import infer_fast

        return infer_fast(case, config).posterior
    from belief.model import ClaimBeliefModel

    model = ClaimBeliefModel(sampler_config=dict(sampler_config or {}))
    model.fit(case, method=method, config=config)
    if save_model is not None:
        model.save(save_model)
    return model.posterior_table()
