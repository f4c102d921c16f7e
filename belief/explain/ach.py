r"""Analysis of competing hypotheses (ACH): how consistent each item of evidence is with each claim.

For a group of competing claims (at most one is true), the hypotheses are "claim *h* is true and
the others are false", one per claim, plus "none of these". The ACH matrix has one row per report
or signal bearing on a claim of the group and one column per hypothesis; a cell is the
log-likelihood of the item under the hypothesis, in nats:

* a report by source *s* on claim *c* with stance *x*, under hypothesis *h*, sets
  :math:`T_c = [h = c]` and scores :math:`w \log P(x \mid T_c)` with the source's reliability
  fixed at its **prior mean**: :math:`P(\text{confirm} \mid T=1) = \bar\theta_s`,
  :math:`P(\text{confirm} \mid T=0) = 1 - \bar\phi_s`, :math:`P(\text{deny} \mid T=1) =
  1 - \bar\theta_s`, :math:`P(\text{deny} \mid T=0) = \bar\phi_s`. *s* is the source the
  report is attributed to and *w* its weight after copies are resolved
  (:func:`belief.core.compiler.effective_reports`): a copy with weight 0 scores 0 everywhere. A
  neutral report scores 0 everywhere;
* a signal on claim *c* with log-odds shift :math:`\delta`
  (:func:`belief.core.compiler.signal_logodds`)
  scores :math:`\delta` under *h = c* and 0 elsewhere: its log-likelihood ratio, taking
  :math:`P(\text{signal} \mid T_c = 0)` as the unit.

Only differences within a row matter (Bayes' rule ignores a constant per item), so rows are
ordered by **diagnosticity**, the row's max minus min: an item equally likely under every
hypothesis does not help choose. The foot row ``posterior`` is P(hypothesis) from the exact
engine (:func:`belief.infer`), which integrates reliability out and lets a source's other
reports inform it; the column sums of the matrix are therefore a point-estimate approximation
of the engine's evidence, not its exact value.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from belief.core.compiler import effective_reports, signal_logodds, source_prior
from belief.data.types import Case, Report
from belief.engines.exact import infer_exact as infer
from belief.exceptions import ValidationError
from belief.explain._rate import settled
from belief.priors.config import Config

__all__ = ["NONE_OF_THESE", "ach_matrix"]

#: Column name of the hypothesis that no claim of the group is true.
NONE_OF_THESE = "none of these"


def _report_label(r: Report, weight: float) -> str:
    verb = {"confirm": "confirms", "deny": "denies", "neutral": "comments on"}[r.stance]
    via = f" (via {r.derived_from})" if r.derived_from else ""
    copy = f" [copy, weight {weight:g}]" if r.derived_from and weight < 1 else ""
    return f"{r.source_id} {verb} {r.claim_id}{via}{copy}"


def _report_rows(case: Case, config: Config, claims: list[str], hyps: list[str]) -> list:
    smap = case.source_map()
    rows = []
    resolved = effective_reports(case, config)
    for i, (r, src, w) in enumerate(resolved):
        if r.claim_id not in claims:
            continue
        prior = source_prior(smap[src], config)
        se, sp = prior.sensitivity.mean, prior.specificity.mean
        lik = {  # P(stance | T = 1), P(stance | T = 0)
            "confirm": (se, 1 - sp),
            "deny": (1 - se, sp),
            "neutral": (1.0, 1.0),
        }[r.stance]
        ll = np.log([lik[0] if h == r.claim_id else lik[1] for h in hyps])
        cells = (w * ll + 0.0).tolist()  # + 0.0 turns the -0.0 of a weight-0 copy into 0.0
        rows.append((f"r{i + 1}", _report_label(r, w), r.time, i, *cells))
    return rows


def _signal_rows(case: Case, config: Config, claims: list[str], hyps: list[str]) -> list:
    rows = []
    for i, s in enumerate(case.signals):
        if s.claim_id in claims:
            delta = signal_logodds(s, config)
            label = f"signal {s.signal_id} ({s.kind}, {s.direction:+d}) on {s.claim_id}"
            cells = [delta if h == s.claim_id else 0.0 for h in hyps]
            rows.append((s.signal_id, label, s.time, len(case.reports) + i, *cells))
    return rows


def _group_claims(case: Case, group: str) -> list[str]:
    claims = [c.claim_id for c in case.claims if c.group == group]
    if not claims:
        known = sorted({c.group for c in case.claims if c.group is not None})
        raise ValidationError(
            f"unknown group {group!r}; groups in the case: {', '.join(known) or '(none)'}"
        )
    return claims


def ach_matrix(case: Case, group: str, config: Config | None = None) -> pd.DataFrame:
    """The ACH matrix of a group of competing claims (see the module docstring).

    Parameters
    ----------
    case : Case
    group : str
        A ``group`` of the case's claims.
    config : Config, optional
        Default ``Config.from_case(case)``.

    Returns
    -------
    DataFrame
        Indexed by ``item_id`` (``r1``, ``r2``... for reports in file order, as in
        :func:`belief.contributions`; the signal id for signals), most diagnostic row first
        (ties in time order), then the foot row ``"posterior"``. Columns: ``label``, one per
        hypothesis (the group's claims, then :data:`NONE_OF_THESE`), ``diagnosticity`` (NaN in
        the foot row). ``attrs``: ``group``, ``hypotheses``, ``prior`` (P(hypothesis) before
        any report or signal).

    Raises
    ------
    ValidationError
        If no claim has that group.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({
    ...     "claims": [{"claim_id": "a", "group": "g"}, {"claim_id": "b", "group": "g"}],
    ...     "sources": [{"source_id": "s", "sensitivity": 0.8, "specificity": 0.9}],
    ...     "reports": [{"claim_id": "a", "source_id": "s", "stance": "confirm"}]})
    >>> m = ach_matrix(case, "g")
    >>> m.loc["r1", ["a", "b", "none of these"]].astype(float).round(3).tolist()
    [-0.223, -2.303, -2.303]
    >>> float(m.loc["r1", "diagnosticity"].round(3))
    2.079
    """
    config = settled(case, Config.from_case(case) if config is None else config)
    claims = _group_claims(case, group)
    hyps = [*claims, NONE_OF_THESE]
    rows = _report_rows(case, config, claims, hyps) + _signal_rows(case, config, claims, hyps)
    df = pd.DataFrame(rows, columns=["item_id", "label", "time", "order", *hyps])
    df["diagnosticity"] = df[hyps].max(axis=1) - df[hyps].min(axis=1)
    df["_timed"] = df["time"].notna()
    df["time"] = df["time"].fillna(datetime.min)
    df = df.sort_values(["_timed", "time", "order"]).sort_values(
        "diagnosticity", ascending=False, kind="stable"
    )
    df = df.set_index("item_id")[["label", *hyps, "diagnosticity"]]
    df.loc["posterior"] = ["posterior P(hypothesis)", *_probabilities(case, config, claims), np.nan]
    df.attrs.update(
        group=group,
        hypotheses=hyps,
        prior=dict(zip(hyps, _probabilities(case, config, claims, prior=True))),
    )
    return df


def _probabilities(
    case: Case, config: Config, claims: list[str], *, prior: bool = False
) -> list[float]:
    """P(each claim) and P(none of them) from the exact engine (before any evidence if prior)."""
    result = infer(case, config, reports=[], signals=[]) if prior else infer(case, config)
    p = [result.p(c) for c in claims]
    return [*p, max(0.0, 1.0 - sum(p))]
