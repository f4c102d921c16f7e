"""The one result type every engine returns: :class:`BeliefResult`.

Whatever the method (``exact``, ``fast``, the incremental engine, the Dask backend, or the joint
model's ``mcmc``/``advi``/``map``), :func:`belief.infer` returns a :class:`BeliefResult`: the
posterior table in the contract's columns, log-odds, per-source reliability where the engine
estimates it, what ``p_low``/``p_high`` mean (:class:`Interval`), diagnostics and the method.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from belief.core.verbal import verbal_array
from belief.data.types import POSTERIOR_COLUMNS
from belief.exceptions import ValidationError
from belief.priors.config import Config

__all__ = ["INTERVALS", "BeliefResult", "Interval", "posterior_frame", "reliability_frame"]


@dataclass(frozen=True)
class Interval:
    """What a result's ``p_low``/``p_high`` columns mean.

    Attributes
    ----------
    kind : {"none", "reliability", "posterior"}
        ``none``: ``p_low == p_high == p_true`` (the exact engine integrates reliability out;
        ``map`` is a point estimate);
        ``reliability``: a central interval of P(true | source reliabilities) when each
        source's reliabilities vary as their approximate (variational) Beta posterior;
        ``posterior``: equal-tailed quantiles of P(true) over the joint model's posterior draws
        (parameter uncertainty of every kind: base rate, reliabilities, effects).
    level : float or None
        Probability mass of the interval (``None`` for ``none``).
    """

    kind: str
    level: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in INTERVALS:
            raise ValidationError(
                f"interval kind: expected one of {', '.join(INTERVALS)} but got {self.kind!r}"
            )

    @property
    def description(self) -> str:
        """One sentence for tables, reports and CSV documentation."""
        if self.kind == "none":
            return "p_low = p_high = p_true: no interval"
        pct = f"{100 * (self.level or 0):g}%"
        return f"{pct} {INTERVALS[self.kind]}"


#: Interval kinds and what they are.
INTERVALS: dict[str, str] = {
    "none": "no interval (reliability integrated out)",
    "reliability": "interval of P(true) over the sources' approximate reliability posteriors",
    "posterior": "interval of P(true) over the joint model's posterior draws",
}


@dataclass(frozen=True, repr=False)
class BeliefResult:
    """Posterior belief in every claim of a case, from any engine.

    Attributes
    ----------
    posterior : DataFrame
        The contract's columns ``claim_id, p_true, p_low, p_high, verbal, n_reports,
        n_independent``; ``posterior.attrs["interval"]`` says what the interval is.
    log_odds : Series
        Posterior log-odds by claim id (precise even where ``p_true`` rounds to 0 or 1).
    method : str
        ``exact``, ``fast``, ``incremental``, ``dask``, ``mcmc``, ``advi`` or ``map``.
    interval : Interval
        What ``p_low``/``p_high`` mean.
    config : Config
        The settings used.
    reliability : DataFrame or None
        Per source (channel): Beta posteriors ``sens_alpha, sens_beta, spec_alpha, spec_beta``
        and means ``sensitivity, specificity`` (fast, incremental, Dask); the joint model's
        posterior means; ``None`` for the exact engine (reliability integrated out).
    diagnostics : mapping
        Engine diagnostics: ``n_iter`` and ``converged`` (fast, incremental, Dask); sampler
        statistics (joint model); ``approximate`` claims (exact engine's fallback).

    Examples
    --------
    >>> import belief
    >>> case = belief.case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm"}],
    ...     "config": {"base_rate": 0.5}})
    >>> res = belief.infer(case)
    >>> res
    BeliefResult(method='exact', claims=1, interval='none')
    >>> round(res.p("c"), 2)
    0.65
    """

    posterior: pd.DataFrame
    log_odds: pd.Series
    method: str
    interval: Interval
    config: Config = field(default_factory=Config)
    reliability: pd.DataFrame | None = None
    diagnostics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.posterior.attrs["interval"] = self.interval.description
        self.posterior.attrs["method"] = self.method

    def p(self, claim_id: str) -> float:
        """P(true) of one claim (a :class:`~belief.exceptions.ValidationError` if unknown)."""
        try:
            lo = self.log_odds[claim_id]
        except (KeyError, TypeError):
            known = ", ".join(map(repr, list(self.log_odds.index[:5])))
            more = ", ..." if len(self.log_odds) > 5 else ""
            raise ValidationError(
                f"claim_id: unknown claim {claim_id!r}; known claims are {known}{more}"
            ) from None
        return float(expit(lo))

    @property
    def approximate(self) -> frozenset[str]:
        """Claims whose value is an approximation of the exact engine's (exact fallback)."""
        return frozenset(self.diagnostics.get("approximate", ()))

    @property
    def n_iter(self) -> int | None:
        """Sweeps run (iterative engines), else ``None``."""
        return self.diagnostics.get("n_iter")

    @property
    def converged(self) -> bool | None:
        """Whether the iterative engine converged, else ``None``."""
        return self.diagnostics.get("converged")

    def __repr__(self) -> str:
        return (
            f"BeliefResult(method={self.method!r}, claims={len(self.posterior)}, "
            f"interval={self.interval.kind!r})"
        )

    def _repr_html_(self) -> str:
        head = html.escape(f"{self!r}: {self.interval.description}")
        table = self.posterior.head(50).to_html(index=False, float_format=lambda x: f"{x:.4g}")
        more = "" if len(self.posterior) <= 50 else f"<p>… {len(self.posterior) - 50} more</p>"
        return f"<p>{head}</p>{table}{more}"


