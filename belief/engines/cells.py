"""Cells: a block of claims' reports merged per (claim, source), and the engine's two reductions.

The unit of :mod:`belief.engines.fast`'s sweeps and of :mod:`belief.engines.dask`'s partitions: a
:class:`Block` holds some claims with all their informative reports; :meth:`Block.source_stats`
is the reduce over claims, :meth:`Block.claim_sums` (and :meth:`Block.claim_moments`, for the
interval) the reduce over sources under each source's cavity Beta. See :mod:`belief.engines.fast`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from belief.core.special import cell_llr, cell_moments, trigamma

__all__ = ["Block"]

_CELL_CHUNK = 1 << 13  # cells per chunk of the sweep: its buffers stay in cache
_MOMENT_CHUNK = 1 << 14  # cells per chunk of the interval's moments
_STATS_CHUNK = 1 << 18  # cells per chunk of the reduce over claims (a count per source)


def _unit_keys(
    n_sources: int, r_claim: np.ndarray, r_source: np.ndarray, confirm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys ``(claim, source, deny)`` of unit-weight reports, and where a cell starts.

    One in-place sort (claim-major, like the cells); every temporary is reused, since at ten
    million reports each fresh array costs as much as the arithmetic on it.
    """
    key = np.multiply(r_claim, max(n_sources, 1), dtype=np.int64)
    key += r_source
    key <<= 1
    key += ~confirm
    key.sort()
    new = np.empty(len(key), dtype=bool)
    new[:1] = True
    np.not_equal(key[1:] >> 1, key[:-1] >> 1, out=new[1:])
    return key, new


def mixed_cavity(
    mixed: tuple[np.ndarray, ...], post: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, ...]:
    """General cells ``(claim, source, x, y)``: ``(x, y, a, b, c, d)`` with the cavity Beta
    parameters (the source's posterior without the cell's own expected counts)."""
    claim, source, x, y = mixed
    qc, p = q[claim], post[source]
    a, b = p[:, 0] - x * qc, p[:, 1] - y * qc
    return x, y, a, b, p[:, 2] - y * (1 - qc), p[:, 3] - x * (1 - qc)


def cavity_llr(
    wq: np.ndarray, p1: np.ndarray, p2: np.ndarray, ab: np.ndarray, cd: np.ndarray,
    w: np.ndarray | float, out: np.ndarray,
) -> None:  # fmt: skip
    """One-report cells of one stance, in place: ``out = log(p1' (c+d)' / (p2' (a+b)'))``.

    ``wq`` is the cell's weight times P(true) of its claim, ``p1, p2`` are ``(a, d)`` (confirm)
    or ``(b, c)`` (deny) of its source's posterior, ``ab, cd`` its ``a + b`` and ``c + d``; the
    cavity (primes) removes the cell's own expected counts. Every input buffer is overwritten.
    """
    p1 -= wq
    ab -= wq
    wq -= w  # now -w (1 - q)
    p2 += wq
    cd += wq
    p1 /= ab  # predictive means first: no overflow for huge prior strengths
    p2 /= cd
    np.log(np.divide(p1, p2, out=out), out=out)


