"""Rank-normalized split R-hat and bulk / tail ESS, vectorized over many parameters.

The statistics of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021, *Bayesian Analysis*
16(2)), computed exactly as ArviZ's ``az.rhat`` (``method="rank"``) and ``az.ess``
(``method="bulk"`` and ``"tail"``) compute them, but for every parameter at once: ArviZ loops
over the elements of a variable in Python. On 4 chains x 1,000 draws of 2,300 parameters (the
2,000-claim case of ``benchmarks/model_speed.py``) this took 5.9-6.5 s against ArviZ's
10.3-13.2 s, measured back to back on a loaded 2-core machine (memory-bound passes over the
draws remain). ``tests/model/test_convergence.py`` holds them to ArviZ.

Every function takes draws of shape ``(chain, draw, n)`` and returns one value per parameter
(``n``).
"""

from __future__ import annotations

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import ndtri

__all__ = ["ess_bulk", "ess_tail", "rank_rhat", "summary"]


def _split(x: np.ndarray) -> np.ndarray:
    """Each chain cut in two halves (the middle draw dropped when odd): ``(2 chain, half, n)``."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks (1-based, ties averaged: ``scipy.stats.rankdata(method="average")``) along the
    last axis of a 2-d array, one sort per row (rankdata along an axis was the slow part)."""
    order = np.argsort(a, axis=-1)  # ties get the same average rank whatever their order
    s = np.take_along_axis(a, order, axis=-1)
    m = a.shape[-1]
    out = np.empty(a.shape)
    tie = s[:, 1:] == s[:, :-1]
    rows = np.flatnonzero(tie.any(axis=1))
    pos = np.broadcast_to(np.arange(1.0, m + 1.0), a.shape)
    np.put_along_axis(out, order, pos, axis=-1)  # no ties: the position in the sorted row
    if rows.size:  # rows with ties: each tie group gets the mean of its positions
        first = np.ones((rows.size, m), dtype=bool)
        first[:, 1:] = ~tie[rows]
        last = np.ones((rows.size, m), dtype=bool)
        last[:, :-1] = first[:, 1:]
        idx = np.broadcast_to(np.arange(m), first.shape)
        start = np.maximum.accumulate(np.where(first, idx, 0), axis=-1)
        end = np.minimum.accumulate(np.where(last, idx, m)[:, ::-1], axis=-1)[:, ::-1]
        fixed = np.empty((rows.size, m))
        np.put_along_axis(fixed, order[rows], (start + end) / 2.0 + 1.0, axis=-1)
        out[rows] = fixed
    return out


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks over all draws of each parameter (Blom's offset 3/8)."""
    size = x.shape[0] * x.shape[1]
    ranks = _ranks(np.ascontiguousarray(x.reshape(size, -1).T)).T
    return ndtri((ranks - 0.375) / (size + 0.25)).reshape(x.shape)


def _rhat(x: np.ndarray) -> np.ndarray:
    n_draw = x.shape[1]
    between = n_draw * np.var(x.mean(axis=1), axis=0, ddof=1)
    within = np.mean(np.var(x, axis=1, ddof=1), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n_draw - 1) / n_draw)


def _invalid(x: np.ndarray, min_chains: int) -> np.ndarray:
    bad = np.isnan(x).any(axis=(0, 1))
    return bad | (x.shape[1] < 4) | (x.shape[0] < min_chains)


