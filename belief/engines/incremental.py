"""Incremental belief: add reports and signals one at a time without recomputing the world.

:class:`Belief` keeps the state of the fast engine (:mod:`belief.engines.fast`): each claim's
current log-odds and, per source, the Beta posteriors of sensitivity and specificity as *sufficient
statistics* ``prior + sum of weighted confirms/denies times P(true) / P(false)`` of the claims
it reported on. The invariant is that these statistics always equal what the claims' current
P(true) imply; :meth:`Belief.update` keeps it exactly.

What an update recomputes
-------------------------
For a new report on claim *c* (or a signal on *c*):

1. the report is recorded and its weight added to its source's statistics at *c*'s current
   P(true); when *c* has copies, *c*'s copy status is resolved again with the compiler's rule
   (:func:`belief.core.compiler.resolve_copies` on *c*'s reports: a late original, a chain or an
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
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from scipy.special import expit

from belief.core.compiler import (
    Evidence,
    report_arrays_from_case,
    signal_logodds,
)
from belief.core.groups import group_logodds
from belief.core.hyper import learn_hyper
from belief.core.special import cell_llr
from belief.data.arrays import ReportArrays
from belief.data.streaming import report_items
from belief.data.types import Case, Claim, Report, Signal, Source
from belief.data.validation import Origin, parse_claims, parse_signals
from belief.engines._stream import _Stream
from belief.engines.cells import Block
from belief.engines.fast import (
    EXACT_STATES,
    bounds,
    exact_small_components,
    interval_moments,
    run_vb,
)
from belief.engines.result import BeliefResult, Interval, posterior_frame, reliability_frame
from belief.priors.config import Config, as_config

__all__ = ["Belief"]

Reports: TypeAlias = Report | Mapping[str, Any] | Iterable[Any] | pd.DataFrame


class Belief(_Stream):
    """Posteriors that follow a stream of reports and signals (see the module doc).

    Parameters
    ----------
    case : Case, optional
        Initial claims, sources, reports and signals (fitted at construction).
    config : Config, optional
        Engine settings; default ``Config.from_case(case)`` or ``Config()``.
    tol, max_iter, damping : float, int, float or None
        Convergence settings of the full sweeps (:func:`belief.engines.fast.infer_fast`); ``tol``
        also ends a group's local sweeps.
    local_sweeps : int
        Upper bound on local sweeps of a group (a free claim needs one).
    refit_every : int, optional
        Run :meth:`refit` after this many reports since the last one.

    Examples
    --------
    >>> from belief.data.types import Report, Source
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
        self.refit()

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
        """Build from coded reports (e.g. :func:`belief.data.streaming.read_reports`), no Case."""
        self = cls(None, config, **options)
        claims = claims if claims is not None else tuple(Claim(c) for c in arrays.claim_ids)
        self._load(arrays, claims, sources, signals)
        return self.refit()

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
            new = damping * lo + (1 - damping) * group_logodds(g, groups)
            dq = expit(new) - q
            np.add.at(post, cs, np.column_stack([x, y, -y, -x]) * dq[cc][:, None])
            self._lo.a[claims] = new
            if np.max(np.abs(dq), initial=0.0) < self.tol:
                break

    def refit(self) -> Belief:
        """Full sweeps from the current state to the batch fixed point; resets the indexes."""
        ev = self._evidence()
        limit = min(EXACT_STATES, 2**self.config.max_enumeration)
        warm = [self._lo.v.copy()]

        def at(e: Evidence) -> tuple[np.ndarray, None]:
            lo = run_vb(e, tol=self.tol, max_iter=self.max_iter, damping=self.damping,
                        init=warm[0])[0]  # fmt: skip
            exact_small_components(e, lo, limit)
            warm[0] = lo
            return lo, None

        # learn the base rate and kind reliability, as fast (belief.core.hyper)
        ev, _, learned = learn_hyper(ev, at, xtol=max(self.tol, 1e-12))
        if "base_rate" in learned:
            self._ell.v[:] = ev.prior_logodds
            self._rate = float(learned["base_rate"])  # type: ignore[arg-type]
        self._learned = learned
        lo, post, *_ = run_vb(
            ev, tol=self.tol, max_iter=self.max_iter, damping=self.damping, init=warm[0]
        )
        if len(
            exact_small_components(ev, lo, limit)
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
        if self._repeats_on:  # repeat weights use the claims' prior
            for m in self._block(c):
                self._repeat_claim(m)
        return self._changed([c])

    def add_claim(self, claim: Claim | Mapping[str, Any]) -> pd.Series:
        """Register a new claim (its prior, its group) before reports on it arrive."""
        if not isinstance(claim, Claim):
            claim = parse_claims([claim], Origin("add_claim", "claims", csv=False))[0]
        c = self._new_claim(claim)
        if self._repeats_on:  # a new member changes its group's prior, which repeats use
            for m in self._block(c):
                if m != c:
                    self._repeat_claim(m)
        return self._changed([c])

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
        """The current state as a :class:`~belief.engines.result.BeliefResult` (``incremental``)."""
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
            diagnostics={
                "n_reports": len(self),
                "since_refit": self._since_refit,
                **({"base_rate": self._rate} if self.config.base_rate is None else {}),
                **{k: v for k, v in self._learned.items() if k == "kind_reliability"},
            },
        )

    @property
    def posterior(self) -> pd.DataFrame:
        """The contract's posterior table for every claim (intervals as the fast engine's)."""
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