class Block:
    """The informative reports of some claims, merged into (claim, source) cells.

    The unit of map-reduce: a block's claims and all their reports live together. The reduce
    over claims is a weighted count per source. In the reduce over sources, cells holding one
    report — nearly all of them — take a one-log formula over cache-sized chunks; the rare
    cells with repeated or mixed reports take the exact Beta–Binomial ratio of
    :func:`cell_llr`, so a source repeating itself on a claim is not counted as independent
    confirmations.

    Parameters
    ----------
    n_claims : int
        Number of (local) claims.
    n_sources : int
        Number of sources (global).
    r_claim, r_source, r_confirm, r_weight : array_like
        Local claim index, source index, confirm flag and weight of each report.
    """

    x_total: np.ndarray
    y_total: np.ndarray
    _pure_claim: np.ndarray
    _pure_source: np.ndarray

    def __init__(
        self,
        n_claims: int,
        n_sources: int,
        r_claim: np.ndarray,
        r_source: np.ndarray,
        r_confirm: np.ndarray,
        r_weight: np.ndarray,
    ) -> None:
        w, conf = np.asarray(r_weight, dtype=float), np.asarray(r_confirm, dtype=bool)
        self.n_claims, self.n_sources = n_claims, n_sources
        if len(w) and bool((w == 1.0).all()):  # unit reports (the usual case): one sort
            key, new = _unit_keys(n_sources, r_claim, r_source, conf)
            alone = new.copy()  # a report alone in its cell: the cell is pure
            alone[:-1] &= new[1:]
            if alone.all():  # one report per cell (the usual case)
                self._one_report(key)
                return
            many = key[~alone]  # the cells of several reports (all mixed)
            self._one_report(key[alone])
            starts = np.flatnonzero(new[~alone])
            y = np.add.reduceat((many & 1).astype(float), starts)
            x = np.diff(np.append(starts, len(many))).astype(float) - y
            claim, source = np.divmod(many[starts] >> 1, max(n_sources, 1))
            self.x_total += np.bincount(source, x, n_sources)
            self.y_total += np.bincount(source, y, n_sources)
            self._mixed = (claim, source, x, y)
            self.claim = np.concatenate([self._pure_claim, claim])
            self.source = np.concatenate([self._pure_source, source])
            self._v = np.empty(len(self.claim))
            return
        else:
            import scipy.sparse as sp  # not at import: unit reports never need it

            # one complex entry per cell, confirms + 1j * denies; CSR sums duplicates in O(n)
            data = np.where(conf, w, 1j * w).astype(complex)
            m = sp.csr_matrix((data, (r_claim, r_source)), shape=(n_claims, n_sources))
            m.sum_duplicates()
            claim = np.repeat(np.arange(n_claims), np.diff(m.indptr))
            x, y, source = m.data.real.copy(), m.data.imag.copy(), m.indices.astype(np.int64)
        self.x_total = np.bincount(source, x, n_sources)
        self.y_total = np.bincount(source, y, n_sources)
        pure = ((x == 0) | (y == 0)) & (x + y == 1.0)  # one unit report: the log formula
        self._pure_claim, self._pure_source = claim[pure], source[pure]
        self._pure_w = (x + y)[pure]
        self._unit = bool((self._pure_w == 1.0).all())
        self._pure_col = source[pure] + n_sources * (x[pure] == 0)  # into [A, B] and [D, C]
        self._mixed = (claim[~pure], source[~pure], x[~pure], y[~pure])
        self.claim = np.concatenate([claim[pure], claim[~pure]])
        self.source = np.concatenate([source[pure], source[~pure]])
        self._v = np.empty(len(self.claim))

    def _one_report(self, key: np.ndarray) -> None:
        """The cells from sorted keys holding one unit report each (``key`` is reused)."""
        n = max(self.n_sources, 1)
        col = key & 1  # deny: its column is source + n_sources (see _pure_col)
        key >>= 1
        source = key % n
        key //= n  # the claims now
        col *= self.n_sources
        col += source
        self._pure_claim, self._pure_source, self._pure_col = key, source, col
        self._pure_w = np.ones(len(key))
        self._unit = True
        counts = np.bincount(col, minlength=2 * self.n_sources)
        self.x_total = counts[: self.n_sources].astype(float)
        self.y_total = counts[self.n_sources :].astype(float)
        empty = np.zeros(0, dtype=np.int64)
        self._mixed = (empty, empty, np.zeros(0), np.zeros(0))
        self.claim, self.source = key, source
        self._v = np.empty(len(key))

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every cell as ``(claim, source, confirms, denies)`` (weighted counts)."""
        pure_x = np.where(self._pure_col < self.n_sources, self._pure_w, 0.0)
        _, _, x, y = self._mixed
        return (self.claim, self.source, np.r_[pure_x, x], np.r_[self._pure_w - pure_x, y])

    def source_stats(self, q: np.ndarray) -> np.ndarray:
        """``(S, 4)``: weighted confirms and denies on true, denies and confirms on false."""
        n, m = self.n_sources, len(self._pure_w)
        sxy = np.zeros(2 * n)
        buf = np.empty(min(m, _STATS_CHUNK))
        for i in range(0, m, _STATS_CHUNK):  # chunks: no temporary the size of the cells
            sl = slice(i, min(i + _STATS_CHUNK, m))
            wq = np.take(q, self._pure_claim[sl], out=buf[: sl.stop - sl.start], mode="clip")
            if not self._unit:
                wq *= self._pure_w[sl]
            sxy += np.bincount(self._pure_col[sl], wq, 2 * n)
        sx, sy = sxy[:n], sxy[n:]
        claim, source, x, y = self._mixed
        if len(claim):
            qm = q[claim]
            sx, sy = sx + np.bincount(source, x * qm, n), sy + np.bincount(source, y * qm, n)
        return np.column_stack([sx, sy, self.y_total - sy, self.x_total - sx])

    def _pure_chunk(self, sl: slice, cols: tuple[np.ndarray, ...], q: np.ndarray, buf) -> None:
        """Cells of one stance: w log(p1 (c+d) / (p2 (a+b))), p1, p2 = (a, d) or (b, c)."""
        wq, p1, p2, ab, cd = buf[:, : sl.stop - sl.start]
        w, v = self._pure_w[sl], self._v[sl]
        np.take(q, self._pure_claim[sl], out=wq, mode="clip")  # clip: no bounds pass, no buffer
        if not self._unit:
            wq *= w
        np.take(cols[0], self._pure_col[sl], out=p1, mode="clip")
        np.take(cols[1], self._pure_col[sl], out=p2, mode="clip")
        np.take(cols[2], self._pure_source[sl], out=ab, mode="clip")
        np.take(cols[3], self._pure_source[sl], out=cd, mode="clip")
        cavity_llr(wq, p1, p2, ab, cd, w, v)
        if not self._unit:
            v *= w

    def _cavity(self, post: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, ...]:
        return mixed_cavity(self._mixed, post, q)

    def claim_sums(self, post: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Per claim, the summed log-likelihood ratios of its cells under the cavity.

        A cell's ``x`` confirms and ``y`` denies are scored with the source's reliability
        integrated out over its cavity Betas (:func:`cell_llr`); for one report that is
        ``log(se / (1 - sp))`` or ``log((1 - se) / sp)`` with the predictive means.
        """
        post = np.asarray(post, dtype=float)
        cols = (post[:, [0, 1]].T.ravel(), post[:, [3, 2]].T.ravel(), post[:, 0] + post[:, 1],
                post[:, 2] + post[:, 3])  # fmt: skip
        n = len(self._pure_w)
        buf = np.empty((5, _CELL_CHUNK))  # reused across chunks: no allocation per chunk
        for i in range(0, n, _CELL_CHUNK):
            self._pure_chunk(slice(i, min(i + _CELL_CHUNK, n)), cols, q, buf)
        x, y, a, b, c, d = self._cavity(post, q)
        self._v[n:] = cell_llr(x, y, a, b, c, d)
        return np.bincount(self.claim, self._v, self.n_claims)

    def _pure_moments(
        self, sl: slice, cols: tuple[np.ndarray, ...], q: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of the log-likelihood ratio of the one-report cells ``sl``."""
        w, s, qc = self._pure_w[sl], self._pure_source[sl], q[self._pure_claim[sl]]
        col = self._pure_col[sl]
        p1, p2 = cols[0][col] - w * qc, cols[1][col] - w * (1 - qc)
        ab, cd = cols[2][s] - w * qc, cols[3][s] - w * (1 - qc)
        m = w * (digamma(p1) - digamma(p2) + digamma(cd) - digamma(ab))
        v = w * w * (trigamma(p1) - trigamma(ab) + trigamma(p2) - trigamma(cd))
        return m, v

    def claim_moments(self, post: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per claim, mean and variance of its summed log-likelihood ratio under the cavity Betas.

        The terms are independent across sources: digamma sums give the means, trigamma sums
        the variances (with the covariance of log θ and log(1-θ) for mixed cells).
        """
        post = np.asarray(post, dtype=float)
        cols = (np.r_[post[:, 0], post[:, 1]], np.r_[post[:, 3], post[:, 2]],
                post[:, 0] + post[:, 1], post[:, 2] + post[:, 3])  # fmt: skip
        n = len(self._pure_w)
        m, v = np.empty(len(self.claim)), np.empty(len(self.claim))
        for i in range(0, n, _MOMENT_CHUNK):  # chunks: the temporaries stay in cache
            sl = slice(i, min(i + _MOMENT_CHUNK, n))
            m[sl], v[sl] = self._pure_moments(sl, cols, q)
        m[n:], v[n:] = cell_moments(*self._cavity(post, q))
        return np.bincount(self.claim, m, self.n_claims), np.bincount(self.claim, v, self.n_claims)