def summary(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rank_rhat`, :func:`ess_bulk` and :func:`ess_tail` of ``x`` (the normal scores of
    the split chains computed once for R-hat and the bulk ESS).

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(4, 500, 3))
    >>> [v.shape for v in summary(x)]
    [(3,), (3,), (3,)]
    """
    x = np.asarray(x, dtype=float)
    z = _z_scale(_split(x))
    return _rank_rhat(x, z), _ess_bulk(x, z), ess_tail(x)


def rank_rhat(x: np.ndarray) -> np.ndarray:
    """Rank-normalized split R-hat: the larger of the bulk and the folded (tail) R-hat.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4, 500, 2))
    >>> x[0, :, 1] += 3.0  # one chain elsewhere
    >>> (rank_rhat(x) > 1.01).tolist()
    [False, True]
    """
    x = np.asarray(x, dtype=float)
    return _rank_rhat(x, _z_scale(_split(x)))


def _rank_rhat(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    s = _split(x)
    bulk = _rhat(z)
    median = np.median(s.reshape(-1, s.shape[2]), axis=0)
    tail = _rhat(_z_scale(np.abs(s - median)))
    out = np.where(np.isnan(bulk) | ~(tail > bulk), bulk, tail)  # Python's max(bulk, tail)
    return np.where(_invalid(x, 2), np.nan, out)


def _ess(x: np.ndarray) -> np.ndarray:
    """Effective sample size of each parameter of ``x`` (chain, draw, n), Geyer's initial
    monotone sequence estimator of the autocorrelation time."""
    n_chain, n_draw, _ = x.shape
    const = (x.max(axis=(0, 1)) - x.min(axis=(0, 1))) < np.finfo(float).resolution
    centred = x - x.mean(axis=1, keepdims=True)
    m = next_fast_len(2 * n_draw)
    f = rfft(centred, n=m, axis=1)
    acov = irfft(f * np.conjugate(f), n=m, axis=1)[:, :n_draw] / n_draw
    mean_var = acov[:, 0].mean(axis=0) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus = var_plus + np.var(x.mean(axis=1), axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus  # (lag, n)
    rho[0] = 1.0
    # pairs (2j, 2j + 1): j = 1 .. n_pairs are the ones Geyer's loop may compute
    n_pairs = max(0, (n_draw - 3) // 2)
    pairs = rho[0 : 2 * n_pairs + 2 : 2] + rho[1 : 2 * n_pairs + 2 : 2]  # (n_pairs + 1, n)
    stop = ~(pairs[1:] > 0)  # the loop stops at the first pair whose sum is not positive
    first = np.where(stop.any(axis=0), stop.argmax(axis=0) + 1, n_pairs)
    k = np.where(pairs[0] > 0, first, 0)  # pairs computed
    # the monotone sequence: running minimum of the pair sums; sum of pairs 0 .. k - 1
    summed = np.concatenate([np.zeros((1, x.shape[2])), np.cumsum(
        np.minimum.accumulate(pairs, axis=0), axis=0)])  # fmt: skip
    cols = np.arange(x.shape[2])
    even = rho[2 * k, cols]
    kept = np.where(k > 0, pairs[k, cols] >= 0, True) | (even > 0)
    tau = -1.0 + 2.0 * summed[k, cols] + np.where(kept, even, 0.0)
    size = n_chain * n_draw
    ess = size / np.maximum(tau, 1.0 / np.log10(size))
    ess = np.where(np.isnan(rho[: 2 * n_pairs + 2]).any(axis=0), np.nan, ess)
    return np.where(const, float(size), ess)


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk ESS: the ESS of the normal scores of the ranks of the split chains.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(4, 500, 1))
    >>> bool(1500 < ess_bulk(x)[0] < 2500)
    True
    """
    x = np.asarray(x, dtype=float)
    return _ess_bulk(x, _z_scale(_split(x)))


def _ess_bulk(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.where(_invalid(x, 1), np.nan, _ess(z))


def ess_tail(x: np.ndarray) -> np.ndarray:
    """Tail ESS: the smaller ESS of the indicators of the 5% and 95% quantiles.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(4, 500, 1))
    >>> bool(1000 < ess_tail(x)[0] < 3000)
    True
    """
    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1, x.shape[2])
    out = [_ess(_split((x <= np.quantile(flat, p, axis=0)).astype(float))) for p in (0.05, 0.95)]
    return np.where(_invalid(x, 1), np.nan, np.minimum(*out))
