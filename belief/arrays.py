"""Reports and results as integer-coded arrays: the scale engines' side of the data contract.

The scale engines (:mod:`belief.fast`, :mod:`belief.incremental`, :mod:`belief.dask_backend`)
never build a :class:`~belief.types.Report` object per row and nothing is dense in claims ×
sources: they work on integer codes. This module holds both directions of that translation.

*In*: :class:`ReportArrays` codes the reports (from a Case with
:func:`report_arrays_from_case`, from files with :func:`belief.streaming.read_reports`);
:func:`resolve_copies` applies the copy rule; :func:`compile_arrays` then applies the batch
engine's conventions (:mod:`belief.evidence`: priors, signals, neutral reports, copies) with
array operations, giving the same :class:`~belief.evidence.Evidence` as
:func:`belief.evidence.compile_evidence`. :class:`Growable` holds codes that arrive one report
at a time (:mod:`belief.incremental`).

*Out*: :func:`posterior_frame` and :func:`reliability_frame` turn an engine's arrays back into
the contract's labelled tables (with :func:`verbal_array`, the vectorized
:func:`belief.verbal.verbal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from belief.evidence import Evidence, ExactConfig, signal_logodds
from belief.exceptions import ValidationError
from belief.reliability import resolve_source_prior
from belief.types import POSTERIOR_COLUMNS, Case, Claim, Signal, Source
from belief.verbal import verbal_array

__all__ = [
    "NO_TIME",
    "Growable",
    "ReportArrays",
    "compile_arrays",
    "copy_order",
    "posterior_frame",
    "reliability_frame",
    "report_arrays_from_case",
    "resolve_copies",
    "source_prior_rows",
    "verbal_array",
]

#: Time code of a report without a time: sorts before every real time, as in the batch engine.
NO_TIME = np.iinfo(np.int64).min
_STANCE_RANK = np.array([1, 2, 0])  # by code + 1 (deny, neutral, confirm): alphabetical order


@dataclass(frozen=True)
class ReportArrays:
    """Reports as integer-coded arrays (no :class:`~belief.types.Report` object per row).

    Attributes
    ----------
    claim_ids, source_ids : list of str
        The codes' labels. ``source_ids`` covers ``source_id`` and ``derived_from`` values.
    claim, source : ndarray of int64
        Codes of each report's claim and source.
    stance : ndarray of int8
        ``1`` confirm, ``-1`` deny, ``0`` neutral.
    derived : ndarray of int64
        Code of the ``derived_from`` source, ``-1`` when the report is original.
    time : ndarray of int64
        Nanoseconds since the epoch (UTC), :data:`NO_TIME` when missing.
    """

    claim_ids: list[str]
    source_ids: list[str]
    claim: np.ndarray
    source: np.ndarray
    stance: np.ndarray
    derived: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        return len(self.claim)


def report_arrays_from_case(case: Case) -> ReportArrays:
    """The reports of a validated :class:`~belief.types.Case` as :class:`ReportArrays`."""
    reps = case.reports
    index = {c: i for i, c in enumerate(case.claim_ids)}
    sdict: dict[str, int] = {}
    source = np.array([sdict.setdefault(r.source_id, len(sdict)) for r in reps], dtype=np.int64)
    derived = np.array(
        [-1 if r.derived_from is None else sdict.setdefault(r.derived_from, len(sdict))
         for r in reps], dtype=np.int64,
    )  # fmt: skip
    times = np.array([r.time for r in reps], dtype="datetime64[ns]").view(np.int64)
    codes = {"confirm": 1, "deny": -1, "neutral": 0}
    return ReportArrays(
        claim_ids=case.claim_ids,
        source_ids=list(sdict),
        claim=np.array([index[r.claim_id] for r in reps], dtype=np.int64),
        source=source,
        stance=np.array([codes[r.stance] for r in reps], dtype=np.int8),
        derived=derived,
        time=times.astype(np.int64),
    )


def resolve_copies(
    arrays: ReportArrays, copy_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attributed source, evidence weight and stand-in positions (the copy rule, vectorized).

    Same rule as :func:`belief.evidence.effective_reports`: a copy of *X* on claim *c* gets
    ``copy_weight`` when *X* has an original report on *c*; otherwise the first copy in
    :func:`copy_order` stands in for *X* with weight 1.

    Examples
    --------
    >>> import numpy as np
    >>> ra = ReportArrays(["c"], ["x", "a", "b", "d"], np.zeros(3, np.int64),
    ...                   np.array([1, 2, 3]), np.ones(3, np.int8), np.array([-1, 0, 0]),
    ...                   np.array([5, 2, 1]))
    >>> attr, w, stand_in = resolve_copies(ra, 0.0)
    >>> attr.tolist(), w.tolist(), stand_in.tolist()  # the earliest copy stands in for x
    ([1, 2, 0], [1.0, 0.0, 1.0], [2])
    """
    claim, source, derived = arrays.claim, arrays.source, arrays.derived
    attr = np.asarray(source, dtype=np.int64).copy()
    weight = np.ones(len(attr))
    is_copy = derived >= 0
    if not is_copy.any():
        return attr, weight, np.zeros(0, dtype=np.int64)
    n_src = int(max(source.max(initial=0), derived.max(initial=0))) + 1
    orig_keys = np.unique(claim[~is_copy] * n_src + source[~is_copy])
    idx = np.flatnonzero(is_copy)
    keys = claim[idx] * n_src + derived[idx]
    pos = np.minimum(np.searchsorted(orig_keys, keys), max(len(orig_keys) - 1, 0))
    has_orig = orig_keys[pos] == keys if len(orig_keys) else np.zeros(len(keys), dtype=bool)
    cand, ckeys = idx[~has_orig], keys[~has_orig]
    order = np.lexsort((*copy_order(arrays, cand), ckeys))
    first = order[np.r_[True, ckeys[order][1:] != ckeys[order][:-1]]] if len(order) else order
    weight[idx] = copy_weight
    stand_in = cand[first]
    weight[stand_in] = 1.0
    attr[stand_in] = derived[stand_in]
    return attr, weight, np.sort(stand_in)


