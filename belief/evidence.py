"""Compile a :class:`~belief.types.Case` into arrays the engines compute with.

This is where the modelling conventions that every engine shares are applied once:

* **Prior log-odds** of claim *c*: ``logit(prior_c or base_rate)`` plus, for each signal on *c*,
  ``log(likelihood_ratio)`` when given, else ``direction * signal_effects[kind]`` (falling back to
  ``default_signal_effect``).
* **Neutral reports** carry no evidence about truth; they count in ``n_reports`` only.
* **Copies**: a report with ``derived_from = X`` repeats X. When X itself reported on the same
  claim, the copy gets weight ``copy_weight`` (default 0: it adds nothing). When X has no report
  on that claim, the *earliest* copy (ties broken by source id, then stance) stands in for X's
  report (full weight, attributed to X, so X's reliability applies) and the other copies get
  ``copy_weight``. ``n_independent`` counts the
  full-weight informative reports.
* **Side alignment** (``side_effect`` a ≠ 0): a report by a source on a claim that favours its
  side has P(confirm | true) and P(deny | false) shifted by +a and -a on the logit scale (the
  joint model's story). The exact engine keeps this conjugate by giving each source up to three
  reliability *channels* (neutral, favoured side, opposed side), each with its own Beta prior,
  its mean shifted by ±a; reliability is pooled within a channel, not across channels.
* **Reliability priors** per source come from :func:`belief.reliability.resolve_source_prior`,
  unless ``source_priors`` (e.g. from calibration) gives that source's priors explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy.special import expit, logit

from belief.exceptions import ValidationError
from belief.reliability import DEFAULT_PRIOR, BetaPrior, SourcePrior, resolve_source_prior
from belief.types import Case, Claim, Report, Signal, Source


def _check_number(name: str, value: object, low: float, high: float, closed: bool = True) -> None:
    """Raise a ValidationError naming config ``name`` unless ``value`` is a number in range."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = low <= value <= high if closed else low < value < high  # type: ignore[operator]
    if not ok:
        bracket = ("[", "]") if closed else ("(", ")")
        raise ValidationError(
            f"config {name}: expected a number in {bracket[0]}{low:g}, {high:g}{bracket[1]} "
            f"but got {value!r}"
        )


def _check_reliability(kind: str, prior: object) -> None:
    """Validate one ``kind_priors`` entry: sensitivity/specificity in (0, 1), strength > 0."""
    allowed = ("sensitivity", "specificity", "strength")
    if not isinstance(prior, Mapping) or set(prior) - set(allowed):
        raise ValidationError(
            f"config kind_priors[{kind!r}]: expected a mapping with keys among "
            f"{', '.join(allowed)} but got {prior!r}"
        )
    for key, value in prior.items():
        high = 1e12 if key == "strength" else 1.0
        _check_number(f"kind_priors[{kind!r}].{key}", value, 0.0, high, closed=False)


