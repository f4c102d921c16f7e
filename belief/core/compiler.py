"""The compiler: every modelling rule, applied once, for every engine.

A :class:`~belief.data.types.Case` (or coded report arrays with the small tables) becomes an
:class:`Evidence`: arrays the exact, fast, incremental and Dask engines, the joint PyMC model
and calibration's EM all consume. A new modelling feature lands here, once.

The rules:

* **Prior log-odds** of claim *c*: ``logit(prior_c or base_rate)`` plus, for each signal on *c*,
  ``log(likelihood_ratio)`` when given, else ``direction * signal_effects[kind]`` (falling back to
  ``default_signal_effect``) (:func:`signal_logodds`).
* **Neutral reports** carry no evidence about truth; they count in ``n_reports`` only.
* **Copies** (:mod:`belief.core.copies`): a copy of a copy resolves to its root original; a
  copy of a source with an original on the claim gets ``copy_weight`` (default 0); for a silent
  root the earliest copy stands in (full weight, the root's reliability). ``n_independent``
  counts the full-weight informative reports.
* **Side alignment** (``side_effect`` a ≠ 0): a report by a source on a claim that favours its
  side has P(confirm | true) and P(deny | false) shifted by +a and -a on the logit scale (the
  joint model's story). The closed-form engines keep this conjugate by giving each source up to
  three reliability *channels* (neutral, favoured side, opposed side), each with its own Beta
  prior, its mean shifted by ±a; reliability is pooled within a channel, not across channels.
* **Reliability priors** per source come from ``config.source_priors`` (e.g. calibrated) when
  it has that source, else :func:`belief.priors.reliability.resolve_source_prior` (own values, then
  Admiralty grade, then kind, then default).
* **Groups**: claims sharing a ``group`` are competing hypotheses, at most one true.
* **Learned from the data** when the config does not give them: the base rate
  (:mod:`belief.core.base_rate`) and the kind-level reliability means
  (:mod:`belief.core.kinds`); the compiler marks what is learned (``base_mask``, ``kinds``) and
  :func:`belief.core.hyper.learn_hyper` solves for it around any engine.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import logit

from belief.core.copies import resolve_copies
from belief.core.kinds import KindLearning, kind_learning
from belief.core.repeats import report_repeats, report_shares
from belief.core.source_priors import has_own_prior, source_prior, source_prior_rows
from belief.data.arrays import NO_TIME, ReportArrays, time_code  # noqa: F401 (doctest)
from belief.data.streaming import read_reports
from belief.data.types import Case, Claim, Report, Signal, Source
from belief.data.validation import warn_unknown_sources
from belief.priors.config import Config

__all__ = [
    "Evidence",
    "alignment",
    "compile_arrays",
    "compile_case",
    "effective_reports",
    "has_own_prior",
    "read_evidence",
    "report_arrays_from_case",
    "resolve_copies",
    "signal_logodds",
    "source_prior",
    "source_prior_rows",
]

_CHANNEL = {1: " [favoured side]", -1: " [opposed side]"}


def channel_label(source_id: str, align: int) -> str:
    """The label of a reliability channel: the source id, marked with its side alignment."""
    return source_id + _CHANNEL.get(int(align), "")


def align_codes(favors: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Alignment (+1, -1, 0) from the side codes of claims' favors and of sources (-1: none)."""
    out: np.ndarray = np.where((favors < 0) | (side < 0), 0, np.where(favors == side, 1, -1))
    return out.astype(np.int64)


@dataclass(frozen=True)
class Evidence:
    """A case compiled to arrays (claims and reliability channels indexed by position).

    ``r_*`` arrays describe the informative (confirm/deny) reports with non-zero weight (and,
    when compiled with ``keep_copies``, the zero-weight copies too). A *channel* is a source,
    or with a side effect one side of a source (``channel_source``, ``channel_align``).
    ``r_repeat`` is each report's repeat probability (:mod:`belief.core.repeats`); compiled
    with ``repeat_shares``, ``r_earlier`` and ``r_same`` are its ``m`` and ``k``
    (:func:`~belief.core.repeats.report_shares`: the joint model's repeat mixture).
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
    channel_source: list[str] | None = None
    channel_align: np.ndarray | None = None
    r_align: np.ndarray | None = None
    r_copy: np.ndarray | None = None
    r_repeat: np.ndarray | None = None
    r_earlier: np.ndarray | None = None
    r_same: np.ndarray | None = None
    base_mask: np.ndarray | None = None
    base_start: float = 0.5
    base_prior: tuple[float, float] = (5.0, 5.0)
    kinds: KindLearning | None = None

    @property
    def priors(self) -> np.ndarray:
        """``(n_channels, 4)``: ``a_se, b_se, a_sp, b_sp``."""
        return np.column_stack([self.a_se, self.b_se, self.a_sp, self.b_sp]).reshape(-1, 4)


def signal_logodds(signal: Signal, config: Config) -> float:
    """The log-odds shift a signal applies to its claim's prior."""
    if signal.likelihood_ratio is not None:
        return math.log(signal.likelihood_ratio)
    effect = config.signal_effects.get(signal.kind, config.default_signal_effect)
    return signal.direction * float(effect)


