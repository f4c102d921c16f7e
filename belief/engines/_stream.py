"""The incremental engine's bookkeeping: claims, channels and coded reports that grow by one.

:class:`_Stream` holds what :class:`belief.engines.incremental.Belief` updates: claim codes and
prior log-odds (signals included), source and reliability-channel codes with their Beta
statistics, the coded reports with their attributed channel and weight, and each claim's
report index. Copy status follows the compiler's rule (:func:`belief.core.copies.resolve_copies`),
re-applied to one claim's reports whenever that claim has copies. With a copy propensity, each
report's repeat probability (:mod:`belief.core.repeats`) is kept; a claim's running state
(:class:`~belief.core.repeat_stream.ClaimRepeats`) gives a new report that comes last in the
copy order its own in O(1), and the claim's reports are replayed when a report comes earlier (an
out-of-order time), when its prior changes (a signal, a new group member), or on its first
report after the stream was loaded.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.special import expit, logit

from belief.core.compiler import (
    Evidence,
    alignment,
    channel_label,
    report_alignment,
    signal_logodds,
    source_prior_rows,
)
from belief.core.copies import copy_rank, resolve_copies
from belief.core.groups import group_logodds
from belief.core.kinds import kind_learning
from belief.core.propensity import copy_propensity
from belief.core.repeat_stream import ClaimRepeats
from belief.core.repeats import repeat_weights
from belief.data.arrays import STANCE_RANK, Growable, ReportArrays
from belief.data.types import Claim
from belief.exceptions import ValidationError
from belief.priors.config import Config


class _Stream:
    """State shared by the incremental engine's local updates and refits (see the module doc)."""

    config: Config
    _idx: np.ndarray
    _ptr: np.ndarray
    _extra: dict[int, list[int]]
    _since_refit: int

    # -- state ---------------------------------------------------------------------------
    def _load(self, ra: ReportArrays, claims: Iterable[Claim], sources, signals) -> None:
        claims = tuple(claims) or tuple(Claim(c) for c in ra.claim_ids)
        if [c.claim_id for c in claims] != list(ra.claim_ids):
            raise ValidationError("claims must list the reports' claim ids in order")
        self._sources_meta = {s.source_id: s for s in sources}
        self._claim_ids: list[str] = []
        self._cindex: dict[str, int] = {}
        self._favors: list[str | None] = []
        self._ell, self._lo = Growable([], float), Growable([], float)
        self._base = Growable([], bool)  # claims that take the base rate
        self._rate = 0.5 if self.config.base_rate is None else self.config.base_rate
        self._group, self._n_reports = Growable([], np.int64), Growable([], np.int64)
        self._groups: list[list[int]] = []
        self._gindex: dict[str, int] = {}
        for c in claims:
            self._new_claim(c)
        for s in signals:
            self._ell.a[self._cindex[s.claim_id]] += signal_logodds(s, self.config)
        self._source_ids = list(ra.source_ids)
        self._sindex = {s: i for i, s in enumerate(self._source_ids)}
        cfg = self.config
        self._repeats_on = bool(
            cfg.default_copy_propensity or cfg.copy_propensity or cfg.source_copy_propensity
        )
        self._pi = Growable(copy_propensity(self._source_ids, tuple(sources), cfg), float)
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
        full = weight == 1.0  # counted in n_independent: full weight, probably not a repeat
        rho = np.zeros(len(ra.claim))
        if self._repeats_on:
            ell = self._repeat_ell(np.arange(len(self._claim_ids)))
            p_true = expit(group_logodds(ell, [g for g in self._groups if len(g) > 1]))
            rho = self._repeat_rho(ra, attr, p_true)
            weight, full = weight * (1.0 - rho), full & (rho < 0.5)
        self._weight, self._full = Growable(weight, float), Growable(full, bool)
        self._rho = Growable(rho, float)  # repeat probability of each report
        self._rep: dict[int, ClaimRepeats] = {}  # running repeat state of claims updated
        self._copy_claims = set(np.unique(ra.claim[ra.derived >= 0]).tolist())
        np.add.at(self._n_reports.a, ra.claim, 1)
        self._lo.v[:] = group_logodds(self._ell.v, [g for g in self._groups if len(g) > 1])

    def _new_claim(self, claim: Claim) -> int:
        if claim.claim_id in self._cindex:
            raise ValidationError(f"claim {claim.claim_id!r} already exists")
        c = len(self._claim_ids)
        self._claim_ids.append(claim.claim_id)
        self._cindex[claim.claim_id] = c
        self._favors.append(claim.favors)
        prior = self._rate if claim.prior is None else claim.prior
        self._base.append(claim.prior is None)
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
            meta = tuple(self._sources_meta.values())
            self._pi.append(float(copy_propensity([source_id], meta, self.config)[0]))
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
        chans = [self._channel_of(int(src[k]), c) for k in range(len(idx))]
        rho = self._rho.a[idx]
        self._full.a[idx] = (weight == 1.0) & (rho < 0.5)
        weight = weight * (1.0 - rho)
        for k, i in enumerate(idx.tolist()):
            ch = chans[k]
            if ch != self._attr.a[i] or weight[k] != self._weight.a[i]:
                self._reattribute(i, ch, float(weight[k]))

    def _repeat_ell(self, claims: np.ndarray) -> np.ndarray:
        """Prior log-odds of ``claims`` as the repeat rule has them (before groups).

        The base-rate claims start at ``repeat_base_rate``, else at the starting base rate, as
        in the compiler (not at the rate a refit learned).
        """
        cfg = self.config
        start = cfg.repeat_base_rate
        start = (0.5 if cfg.base_rate is None else cfg.base_rate) if start is None else start
        shift = float(logit(self._rate) - logit(start))
        out: np.ndarray = self._ell.a[claims] - np.where(self._base.a[claims], shift, 0.0)
        return out

    def _repeat_rho(self, ra: ReportArrays, chans: np.ndarray, p_true: np.ndarray) -> np.ndarray:
        """``rho`` of every report of ``ra`` at once (the compiler's rule, as at load)."""
        rank = copy_rank(ra)
        informative = ra.stance != 0
        rho = np.zeros(len(ra.claim))
        rho[informative] = repeat_weights(
            ra.claim[informative], ra.source[informative], ra.stance[informative] > 0,
            rank[informative], ra.derived[informative] < 0, self._pi.a[ra.source[informative]],
            p_true, self._prior.a[chans[informative]],
        )  # fmt: skip
        return rho

    def _key(self, i: int) -> tuple[int, str, int, int]:
        """Report ``i``'s key in the copy order (time, source id, stance rank, position)."""
        s, st = int(self._source.a[i]), int(self._stance.a[i])
        return int(self._time.a[i]), self._source_ids[s], int(STANCE_RANK[st + 1]), i

    def _repeat_claim(self, c: int) -> None:
        """Replay the repeat rule over claim ``c``'s reports; apply the weights that changed."""
        idx = self._reports_of([c])
        sus = idx[(self._stance.a[idx] != 0) & (self._derived.a[idx] < 0)]
        src = self._source.a[sus]
        block = self._block(c)
        lo = group_logodds(self._repeat_ell(np.array(block)), [list(range(len(block)))])
        p_true = float(expit(lo[block.index(c)]))
        self._rep[c], self._rho.a[sus] = ClaimRepeats.replay(
            p_true, [self._key(i) for i in sus.tolist()], src, self._stance.a[sus] > 0,
            self._pi.a[src], self._prior.a[self._attr.a[sus]],
        )  # fmt: skip
        if c in self._copy_claims:
            self._resolve_claim(c)
            return
        rho = self._rho.a[sus]  # no copies: originals only, full weight but for repeats
        self._full.a[sus] = rho < 0.5
        for i, w in zip(sus.tolist(), (1.0 - rho).tolist()):
            if w != self._weight.a[i]:
                self._reattribute(i, int(self._attr.a[i]), w)

    def _ingest(self, cid: str, sid: str, stance: int, did: str | None, t: int) -> int:
        """Record one report; resolve its claim's copies again if it has any."""
        c, s = self._claim_code(cid), self._source_code(sid)
        d = -1 if did is None else self._source_code(did)
        i, ch = self._claim.n, self._channel_of(s, c)
        rho, replay = 0.0, False
        if self._repeats_on and stance != 0 and d < 0:  # may be an unattributed repeat
            state, key = self._rep.get(c), (t, self._source_ids[s], int(STANCE_RANK[stance + 1]), i)
            if state is not None and state.follows(key):  # it comes last: O(1)
                rho = state.add(key, s, stance > 0, self._pi.a[s], self._prior.a[ch])
            else:
                replay = True
        for arr, value in zip(
            (self._claim, self._source, self._stance, self._derived, self._time, self._attr,
             self._weight, self._full, self._rho),
            (c, s, stance, d, t, ch, 1.0 - rho, rho < 0.5, rho),
        ):  # fmt: skip
            arr.append(value)
        self._contribute(i, 1.0)
        self._extra.setdefault(c, []).append(i)
        self._n_reports.a[c] += 1
        self._since_refit += 1
        if d >= 0:
            self._copy_claims.add(c)
        if replay:
            self._repeat_claim(c)
        elif c in self._copy_claims:
            self._resolve_claim(c)
        return c

    def _labels(self) -> list[str]:
        return [
            channel_label(self._source_ids[s], a) for s, a in zip(self._chan_src, self._chan_align)
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
                self._claim.v[keep & self._full.v], minlength=len(self._claim_ids)
            ) if n else np.zeros(len(self._claim_ids), np.int64),
            base_mask=self._base.v.copy() if self.config.base_rate is None else None,
            base_start=self._rate,
            base_prior=self.config.base_rate_prior,
            kinds=kind_learning([self._source_ids[s] for s in self._chan_src], self._chan_align,
                                self._sources_meta, self.config, prior),
        )  # fmt: skip