def check_finite(result: BeliefResult) -> BeliefResult:
    """Raise instead of returning NaN: no engine may hand a NaN probability to the user."""
    p = result.posterior[["p_true", "p_low", "p_high"]].to_numpy(dtype=float)
    if np.isnan(p).any() or np.isnan(result.log_odds.to_numpy(dtype=float)).any():
        bad = result.posterior.loc[np.isnan(p).any(axis=1), "claim_id"].tolist()
        from belief.exceptions import BeliefError

        raise BeliefError(
            f"{result.method} engine: numerical failure (NaN) on claim(s) "
            f"{', '.join(map(repr, bad[:5]))}; check for extreme strengths or priors"
        )
    return result


def posterior_frame(
    claim_ids: list[str],
    lo: np.ndarray,
    interval: tuple[np.ndarray, np.ndarray],
    n_reports: np.ndarray,
    n_independent: np.ndarray,
    *,
    copy: bool = True,
) -> pd.DataFrame:
    """The contract's posterior table from arrays (a BeliefError instead of any NaN).

    ``copy=False`` makes the table share ``interval``, ``n_reports`` and ``n_independent``
    (for a caller that owns them and drops them, as the Dask backend does with 10M claims).
    """
    p = expit(lo)
    bad = np.isnan(lo) | np.isnan(interval[0]) | np.isnan(interval[1])
    if bad.any():
        from belief.exceptions import BeliefError

        names = ", ".join(repr(claim_ids[i]) for i in np.flatnonzero(bad)[:5])
        raise BeliefError(
            f"numerical failure (NaN) on claim(s) {names}: check for extreme prior strengths"
        )
    cols = [p, *interval, verbal_array(p), n_reports, n_independent]
    return pd.DataFrame(dict(zip(POSTERIOR_COLUMNS, [claim_ids, *cols])), copy=copy)


def reliability_frame(source_ids: list[str], post: np.ndarray) -> pd.DataFrame:
    """Per-source variational Beta posteriors and their means."""
    a, b, c, d = post.T
    return pd.DataFrame(
        {"source_id": source_ids, "sens_alpha": a, "sens_beta": b, "spec_alpha": c,
         "spec_beta": d, "sensitivity": a / (a + b), "specificity": c / (c + d)}
    )  # fmt: skip