def alignment(side: str | None, favors: str | None) -> int:
    """+1 if a claim favouring ``favors`` favours ``side``, -1 if another side, else 0."""
    if not side or not favors:
        return 0
    return 1 if favors == side else -1


def report_arrays_from_case(case: Case, reports: Sequence[Report] | None = None) -> ReportArrays:
    """The reports of a validated case (or the given subset) as :class:`ReportArrays`.

    Source codes follow the case's sources table, then ids first seen in reports.
    """
    reps = case.reports if reports is None else reports
    index = {c: i for i, c in enumerate(case.claim_ids)}
    sdict: dict[str, int] = {s.source_id: k for k, s in enumerate(case.sources)}
    source = np.array([sdict.setdefault(r.source_id, len(sdict)) for r in reps], dtype=np.int64)
    derived = np.array(
        [-1 if r.derived_from is None else sdict.setdefault(r.derived_from, len(sdict))
         for r in reps], dtype=np.int64,
    )  # fmt: skip
    codes = {"confirm": 1, "deny": -1, "neutral": 0}
    return ReportArrays(
        claim_ids=case.claim_ids,
        source_ids=list(sdict),
        claim=np.array([index[r.claim_id] for r in reps], dtype=np.int64),
        source=source,
        stance=np.array([codes[r.stance] for r in reps], dtype=np.int8),
        derived=derived,
        time=np.array([time_code(r.time) for r in reps], dtype=np.int64),
    )


def effective_reports(case: Case, config: Config) -> list[tuple[Report, str, float]]:
    """``(report, attributed source id, weight)`` for every report of ``case``, in order."""
    ra = report_arrays_from_case(case)
    attr, weight, _ = resolve_copies(ra, config.copy_weight, warn=False)
    return [(r, ra.source_ids[int(a)], float(w)) for r, a, w in zip(case.reports, attr, weight)]


def side_codes(values: Sequence[str | None], vocab: dict[str, int]) -> np.ndarray:
    """Integer codes of side names (``favors`` or ``side``), shared through ``vocab``; -1: none."""
    return np.array([-1 if not v else vocab.setdefault(v, len(vocab)) for v in values], np.int64)


def report_alignment(
    claim: np.ndarray,
    attr: np.ndarray,
    source_ids: Sequence[str],
    claims: Sequence[Claim],
    sources: Sequence[Source],
) -> np.ndarray:
    """Side alignment (+1, -1, 0) of reports: the attributed source's side vs the claim's favors.

    ``claim`` and ``attr`` are claim and source codes; ``claims`` lists the claims by code.
    """
    vocab: dict[str, int] = {}
    favors = side_codes([c.favors for c in claims], vocab)
    table = {s.source_id: s for s in sources}
    side = side_codes([getattr(table.get(s), "side", None) for s in source_ids], vocab)
    if not len(claim) or not len(favors):
        return np.zeros(len(claim), dtype=np.int64)
    return align_codes(favors[claim], side[attr])