@dataclass(frozen=True)
class ExactConfig:
    """Settings shared by the closed-form engines.

    Parameters
    ----------
    base_rate : float
        Prior P(true) of claims without their own ``prior``.
    signal_effects : mapping of str to float
        Log-odds magnitude per signal ``kind``; the signal's ``direction`` gives the sign.
    default_signal_effect : float
        Magnitude for kinds not in ``signal_effects`` (default ``log 3``: a signal makes the
        claim three times more, or less, likely in odds).
    kind_priors : mapping
        Per-kind reliability defaults ``{kind: {"sensitivity", "specificity", "strength"}}``.
    default_prior : mapping
        Global reliability default (same keys).
    source_priors : mapping of str to SourcePrior
        Explicit per-source priors (from calibration); they take precedence over everything.
    copy_weight : float
        Evidence weight of a report that repeats another (``derived_from``), in [0, 1].
    side_effect : float
        Side alignment on the logit scale (0 = off; ``belief calibrate`` learns it). A source
        whose ``side`` a claim ``favors`` is more likely to confirm it and less likely to deny
        it, whatever the truth (see :func:`compile_evidence`).
    max_enumeration : int
        Exact enumeration is used while a component has at most ``2**max_enumeration`` joint
        truth states; larger components use the mean-field approximation (with a warning).
    on_large : {"approximate", "error"}
        What to do with a component too large to enumerate.
    """

    base_rate: float = 0.5
    signal_effects: Mapping[str, float] = field(default_factory=dict)
    default_signal_effect: float = math.log(3.0)
    kind_priors: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    default_prior: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PRIOR))
    source_priors: Mapping[str, SourcePrior] = field(default_factory=dict)
    copy_weight: float = 0.0
    side_effect: float = 0.0
    max_enumeration: int = 20
    on_large: str = "approximate"

    def __post_init__(self) -> None:
        _check_number("base_rate", self.base_rate, 0.0, 1.0, closed=False)
        _check_number("copy_weight", self.copy_weight, 0.0, 1.0, closed=True)
        _check_number("side_effect", self.side_effect, -20.0, 20.0)
        _check_number("default_signal_effect", self.default_signal_effect, -1e6, 1e6)
        if not (isinstance(self.max_enumeration, int) and 1 <= self.max_enumeration <= 26):
            raise ValidationError(
                f"config max_enumeration: expected an integer in 1..26 but got "
                f"{self.max_enumeration!r}"
            )
        if self.on_large not in ("approximate", "error"):
            raise ValidationError(
                f"config on_large: expected one of approximate, error but got {self.on_large!r}"
            )
        for name in ("signal_effects", "kind_priors", "default_prior", "source_priors"):
            if not isinstance(getattr(self, name), Mapping):
                raise ValidationError(f"config {name}: expected a mapping")
        for kind, eff in self.signal_effects.items():
            _check_number(f"signal_effects[{kind!r}]", eff, -1e6, 1e6)
        for kind, prior in {**self.kind_priors, "<default>": self.default_prior}.items():
            _check_reliability(kind, prior)

    @classmethod
    def from_case(cls, case: Case, **overrides: object) -> ExactConfig:
        """Build from ``case.config`` (unknown keys are an error), then apply ``overrides``."""
        allowed = set(cls.__dataclass_fields__)
        merged = {**case.config, **{k: v for k, v in overrides.items() if v is not None}}
        unknown = sorted(set(merged) - allowed)
        if unknown:
            raise ValidationError(
                f"case config: unknown key(s) {', '.join(unknown)}; "
                f"expected any of {', '.join(sorted(allowed))}"
            )
        return cls(**merged)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Evidence:
    """A case compiled to arrays (claims and sources indexed by position).

    ``r_*`` arrays describe the informative (confirm/deny) reports with non-zero weight.
    """

    claim_ids: list[str]
    source_ids: list[str]
    prior_logodds: np.ndarray
    groups: list[list[int]]
    r_claim: np.ndarray
    r_source: np.ndarray
    r_confirm: np.ndarray
    r_weight: np.ndarray
    a_se: np.ndarray
    b_se: np.ndarray
    a_sp: np.ndarray
    b_sp: np.ndarray
    n_reports: np.ndarray
    n_independent: np.ndarray


def signal_logodds(signal: Signal, config: ExactConfig) -> float:
    """The log-odds shift a signal applies to its claim's prior."""
    if signal.likelihood_ratio is not None:
        return math.log(signal.likelihood_ratio)
    effect = config.signal_effects.get(signal.kind, config.default_signal_effect)
    return signal.direction * float(effect)


def _sort_key(item: tuple[int, Report]) -> tuple[bool, datetime, str, str, int]:
    # time first; ties broken by content, not file order, so results never depend on row order
    i, r = item
    return (r.time is not None, r.time or datetime.min, r.source_id, r.stance, i)


def effective_reports(
    reports: Sequence[Report], copy_weight: float
) -> list[tuple[Report, str, float]]:
    """Resolve copies: return ``(report, attributed_source, weight)`` for every report."""
    originals = {(r.claim_id, r.source_id) for r in reports if r.derived_from is None}
    stood_in: set[tuple[str, str]] = set()
    out: list[tuple[Report, str, float] | None] = [None] * len(reports)
    for i, r in sorted(enumerate(reports), key=_sort_key):
        if r.derived_from is None:
            out[i] = (r, r.source_id, 1.0)
            continue
        key = (r.claim_id, r.derived_from)
        if key not in originals and key not in stood_in:
            stood_in.add(key)
            out[i] = (r, r.derived_from, 1.0)
        else:
            out[i] = (r, r.source_id, copy_weight)
    return [x for x in out if x is not None]


