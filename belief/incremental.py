"""Incremental belief: add reports and signals one at a time without recomputing the world.

:class:`Belief` keeps the state of the fast engine (:mod:`belief.fast`): each claim's current
log-odds and, per source, the Beta posteriors of sensitivity and specificity as *sufficient
statistics* ``prior + sum of weighted confirms/denies times P(true) / P(false)`` of the claims
it reported on. The invariant is that these statistics always equal what the claims' current
P(true) imply; :meth:`Belief.update` keeps it exactly.

What an update recomputes
-------------------------
For a new report on claim *c* (or a signal on *c*):

1. the report is recorded and its weight added to its source's statistics at *c*'s current
   P(true); when *c* has copies, *c*'s copy status is resolved again with the compiler's rule
   (:func:`belief.evidence.resolve_copies` on *c*'s reports: a late original, a chain or an
   earlier copy re-attributes the affected copies);
2. *c*'s posterior is recomputed given the current reliability posteriors (each source's
   cavity Beta: its statistics minus *c*'s own reports); for a free claim that is one sweep
   over *c*'s reports and already the local fixed point; a group is swept until it moves less
   than ``tol`` (at most ``local_sweeps``);
3. the statistics of *c*'s sources are refreshed by the change of *c*'s P(true).

With a side effect, a report counts in its source's channel for the claim's side (as in the
compiler). Cost per report: O(reports on *c*'s block + group size), independent of the world's size
(``benchmarks/scale.py`` measures it). Other claims of the same sources keep their posteriors
until they are updated themselves or :meth:`Belief.refit` runs full sweeps from the current
state (warm start) to the batch fixed point; ``refit_every`` does that automatically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from belief.arrays import Growable, ReportArrays, posterior_frame, reliability_frame
from belief.cells import Block, cell_llr
from belief.config import Config, as_config
from belief.evidence import (
    Evidence,
    alignment,
    report_alignment,
    report_arrays_from_case,
    resolve_copies,
    signal_logodds,
    source_prior_rows,
)
from belief.exceptions import ValidationError
from belief.fast import EXACT_STATES, bounds, exact_small_components, interval_moments, run_vb
from belief.meanfield import _group_logodds
from belief.result import BeliefResult, Interval
from belief.streaming import report_items
from belief.types import Case, Claim, Report, Signal, Source
from belief.validation import Origin, parse_claims, parse_signals

__all__ = ["Belief"]

Reports = Report | Mapping[str, Any] | Iterable[Any] | pd.DataFrame


class Belief:
    """Posteriors that follow a stream of reports and signals (see the module doc).

    Parameters
    ----------
    case : Case, optional
        Initial claims, sources, reports and signals (fitted at construction).
    config : Config, optional
        Engine settings; default ``Config.from_case(case)`` or ``Config()``.
    tol, max_iter, damping : float, int, float or None
        Convergence settings of the full sweeps (:func:`belief.fast.infer_fast`); ``tol`` also
        ends a group's local sweeps.
    local_sweeps : int
        Upper bound on local sweeps of a group (a free claim needs one).
    refit_every : int, optional
        Run :meth:`refit` after this many reports since the last one.

    Examples
    --------
    >>> from belief.types import Report, Source
    >>> b = Belief(config=Config(default_prior={"sensitivity": 0.8,
    ...                                              "specificity": 0.8, "strength": 1e9}))
    >>> b.update(Report("c1", "wire", "confirm")).round(4).to_dict()
    {'c1': 0.8}
    >>> b.update([Report("c1", "blog", "deny"), Report("c2", "blog", "confirm")]).round(4)
    claim_id
    c1    0.5
    c2    0.8
    Name: p_true, dtype: float64
    """

    def __init__(
        self,
        case: Case | None = None,
        config: Config | Mapping[str, Any] | None = None,
        *,
        tol: float = 1e-6,
        max_iter: int = 2000,
        damping: float | None = None,
        local_sweeps: int = 50,
        refit_every: int | None = None,
    ) -> None:
        self.config = as_config(config, case)
        self.tol, self.max_iter, self.damping = tol, max_iter, damping
        self.local_sweeps, self.refit_every = local_sweeps, refit_every
        empty = ReportArrays([], [], *(np.zeros(0, np.int64),) * 5)
        if case is None:
            self._load(empty, (), (), ())
        else:
            self._load(report_arrays_from_case(case), case.claims, case.sources, case.signals)

    @classmethod
    def from_arrays(
        cls,
        arrays: ReportArrays,
        config: Config | Mapping[str, Any] | None = None,
        *,
        claims: tuple[Claim, ...] | None = None,
        sources: tuple[Source, ...] = (),
        signals: tuple[Signal, ...] = (),
        **options: Any,
    ) -> Belief:
        """Build from coded reports (e.g. :func:`belief.streaming.read_reports`), no Case."""
        self = cls(None, config, **options)
        claims = claims if claims is not None else tuple(Claim(c) for c in arrays.claim_ids)
        self._load(arrays, claims, sources, signals)
        return self

    # -- state ---------------------------------------------------------------------------
    def _load(self, ra: ReportArrays, claims: Iterable[Claim], sources, signals) -> None:
        claims = tuple(claims) or tuple(Claim(c) for c in ra.claim_ids)
        if [c.claim_id for c in claims] != list(ra.claim_ids):
            raise ValidationError("claims must list the reports' claim ids in order")
        self._sources_meta = {s.source_id: s for s in sources}
        self._claim_ids, self._cindex, self._favors = [], {}, []
        self._ell, self._lo = Growable([], float), Growable([], float)
        self._group, self._n_reports = Growable([], np.int64), Growable([], np.int64)
        self._groups: list[list[int]] = []
        self._gindex: dict[str, int] = {}
        for c in claims:
            self._new_claim(c)
        for s in signals:
            self._ell.a[self._cindex[s.claim_id]] += signal_logodds(s, self.config)
        self._source_ids = list(ra.source_ids)
        self._sindex = {s: i for i, s in enumerate(self._source_ids)}
        # channels (source, side alignment), as the compiler forms them
        self._chan: dict[tuple[int, int], int] = {}
        self._chan_src: list[int] = []
        self._chan_align: list[int] = []
        self._prior, self._post = Growable([], float, 4), Growable([], float, 4)
        src, weight, _ = resolve_copies(ra, self.config.copy_weight)
        align = report_alignment(ra.claim, src, ra.source_ids, claims, tuple(sources))
        if not self.config.side_effect:
            align = np.zeros_like(align)
        keys, inv = np.unique(src * 3 + align + 1, return_inverse=True)
        codes = np.array([self._channel_code(int(k // 3), int(k % 3) - 1) for k in keys])
        attr = codes[inv.reshape(-1)] if len(keys) else np.zeros(0, np.int64)
        self._claim, self._source = Growable(ra.claim, np.int64), Growable(ra.source, np.int64)
        self._stance, self._derived = Growable(ra.stance, np.int8), Growable(ra.derived, np.int64)
        self._time, self._attr = Growable(ra.time, np.int64), Growable(attr, np.int64)
        self._weight = Growable(weight, float)
        self._copy_claims = set(np.unique(ra.claim[ra.derived >= 0]).tolist())
        np.add.at(self._n_reports.a, ra.claim, 1)
        self._lo.v[:] = _group_logodds(self._ell.v, [g for g in self._groups if len(g) > 1])
        self._post.v[:] = self._prior.v
        self.refit()

    def _new_claim(self, claim: Claim) -> int:
        if claim.claim_id in self._cindex:
            raise ValidationError(f"claim {claim.claim_id!r} already exists")
        c = len(self._claim_ids)
        self._claim_ids.append(claim.claim_id)
        self._cindex[claim.claim_id] = c
        self._favors.append(claim.favors)
        prior = self.config.base_rate if claim.prior is None else claim.prior
        self._ell.append(logit(prior))
        self._lo.append(logit(prior))
        self._n_reports.append(0)
        g = -1
        if claim.group is not None:
            g = self._gindex.setdefault(claim.group, len(self._gindex))
            if g == len(self._groups):
                self._groups.append([])
            self._groups[g].append(c)
        self._group.append(g)
        return c

    def _claim_code(self, claim_id: str) -> int:
        c = self._cindex.get(claim_id)
        return self._new_claim(Claim(claim_id)) if c is None else c

    def _source_code(self, source_id: str) -> int:
        s = self._sindex.get(source_id)
        if s is None:
            s = self._sindex[source_id] = len(self._source_ids)
            self._source_ids.append(source_id)
        return s

    def _channel_code(self, s: int, align: int) -> int:
        ch = self._chan.get((s, align))
        if ch is None:
            ch = self._chan[(s, align)] = len(self._chan_src)
            self._chan_src.append(s)
            self._chan_align.append(align)
            sid = self._source_ids[s]
            row = source_prior_rows([sid], self._sources_meta, self.config, [align])[0]
            self._prior.append(row)
            self._post.append(row)  # a new channel's posterior starts at its prior
        return ch

    def _channel_of(self, s: int, c: int) -> int:
        align = 0
        if self.config.side_effect:
            meta = self._sources_meta.get(self._source_ids[s])
            align = alignment(meta.side if meta else None, self._favors[c])
        return self._channel_code(s, align)

    def _block(self, c: int) -> list[int]:
        g = self._group.a[c]
        return [c] if g < 0 or len(self._groups[g]) < 2 else self._groups[g]

    def _reports_of(self, claims: Iterable[int]) -> np.ndarray:
        parts = [self._idx[self._ptr[c] : self._ptr[c + 1]] if c < len(self._ptr) - 1 else
                 np.zeros(0, np.int64) for c in claims]  # fmt: skip
        parts += [np.asarray(self._extra[c], dtype=np.int64) for c in claims if c in self._extra]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _contribute(self, i: int, sign: float) -> None:
        """Add (``+1``) or remove (``-1``) report ``i``'s weight at its claim's P(true)."""
        w = self._weight.a[i]
        if self._stance.a[i] == 0 or w <= 0:
            return
        q = expit(self._lo.a[self._claim.a[i]])
        cols = (0, 3) if self._stance.a[i] > 0 else (1, 2)
        self._post.a[self._attr.a[i], cols] += sign * w * np.array([q, 1.0 - q])

    def _reattribute(self, i: int, attr: int, weight: float) -> None:
        self._contribute(i, -1.0)
        self._attr.a[i], self._weight.a[i] = attr, weight
        self._contribute(i, 1.0)

    def _resolve_claim(self, c: int) -> None:
        """Apply the compiler's copy rule to claim ``c``'s reports (copies are per claim)."""
        idx = self._reports_of([c])
        sub = ReportArrays(
            [self._claim_ids[c]], self._source_ids, np.zeros(len(idx), np.int64),
            self._source.a[idx], self._stance.a[idx], self._derived.a[idx], self._time.a[idx],
        )  # fmt: skip
        src, weight, _ = resolve_copies(sub, self.config.copy_weight, warn=False)
        for k, i in enumerate(idx.tolist()):
            ch = self._channel_of(int(src[k]), c)
            if ch != self._attr.a[i] or weight[k] != self._weight.a[i]:
                self._reattribute(i, ch, float(weight[k]))

    def _ingest(self, cid: str, sid: str, stance: int, did: str | None, t: int) -> int:
        """Record one report; resolve its claim's copies again if it has any."""
        c, s = self._claim_code(cid), self._source_code(sid)
        d = -1 if did is None else self._source_code(did)
        i = self._claim.n
        for arr, value in zip(
            (self._claim, self._source, self._stance, self._derived, self._time, self._attr,
             self._weight), (c, s, stance, d, t, self._channel_of(s, c), 1.0),
        ):  # fmt: skip
            arr.append(value)
        self._contribute(i, 1.0)
        self._extra.setdefault(c, []).append(i)
        self._n_reports.a[c] += 1
        self._since_refit += 1
        if d >= 0:
            self._copy_claims.add(c)
        if c in self._copy_claims:
            self._resolve_claim(c)
        return c

    # -- local and full updates --------------------------------------------------------
    def _refresh(self, claims: np.ndarray) -> None:
        """Recompute ``claims`` given the other claims, refreshing their sources' statistics."""
        idx = self._reports_of(claims.tolist())
        idx = idx[(self._stance.a[idx] != 0) & (self._weight.a[idx] > 0)]
        local = np.searchsorted(claims, self._claim.a[idx])
        n_ch = max(len(self._chan_src), 1)
        key = local * n_ch + self._attr.a[idx]
        cells, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        w, conf = self._weight.a[idx], self._stance.a[idx] > 0
        x, y = np.bincount(inv, w * conf, len(cells)), np.bincount(inv, w * ~conf, len(cells))
        cc, cs = cells // n_ch, cells % n_ch
        pos = {c: k for k, c in enumerate(claims.tolist())}
        groups = [[pos[m] for m in g] for g in self._groups if len(g) > 1 and g[0] in pos]
        one_block = len(claims) == 1 or (len(groups) == 1 and len(groups[0]) == len(claims))
        damping = 0.0 if one_block else 0.5 if self.damping is None else self.damping
        sweeps = 1 if len(claims) == 1 else self.local_sweeps  # a free claim: exact in one
        ell, post = self._ell.a[claims], self._post.a
        for _ in range(sweeps):
            lo = self._lo.a[claims]
            q = expit(lo)
            p, qc = post[cs], q[cc]
            a, b = p[:, 0] - x * qc, p[:, 1] - y * qc
            c, d = p[:, 2] - y * (1 - qc), p[:, 3] - x * (1 - qc)
            g = ell + np.bincount(cc, cell_llr(x, y, a, b, c, d), len(claims))
            new = damping * lo + (1 - damping) * _group_logodds(g, groups)
            dq = expit(new) - q
            np.add.at(post, cs, np.column_stack([x, y, -y, -x]) * dq[cc][:, None])
            self._lo.a[claims] = new
            if np.max(np.abs(dq), initial=0.0) < self.tol:
                break

    def _labels(self) -> list[str]:
        suffix = {1: " [favoured side]", -1: " [opposed side]"}
        return [
            self._source_ids[s] + suffix.get(a, "")
            for s, a in zip(self._chan_src, self._chan_align)
        ]

    def _evidence(self) -> Evidence:
        n = self._claim.n
        keep = (self._stance.v != 0) & (self._weight.v > 0)
        prior = self._prior.v
        return Evidence(
            claim_ids=self._claim_ids,
            source_ids=self._labels(),
            prior_logodds=self._ell.v.copy(),
            groups=[g for g in self._groups if len(g) > 1],
            r_claim=self._claim.v[keep],
            r_source=self._attr.v[keep],
            r_confirm=self._stance.v[keep] > 0,
            r_weight=self._weight.v[keep],
            a_se=prior[:, 0],
            b_se=prior[:, 1],
            a_sp=prior[:, 2],
            b_sp=prior[:, 3],
            n_reports=self._n_reports.v.copy(),
            n_independent=np.bincount(
                self._claim.v[keep & (self._weight.v == 1.0)], minlength=len(self._claim_ids)
            ) if n else np.zeros(len(self._claim_ids), np.int64),
        )  # fmt: skip

    def refit(self) -> Belief:
        """Full sweeps from the current state to the batch fixed point; resets the indexes."""
        ev = self._evidence()
        lo, post, *_ = run_vb(
            ev, tol=self.tol, max_iter=self.max_iter, damping=self.damping, init=self._lo.v
        )
        if len(
            exact_small_components(ev, lo, min(EXACT_STATES, 2**self.config.max_enumeration))
        ):  # as the fast engine: small components exactly
            block = Block(len(ev.claim_ids), len(ev.source_ids), ev.r_claim, ev.r_source,
                          ev.r_confirm, ev.r_weight)  # fmt: skip
            post = ev.priors + block.source_stats(expit(lo))  # the statistics follow the state
        self._lo.v[:], self._post.v[:] = lo, post
        order = np.argsort(self._claim.v, kind="stable")
        self._idx = order
        counts = np.bincount(self._claim.v, minlength=len(self._claim_ids))
        self._ptr = np.r_[0, np.cumsum(counts)]
        self._extra: dict[int, list[int]] = {}
        self._since_refit = 0
        return self

    # -- public API --------------------------------------------------------------------
    def _changed(self, touched: Iterable[int]) -> pd.Series:
        claims = np.unique([m for c in set(touched) for m in self._block(c)]).astype(np.int64)
        if len(claims):
            self._refresh(claims)
        if self.refit_every is not None and self._since_refit >= self.refit_every:
            self.refit()
        ids = [self._claim_ids[c] for c in claims]
        index = pd.Index(ids, name="claim_id", dtype=object)
        return pd.Series(expit(self._lo.a[claims]), index=index, name="p_true")

    def update(self, reports: Reports) -> pd.Series:
        """Add one report or a batch; return the new P(true) of the claims recomputed.

        Parameters
        ----------
        reports : Report, mapping, DataFrame or iterable of reports/mappings
            Mappings and DataFrames use the data contract's report columns and are validated
            (errors name the entry / row and the column). Unknown claims are created with
            the base rate; unknown sources get their default prior.

        Returns
        -------
        Series
            ``p_true`` by ``claim_id`` of the reports' claims and their group members.
        """
        return self._changed([self._ingest(*item) for item in report_items(reports)])

    def add_signal(self, signal: Signal | Mapping[str, Any]) -> pd.Series:
        """Add a contextual signal to its claim's prior log-odds; return the changed P(true)."""
        if not isinstance(signal, Signal):
            signal = parse_signals([signal], Origin("add_signal", "signals", csv=False))[0]
        c = self._claim_code(signal.claim_id)
        self._ell.a[c] += signal_logodds(signal, self.config)
        return self._changed([c])

    def add_claim(self, claim: Claim | Mapping[str, Any]) -> pd.Series:
        """Register a new claim (its prior, its group) before reports on it arrive."""
        if not isinstance(claim, Claim):
            claim = parse_claims([claim], Origin("add_claim", "claims", csv=False))[0]
        return self._changed([self._new_claim(claim)])

    @property
    def log_odds(self) -> pd.Series:
        """Current posterior log-odds by claim id."""
        return pd.Series(self._lo.v.copy(), index=list(self._claim_ids), name="log_odds")

    def p(self, claim_id: str) -> float:
        """Current P(true) of one claim."""
        if claim_id not in self._cindex:
            return self.result().p(claim_id)  # raises, naming known claims
        return float(expit(self._lo.a[self._cindex[claim_id]]))

    def result(self, level: float = 0.9) -> BeliefResult:
        """The current state as a :class:`~belief.result.BeliefResult` (method ``incremental``)."""
        ev = self._evidence()
        block = Block(len(ev.claim_ids), len(ev.source_ids), ev.r_claim, ev.r_source,
                      ev.r_confirm, ev.r_weight)  # fmt: skip
        lo = self._lo.v.copy()
        centre, var = interval_moments(block, ev.prior_logodds, ev.groups, self._post.v, lo)
        interval = bounds(centre, var, lo, level)
        return BeliefResult(
            posterior=posterior_frame(ev.claim_ids, lo, interval, ev.n_reports, ev.n_independent),
            log_odds=pd.Series(lo, index=list(ev.claim_ids), name="log_odds"),
            method="incremental",
            interval=Interval("reliability", level),
            config=self.config,
            reliability=reliability_frame(ev.source_ids, self._post.v.copy()),
            diagnostics={"n_reports": len(self), "since_refit": self._since_refit},
        )

    @property
    def posterior(self) -> pd.DataFrame:
        """The contract's posterior table for every claim (intervals as :mod:`belief.fast`)."""
        return self.result().posterior

    @property
    def reliability(self) -> pd.DataFrame:
        """Per-source (channel) Beta posteriors (the sufficient statistics) and their means."""
        return reliability_frame(self._labels(), self._post.v.copy())

    def __len__(self) -> int:
        """Number of reports recorded."""
        return self._claim.n

    def __repr__(self) -> str:
        return (
            f"Belief(claims={len(self._claim_ids)}, sources={len(self._source_ids)}, "
            f"reports={len(self)})"
        )