def _unique_small(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)`` of non-negative codes, by counting (no sort)."""
    if not len(key) or key.max() > 4 * len(key) + 1024:
        return np.unique(key, return_inverse=True)
    present = np.bincount(key) > 0
    lookup = np.cumsum(present) - 1
    return np.flatnonzero(present), lookup[key]


def compile_arrays(
    arrays: ReportArrays,
    config: Config | None = None,
    *,
    claims: Sequence[Claim] | None = None,
    sources: Sequence[Source] = (),
    signals: Sequence[Signal] = (),
    keep_copies: bool = False,
    repeat_shares: bool = False,
) -> Evidence:
    """Compile coded reports and the small tables into :class:`Evidence` (the one compiler).

    Parameters
    ----------
    arrays : ReportArrays
        Coded reports (:func:`report_arrays_from_case`, :func:`belief.data.streaming.read_reports`).
    config : Config, optional
        Settings (default ``Config()``).
    claims : sequence of Claim, optional
        Must list ``arrays.claim_ids`` in order when given (priors, groups, ``favors``).
    sources, signals : sequence
        The sources table (priors, ``side``) and the signals.
    keep_copies : bool
        Keep zero-weight copies in the ``r_*`` arrays (the joint model learns their weight).
    repeat_shares : bool
        Also give each report's earlier reports and same-stance share (``r_earlier``,
        ``r_same``) for the joint model's repeat mixture (one more sort of the reports).

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
    config = Config() if config is None else config
    n_claims = len(arrays.claim_ids)
    if claims is not None and [c.claim_id for c in claims] != list(arrays.claim_ids):
        raise ValueError("claims must list arrays.claim_ids in the same order")
    claims = tuple(claims or ())  # no claims table: base rate for all, no groups
    rate = 0.5 if config.base_rate is None else config.base_rate
    lo = np.full(n_claims, float(logit(rate)))
    base_mask = np.ones(n_claims, dtype=bool)
    if claims:
        prior = np.array([np.nan if c.prior is None else c.prior for c in claims], dtype=float)
        base_mask = np.isnan(prior)
        lo = logit(np.where(base_mask, rate, prior))
    if signals:  # an index, not a dict: no Python string per claim for millions of claims
        at = pd.Index(arrays.claim_ids).get_indexer([s.claim_id for s in signals])
        for k, s in zip(at, signals):
            if k < 0:
                raise KeyError(s.claim_id)
            lo[k] += signal_logodds(s, config)
    attr, weight, _ = resolve_copies(arrays, config.copy_weight)
    informative = arrays.stance != 0
    keep = informative & ((weight > 0) | (keep_copies & (arrays.derived >= 0)))
    every = bool(keep.all())  # the usual case: no copies of its positions are needed

    def kept(x: np.ndarray) -> np.ndarray:
        return x if every else x[keep]

    r_attr, r_claim = kept(attr), np.asarray(kept(arrays.claim), dtype=np.int64)
    r_align = report_alignment(r_claim, r_attr, arrays.source_ids, claims, sources)
    # channels: (source, alignment), labelled and ordered by source id
    key = r_attr * 3
    key += r_align + 1 if config.side_effect else 1
    used, inv = _unique_small(key)
    labels = np.asarray(arrays.source_ids, dtype=object)[used // 3].astype(str)
    ch_align = used % 3 - 1
    order = np.lexsort((ch_align, labels))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    channel_source = [str(x) for x in labels[order]]
    channel_align = ch_align[order]
    source_ids = [channel_label(s, a) for s, a in zip(channel_source, channel_align)]
    priors = source_prior_rows(channel_source, sources, config, channel_align)
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(claims):
        if c.group is not None:
            groups.setdefault(c.group, []).append(i)
    r_weight = kept(weight)
    full = r_weight == 1.0
    declared = ~full  # declared copies (the joint model weighs them itself)
    lo_rep = lo  # the repeats' predictive starts from the prior at repeat_base_rate, if set
    if config.repeat_base_rate is not None:
        lo_rep = lo + np.where(base_mask, logit(config.repeat_base_rate) - logit(rate), 0.0)
    shares = report_shares(arrays, keep) if repeat_shares else None
    rep = priors  # the repeats' predictive starts from the priors before learning, if held
    if config.held_priors:
        start = replace(config, held_priors={})
        rep = source_prior_rows(channel_source, sources, start, channel_align)
    r_repeat = report_repeats(arrays, keep, lo_rep, groups, rep[rank[inv]], sources, config)
    if r_repeat.any():  # unattributed repeats count with their independent share
        r_weight = r_weight * (1.0 - r_repeat)
        full &= r_repeat < 0.5  # probably independent
    return Evidence(
        # a pandas Index (the Dask backend's Arrow text) is kept as it is, not made a list
        claim_ids=arrays.claim_ids
        if isinstance(arrays.claim_ids, pd.Index)
        else list(arrays.claim_ids),
        source_ids=source_ids,
        prior_logodds=lo,
        groups=[g for g in groups.values() if len(g) > 1],
        r_claim=r_claim,
        r_source=rank[inv.reshape(-1)],
        r_confirm=kept(arrays.stance) > 0,
        r_weight=r_weight,
        a_se=priors[:, 0],
        b_se=priors[:, 1],
        a_sp=priors[:, 2],
        b_sp=priors[:, 3],
        n_reports=np.bincount(arrays.claim, minlength=n_claims),
        n_independent=np.bincount(r_claim[full], minlength=n_claims),
        channel_source=channel_source,
        channel_align=channel_align,
        r_align=r_align,
        r_copy=declared,
        r_repeat=r_repeat,
        r_earlier=None if shares is None else shares[0],
        r_same=None if shares is None else shares[1],
        base_mask=base_mask if config.base_rate is None else None,
        base_start=rate,
        base_prior=config.base_rate_prior,
        kinds=kind_learning(channel_source, channel_align, sources, config, priors),
    )


def compile_case(
    case: Case,
    config: Config | None = None,
    reports: Sequence[Report] | None = None,
    signals: Sequence[Signal] | None = None,
    *,
    keep_copies: bool = False,
    repeat_shares: bool = False,
) -> Evidence:
    """Compile ``case`` (or the given subsets of its reports and signals) into :class:`Evidence`.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "z", "stance": "confirm"},
    ...     {"claim_id": "c", "source_id": "x", "stance": "confirm", "derived_from": "z"},
    ...     {"claim_id": "c", "source_id": "y", "stance": "confirm", "derived_from": "x"}]})
    >>> compile_case(case).n_independent.tolist()  # a chain of copies resolves to z
    [1]
    """
    config = Config.from_case(case) if config is None else config
    ra = report_arrays_from_case(case, reports)
    return compile_arrays(
        ra,
        config,
        claims=case.claims,
        sources=case.sources,
        signals=case.signals if signals is None else signals,
        keep_copies=keep_copies,
        repeat_shares=repeat_shares,
    )


def read_evidence(
    reports: str | os.PathLike[str] | pd.DataFrame,
    claims: str | os.PathLike[str] | pd.DataFrame | None = None,
    sources: str | os.PathLike[str] | pd.DataFrame | None = None,
    signals: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    config: Config | None = None,
    chunksize: int = 200_000,
    tables: Case | None = None,
) -> Evidence:
    """Read the contract's tables into :class:`~belief.core.compiler.Evidence`, reports in chunks.

    Equal to ``compile_case(read_tables(claims, sources, reports, signals), config)``
    (same validation errors and unknown-source warning) without a Report object per row. The
    small tables (claims, sources, signals) go through :func:`belief.data.io.read_side_tables`,
    unless ``tables`` gives them already read (``claims`` then only says whether a claims table
    was given).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = read_evidence(pd.DataFrame({"claim_id": ["c1", "c1"], "source_id": ["a", "b"],
    ...                                  "stance": ["confirm", "deny"]}))
    >>> ev.claim_ids, ev.source_ids, ev.r_confirm.tolist()
    (['c1'], ['a', 'b'], [True, False])
    """
    from belief.data.io import read_side_tables

    side = read_side_tables(claims, sources, signals) if tables is None else tables
    config = Config.from_case(side) if config is None else config
    arrays = read_reports(
        reports, claim_ids=side.claim_ids if claims is not None else None, chunksize=chunksize
    )
    claim_objs = side.claims if claims is not None else None
    if claims is None and side.signals:
        seen = set(arrays.claim_ids)
        extra = [c for c in dict.fromkeys(s.claim_id for s in side.signals) if c not in seen]
        arrays = replace(arrays, claim_ids=arrays.claim_ids + extra)
    label = "reports DataFrame" if isinstance(reports, pd.DataFrame) else str(reports)
    n_ids = len(arrays.source_ids)  # the codes in use, by counting (no sort of the reports)
    used = np.bincount(arrays.source, minlength=n_ids) > 0
    used |= np.bincount(arrays.derived[arrays.derived >= 0], minlength=n_ids) > 0
    codes = np.flatnonzero(used)
    warn_unknown_sources(np.asarray(arrays.source_ids, dtype=object)[codes], side.sources, label)
    return compile_arrays(
        arrays, config, claims=claim_objs, sources=side.sources, signals=side.signals
    )