_CHANNEL = {1: " [favoured side]", -1: " [opposed side]"}


def alignment(source: Source, claim: Claim) -> int:
    """+1 if ``claim`` favors the source's side, -1 if it favors another side, else 0."""
    if source.side is None or claim.favors is None:
        return 0
    return 1 if claim.favors == source.side else -1


def _shift(sp: SourcePrior, a: float) -> SourcePrior:
    """Move the prior means by ``a`` on the logit scale (sensitivity up, specificity down)."""
    se, spec = sp.sensitivity, sp.specificity
    return SourcePrior(
        BetaPrior.from_mean_strength(float(expit(logit(se.mean) + a)), se.strength),
        BetaPrior.from_mean_strength(float(expit(logit(spec.mean) - a)), spec.strength),
    )


def _source_priors(case: Case, channels: list[tuple[str, int]], config: ExactConfig) -> np.ndarray:
    smap = case.source_map()
    rows = []
    for sid, align in channels:
        sp = config.source_priors.get(sid) or resolve_source_prior(
            smap[sid], config.kind_priors, config.default_prior
        )
        if align:
            sp = _shift(sp, align * config.side_effect)
        rows.append(
            (sp.sensitivity.alpha, sp.sensitivity.beta, sp.specificity.alpha, sp.specificity.beta)
        )
    return np.asarray(rows, dtype=float).reshape(-1, 4)


def _groups(case: Case, index: Mapping[str, int]) -> list[list[int]]:
    groups: dict[str, list[int]] = {}
    for c in case.claims:
        if c.group is not None:
            groups.setdefault(c.group, []).append(index[c.claim_id])
    return [g for g in groups.values() if len(g) > 1]


def compile_evidence(
    case: Case,
    config: ExactConfig,
    reports: Sequence[Report] | None = None,
    signals: Sequence[Signal] | None = None,
) -> Evidence:
    """Compile ``case`` (or the given subsets of its reports and signals) into :class:`Evidence`."""
    reports = case.reports if reports is None else reports
    signals = case.signals if signals is None else signals
    claim_ids = case.claim_ids
    index = {c: i for i, c in enumerate(claim_ids)}
    lo = np.array(
        [logit(c.prior if c.prior is not None else config.base_rate) for c in case.claims]
    )
    for s in signals:
        lo[index[s.claim_id]] += signal_logodds(s, config)
    informative = [
        (r, src, w)
        for r, src, w in effective_reports(reports, config.copy_weight)
        if r.stance != "neutral" and w > 0
    ]
    # with a side effect, a source's reports on claims favouring / opposing its side form
    # separate reliability channels whose prior means are shifted by +-side_effect
    smap, cmap = case.source_map(), {c.claim_id: c for c in case.claims}
    align = [
        alignment(smap[src], cmap[r.claim_id]) if config.side_effect else 0
        for r, src, _ in informative
    ]
    keys = [(src, a) for (_, src, _), a in zip(informative, align)]
    channels = sorted(set(keys))
    sindex = {k: i for i, k in enumerate(channels)}
    source_ids = [sid + _CHANNEL.get(a, "") for sid, a in channels]
    priors = _source_priors(case, channels, config)
    n_claims = len(claim_ids)
    full = [index[r.claim_id] for r, _, w in informative if w == 1.0]
    return Evidence(
        claim_ids=claim_ids,
        source_ids=source_ids,
        prior_logodds=lo,
        groups=_groups(case, index),
        r_claim=np.array([index[r.claim_id] for r, _, _ in informative], dtype=np.int64),
        r_source=np.array([sindex[k] for k in keys], dtype=np.int64),
        r_confirm=np.array([r.stance == "confirm" for r, _, _ in informative], dtype=bool),
        r_weight=np.array([w for _, _, w in informative], dtype=float),
        a_se=priors[:, 0],
        b_se=priors[:, 1],
        a_sp=priors[:, 2],
        b_sp=priors[:, 3],
        n_reports=np.bincount([index[r.claim_id] for r in reports], minlength=n_claims),
        n_independent=np.bincount(full, minlength=n_claims),
    )
