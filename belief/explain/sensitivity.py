"""Sensitivity of the results to the reliability priors: prior intervals and what-if sweeps.

Tables only (no matplotlib): :func:`reliability_prior_table` feeds
:func:`belief.plots.plot_reliability_forest`, :func:`what_if_table` feeds
:func:`belief.plots.plot_what_if`. Both are also importable from :mod:`belief.plots`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from belief.data.types import Case, Source
from belief.engines.exact import infer_exact as infer
from belief.exceptions import ValidationError
from belief.explain._rate import settled
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, SourcePrior, resolve_source_prior

__all__ = ["reliability_prior_table", "what_if_table"]


def reliability_prior_table(
    case: Case, config: Config | None = None, *, level: float = 0.9
) -> pd.DataFrame:
    """Prior mean and central ``level`` interval of every source's sensitivity and specificity.

    Priors are those the engines use: ``config.source_priors`` (e.g. calibrated) where given,
    else :func:`belief.priors.reliability.resolve_source_prior` (own values, Admiralty grade, kind,
    default). Intervals are Beta quantiles. The table feeds :func:`plot_reliability_forest`.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"sources": [{"source_id": "a", "admiralty": "B"}],
    ...     "reports": [{"claim_id": "c", "source_id": "a", "stance": "confirm"}]})
    >>> reliability_prior_table(case)[["source_id", "sens_mean", "sens_low"]].round(3)
      source_id  sens_mean  sens_low
    0         a       0.85     0.659
    """
    from scipy.stats import beta

    config = settled(case, Config.from_case(case) if config is None else config)
    tail = (1.0 - level) / 2
    rows = []
    for sid, src in case.source_map().items():
        sp = (
            config.held_priors.get(sid)
            or config.source_priors.get(sid)
            or resolve_source_prior(src, config.kind_priors, config.default_prior)
        )
        row: dict[str, Any] = {"source_id": sid, "kind": src.kind, "side": src.side}
        for key, b in (("sens", sp.sensitivity), ("spec", sp.specificity)):
            lo, hi = beta.ppf([tail, 1 - tail], b.alpha, b.beta)
            row |= {f"{key}_mean": b.mean, f"{key}_low": lo, f"{key}_high": hi}
        rows.append(row | {"strength": sp.sensitivity.strength})
    return pd.DataFrame(rows)


def _swept(config: Config, case: Case, who: tuple[str, str], param: str, v: float):
    """``config`` with the reliability prior of ``who = (what, id)`` set to mean ``v``."""
    keys = ("sensitivity", "specificity") if param == "both" else (param,)
    what, name = who
    if what == "kind":
        entry = dict(config.kind_priors.get(name, {})) | dict.fromkeys(keys, v)
        smap = case.source_map()  # the kind's members no longer hold their learned priors
        held = {k: p for k, p in config.held_priors.items()
                if k not in smap or smap[k].kind != name}  # fmt: skip
        return dataclasses.replace(config, kind_priors={**config.kind_priors, name: entry},
                                   held_priors=held)  # fmt: skip
    base = _current_prior(config, case, who)
    new = {k: BetaPrior.from_mean_strength(v, getattr(base, k).strength) for k in keys}
    priors = {**config.source_priors, name: dataclasses.replace(base, **new)}
    held = {k: p for k, p in config.held_priors.items() if k != name}
    return dataclasses.replace(config, source_priors=priors, held_priors=held)


def _current_prior(config: Config, case: Case, who: tuple[str, str]) -> SourcePrior:
    what, name = who
    src = Source("(kind default)", kind=name) if what == "kind" else case.source_map()[name]
    if what == "source" and name in config.held_priors:
        return config.held_priors[name]
    if what == "source" and name in config.source_priors:
        return config.source_priors[name]
    return resolve_source_prior(src, config.kind_priors, config.default_prior)


def _who(case: Case, source: str | None, kind: str | None) -> tuple[str, str]:
    if (source is None) == (kind is None):
        raise ValidationError("give exactly one of source= or kind=")
    if source is not None:
        known = sorted(case.source_map())
        if source not in known:
            raise ValidationError(f"unknown source {source!r}; known: {', '.join(known)}")
        return ("source", source)
    kinds = sorted({s.kind for s in case.source_map().values() if s.kind is not None})
    if kind not in kinds:
        raise ValidationError(f"unknown kind {kind!r}; kinds in the case: {', '.join(kinds)}")
    return ("kind", str(kind))


def what_if_table(
    case: Case,
    claim_ids: str | Sequence[str],
    *,
    source: str | None = None,
    kind: str | None = None,
    param: str = "both",
    values: ArrayLike | None = None,
    config: Config | None = None,
) -> pd.DataFrame:
    """P(true) of claims as the prior reliability of one source or one kind is varied.

    The prior mean of the sensitivity, the specificity, or both (``param="both"``: set equal)
    takes each of ``values`` (default 0.05, 0.10, ..., 0.95), its strength kept. ``source``
    replaces that source's priors (through ``source_priors``); ``kind`` changes the kind default
    (``kind_priors``), which applies to sources of that kind with no reliability of their own
    (own values, Admiralty grade, calibrated ``source_priors`` take precedence). A copy with
    ``copy_weight`` 0 carries no weight, so its source's reliability does not matter.

    Returns
    -------
    DataFrame
        ``value, claim_id, p_true``; ``attrs["current"]`` maps ``sensitivity``/``specificity``
        to their current prior means.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"sources": [{"source_id": "a", "kind": "blog"}],
    ...     "reports": [{"claim_id": "c", "source_id": "a", "stance": "confirm"}],
    ...     "config": {"base_rate": 0.5}})  # a flat prior: P(true) = the sensitivity
    >>> what_if_table(case, "c", source="a", values=[0.5, 0.8]).round(3).values.tolist()
    [[0.5, 'c', 0.5], [0.8, 'c', 0.8]]
    """
    if param not in ("both", "sensitivity", "specificity"):
        raise ValidationError(
            f"param: expected one of both, sensitivity, specificity but got {param!r}"
        )
    config = settled(case, Config.from_case(case) if config is None else config)
    claim_ids = [claim_ids] if isinstance(claim_ids, str) else list(claim_ids)
    who = _who(case, source, kind)
    values = np.round(np.linspace(0.05, 0.95, 19), 2) if values is None else np.asarray(values)
    rows = []
    for v in values:
        result = infer(case, _swept(config, case, who, param, float(v)))
        rows += [(float(v), c, result.p(c)) for c in claim_ids]
    out = pd.DataFrame(rows, columns=["value", "claim_id", "p_true"])
    cur = _current_prior(config, case, who)
    keys = ("sensitivity", "specificity") if param == "both" else (param,)
    out.attrs["current"] = {k: getattr(cur, k).mean for k in keys}
    return out
