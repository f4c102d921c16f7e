"""Special functions the engines share: log-Beta ratios, the cell likelihood ratio, trigamma.

numpy/scipy only. :func:`lgamma_diff` keeps log-gamma differences exact for huge arguments
(very strong priors); :func:`cell_llr` integrates a source's reliability out of one
(claim, source) cell; :func:`trigamma` is a fast vectorized trigamma for the interval moments.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

__all__ = ["cell_llr", "cell_moments", "lgamma_diff", "log_beta_ratio", "trigamma"]

_STIRLING_FROM = 1e5  # above this, log-gamma differences use Stirling (error < 1e-17)


def lgamma_diff(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``gammaln(x + n) - gammaln(x)`` without cancellation when ``x`` is huge.

    For ``x`` above 1e5 (very strong priors) the direct difference of two numbers of size
    ``x log x`` loses all precision; Stirling's series for the difference keeps it.

    Examples
    --------
    >>> bool(np.isclose(lgamma_diff(np.array(1e12), np.array(1.0)), np.log(1e12), rtol=1e-15))
    True
    """
    x, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
    big = x > _STIRLING_FROM
    xs = np.where(big, x, _STIRLING_FROM + 1.0)
    stirling = (
        n * np.log(xs)
        + (xs + n - 0.5) * np.log1p(n / xs)
        - n
        + (1 / (12 * (xs + n)) - 1 / (12 * xs))
    )
    small = np.where(big, 1.0, x)
    out: np.ndarray = np.where(big, stirling, gammaln(small + n) - gammaln(small))
    return out


def log_beta_ratio(a: np.ndarray, b: np.ndarray, n1: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """``log B(a + n1, b + n2) - log B(a, b)``: the Beta-Binomial sequence log-likelihood."""
    out: np.ndarray = lgamma_diff(a, n1) + lgamma_diff(b, n2) - lgamma_diff(a + b, n1 + n2)
    return out


def cell_llr(
    x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray
) -> np.ndarray:
    """Log-likelihood ratio (true vs false) of ``x`` confirms and ``y`` denies by one source.

    Sensitivity ~ Beta(a, b) and specificity ~ Beta(c, d) are integrated out exactly:
    ``log B(a + x, b + y) / B(a, b) - log B(c + y, d + x) / B(c, d)``. For one confirm this is
    ``log(a / (a + b)) - log(d / (c + d))``; repeated reports of one source add less and less.

    Examples
    --------
    >>> one = cell_llr(np.array(1.0), np.array(0.0), 2.6, 1.4, 2.6, 1.4)
    >>> round(float(one), 4) == round(float(np.log(0.65 / 0.35)), 4)
    True
    >>> five = cell_llr(np.array(5.0), np.array(0.0), 2.6, 1.4, 2.6, 1.4)
    >>> bool(five < 5 * one)
    True
    """
    out: np.ndarray = log_beta_ratio(a, b, x, y) - log_beta_ratio(c, d, y, x)
    return out


def trigamma(x: np.ndarray) -> np.ndarray:
    """Trigamma function for x > 0 (relative error < 1e-9; ``polygamma(1, x)`` is ~50× slower).

    Six steps of the recurrence below 6, then the asymptotic series.

    Examples
    --------
    >>> round(float(trigamma(np.array([1.0]))[0]), 9)  # pi**2 / 6
    1.644934067
    """
    x = np.asarray(x, dtype=float)
    acc, small = np.zeros_like(x), x < 6.0
    xs = x[small]
    for k in range(6):  # psi1(x) = sum_{k<6} 1 / (x + k)**2 + psi1(x + 6), where x < 6 only
        acc[small] += 1.0 / (xs + k) ** 2
    x = np.where(small, x + 6.0, x)
    inv = 1.0 / x
    inv2 = inv * inv
    tail = inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (1 / 30 - inv2 * 5 / 66))))
    return acc + inv + inv2 / 2 + inv * tail


def cell_moments(
    x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of a cell's log-likelihood ratio (``x`` confirms, ``y`` denies) over
    independent Betas: sensitivity ``Beta(a, b)``, specificity ``Beta(c, d)``.

    The ratio is ``x log θ + y log(1-θ) - x log(1-φ) - y log φ``; digammas give its mean,
    trigammas its variance (with the covariance of log θ and log(1-θ), and of log φ and
    log(1-φ)).

    Examples
    --------
    >>> m, v = cell_moments(*(np.array([t]) for t in (1.0, 0.0, 8.0, 2.0, 7.0, 3.0)))
    >>> from scipy.special import digamma
    >>> bool(np.isclose(m[0], digamma(8) - digamma(10) - digamma(3) + digamma(10)))
    True
    """
    dab, dcd = digamma(a + b), digamma(c + d)
    m = x * (digamma(a) - digamma(d)) + y * (digamma(b) - digamma(c)) + (x + y) * (dcd - dab)
    tab, tcd = trigamma(a + b), trigamma(c + d)
    v = x * x * (trigamma(a) - tab + trigamma(d) - tcd)  # var log θ, log(1-φ)
    v += y * y * (trigamma(b) - tab + trigamma(c) - tcd)  # var log(1-θ), log φ
    v -= 2 * x * y * (tab + tcd)  # cov(log θ, log(1-θ)) + cov(log φ, log(1-φ))
    return m, v