def copy_order(arrays: ReportArrays, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """``np.lexsort`` keys (last is primary) of the batch engine's report order.

    Reports without time first, then by time, source id, stance (confirm, deny, neutral) and
    position: ties are broken by content, so results do not depend on row order.
    """
    rank = np.empty(len(arrays.source_ids), dtype=np.int64)
    rank[np.argsort(np.asarray(arrays.source_ids, dtype=str), kind="stable")] = np.arange(
        len(arrays.source_ids)
    )
    stance = _STANCE_RANK[arrays.stance[idx] + 1]
    return idx, stance, rank[arrays.source[idx]], arrays.time[idx]


def source_prior_rows(
    source_ids: list[str], sources: tuple[Source, ...], config: ExactConfig
) -> np.ndarray:
    """Beta prior parameters ``(a_se, b_se, a_sp, b_sp)`` per source, as the batch engine."""
    table = {s.source_id: s for s in sources}
    kinds, default = config.kind_priors, None
    rows = np.empty((len(source_ids), 4))
    for i, sid in enumerate(source_ids):
        sprior = config.source_priors.get(sid)
        if sprior is None and sid not in table:
            if default is None:  # every unlisted source shares the same default prior
                default = resolve_source_prior(Source(sid), kinds, config.default_prior)
            sprior = default
        elif sprior is None:
            sprior = resolve_source_prior(table[sid], kinds, config.default_prior)
        se, spc = sprior.sensitivity, sprior.specificity
        rows[i] = (se.alpha, se.beta, spc.alpha, spc.beta)
    return rows


def compile_arrays(
    arrays: ReportArrays,
    config: ExactConfig | None = None,
    *,
    claims: tuple[Claim, ...] | None = None,
    sources: tuple[Source, ...] = (),
    signals: tuple[Signal, ...] = (),
) -> Evidence:
    """Compile coded reports (plus the small tables) into :class:`~belief.evidence.Evidence`.

    Vectorized equivalent of :func:`belief.evidence.compile_evidence` (same priors, signal,
    neutral and copy conventions, same claim and source order); ``claims`` must list
    ``arrays.claim_ids`` in order when given.

    Examples
    --------
    >>> import numpy as np
    >>> ra = ReportArrays(["c1"], ["a", "b"], np.array([0, 0]), np.array([0, 1]),
    ...                   np.array([1, 0], dtype=np.int8), np.array([-1, -1]),
    ...                   np.full(2, NO_TIME))
    >>> ev = compile_arrays(ra)
    >>> ev.source_ids, ev.n_reports.tolist(), ev.n_independent.tolist()
    (['a'], [2], [1])
    """
    config = ExactConfig() if config is None else config
    if config.side_effect:
        raise ValidationError(
            "config side_effect: coded report arrays carry no sides; compile a Case with "
            "belief.evidence.compile_evidence (or set side_effect to 0)"
        )
    n_claims = len(arrays.claim_ids)
    if claims is not None and [c.claim_id for c in claims] != list(arrays.claim_ids):
        raise ValueError("claims must list arrays.claim_ids in the same order")
    claims = claims or ()  # no claims table: base rate for all, no groups
    prior = np.array([np.nan if c.prior is None else c.prior for c in claims], dtype=float)
    lo = np.full(n_claims, logit(config.base_rate))
    if claims:
        lo = logit(np.where(np.isnan(prior), config.base_rate, prior))
    index = {c: i for i, c in enumerate(arrays.claim_ids)}
    for s in signals:
        lo[index[s.claim_id]] += signal_logodds(s, config)
    attr, weight, _ = resolve_copies(arrays, config.copy_weight)
    keep = (arrays.stance != 0) & (weight > 0)
    used = np.flatnonzero(np.bincount(attr[keep], minlength=len(arrays.source_ids)))
    code = np.zeros(len(arrays.source_ids), dtype=np.int64)
    code[used] = np.arange(len(used))
    r_source = code[attr[keep]]  # O(n) instead of a sort
    labels = np.asarray(arrays.source_ids, dtype=object)[used]
    order = np.argsort(labels.astype(str), kind="stable")  # the batch engine sorts source ids
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    source_ids = [str(x) for x in labels[order]]
    priors = source_prior_rows(source_ids, sources, config)
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(claims):
        if c.group is not None:
            groups.setdefault(c.group, []).append(i)
    r_claim, r_weight = arrays.claim[keep].astype(np.int64), weight[keep]
    return Evidence(
        claim_ids=list(arrays.claim_ids),
        source_ids=source_ids,
        prior_logodds=lo,
        groups=[g for g in groups.values() if len(g) > 1],
        r_claim=r_claim,
        r_source=rank[r_source].astype(np.int64),
        r_confirm=arrays.stance[keep] > 0,
        r_weight=r_weight,
        a_se=priors[:, 0],
        b_se=priors[:, 1],
        a_sp=priors[:, 2],
        b_sp=priors[:, 3],
        n_reports=np.bincount(arrays.claim, minlength=n_claims),
        n_independent=np.bincount(r_claim[r_weight == 1.0], minlength=n_claims),
    )


class Growable:
    """A growable array (amortized O(1) append), for codes that arrive one report at a time.

    :class:`belief.incremental.Belief` keeps its coded reports, claims and sources in these.

    Parameters
    ----------
    values : array_like
        Initial contents.
    dtype : dtype
        Element type.
    width : int
        Row width for a 2-d array of rows (``0``: 1-d).

    Attributes
    ----------
    a : ndarray
        The buffer (filled up to ``n``; writable in place).
    n : int
        Number of elements filled.

    Examples
    --------
    >>> g = Growable([1, 2], np.int64)
    >>> g.append(3)
    >>> g.v.tolist(), g.n
    ([1, 2, 3], 3)
    """

    def __init__(self, values: Any, dtype: Any, width: int = 0) -> None:
        v = np.asarray(values, dtype=dtype).reshape((-1, width) if width else -1)
        self.a = np.empty((max(16, 2 * len(v)), *v.shape[1:]), dtype=dtype)
        self.a[: len(v)] = v
        self.n = len(v)

    def append(self, x: Any) -> None:
        """Append one element (one row when 2-d)."""
        if self.n == len(self.a):
            self.a = np.concatenate([self.a, np.empty_like(self.a)])
        self.a[self.n] = x
        self.n += 1

    @property
    def v(self) -> np.ndarray:
        """The filled part (a view)."""
        return self.a[: self.n]


def posterior_frame(
    claim_ids: list[str],
    lo: np.ndarray,
    interval: tuple[np.ndarray, np.ndarray],
    n_reports: np.ndarray,
    n_independent: np.ndarray,
) -> pd.DataFrame:
    """The contract's posterior table from arrays."""
    p = expit(lo)
    cols = [p, *interval, verbal_array(p), n_reports, n_independent]
    return pd.DataFrame(dict(zip(POSTERIOR_COLUMNS, [claim_ids, *cols])))


def reliability_frame(source_ids: list[str], post: np.ndarray) -> pd.DataFrame:
    """Per-source variational Beta posteriors and their means."""
    a, b, c, d = post.T
    return pd.DataFrame(
        {"source_id": source_ids, "sens_alpha": a, "sens_beta": b, "spec_alpha": c,
         "spec_beta": d, "sensitivity": a / (a + b), "specificity": c / (c + d)}
    )  # fmt: skip
