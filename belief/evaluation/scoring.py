"""Scoring rules and calibration diagnostics for predicted probabilities of resolved claims.

Metrics take ``p`` (predicted P(claim true), in [0, 1]) and ``y`` (outcomes, 0/1 or bool) and
return floats or DataFrames, never NaN. Bad input, or a metric undefined for the data, raises
:class:`~belief.exceptions.ValidationError` naming the value (:func:`score_all` omits the metric).
:func:`cross_validate` scores a fitting procedure on held-out claims, folding by group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, logit
from scipy.stats import rankdata

from belief.exceptions import ValidationError

#: Floor on probabilities before logs: :func:`log_score` floors P(observed outcome) at ``_EPS``,
#: :func:`calibration_slope_intercept` clips ``p`` to [_EPS, 1 - _EPS] before the logit.
_EPS = 1e-15
_FloatArray = NDArray[np.float64]


def _numeric(values: ArrayLike, name: str) -> tuple[_FloatArray, np.ndarray]:
    """Return ``values`` as floats, and as given (for error messages)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional, got shape {arr.shape}")
    try:
        if arr.dtype.kind in "biufO":
            return arr.astype(np.float64), arr
    except (TypeError, ValueError):
        pass
    raise ValidationError(f"{name} must hold numbers, got dtype {arr.dtype}")


def _first_bad(bad: NDArray[np.bool_], orig: np.ndarray, head: str, tail: str = "") -> None:
    """Raise naming how many entries are ``bad`` and the first of them."""
    if bad.any():
        i, n = int(np.flatnonzero(bad)[0]), int(bad.sum())
        value = orig[i].item() if isinstance(orig[i], np.generic) else orig[i]
        raise ValidationError(
            head.format(n=n, s="s" if n > 1 else "") + f" (first at index {i}: {value!r}){tail}"
        )


def _check_p(p: ArrayLike, name: str = "y_prob") -> _FloatArray:
    arr, orig = _numeric(p, name)
    allowed = "; allowed: finite numbers in [0, 1]"
    _first_bad(~np.isfinite(arr), orig, name + " contains {n} non-finite value{s}", allowed)
    _first_bad((arr < 0) | (arr > 1), orig, name + " contains {n} value{s} outside [0, 1]")
    return arr


def _check(p: ArrayLike, y: ArrayLike) -> tuple[_FloatArray, _FloatArray]:
    """Validate and return ``p`` and ``y`` as float arrays of equal, non-zero length."""
    p_arr, (y_arr, y_orig) = _check_p(p), _numeric(y, "y_true")
    if len(p_arr) != len(y_arr):
        raise ValidationError(f"y_true and y_prob differ in length: {len(y_arr)} and {len(p_arr)}")
    if len(p_arr) == 0:
        raise ValidationError("y_true and y_prob are empty; at least one prediction is needed")
    bad = (y_arr != 0) & (y_arr != 1)
    _first_bad(bad, y_orig, "y_true contains {n} value{s} not in {{0, 1, False, True}}")
    return p_arr, y_arr


def _check_number(value: Any, name: str, low: int, high: float = np.inf) -> Any:
    """Integer >= ``low`` if ``high`` is infinite, else a real number in [low, high]."""
    kinds = int | np.integer if high == np.inf else int | float | np.integer | np.floating
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        allowed = f"an integer >= {low}" if high == np.inf else f"a number in [{low}, {high}]"
        raise ValidationError(f"{name} must be {allowed}, got {value!r}")
    return value


def brier(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Brier score: the mean squared difference between ``p`` and the outcome (lower is better).

    Examples
    --------
    >>> brier([1, 0], [0.9, 0.2])
    0.025
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    return float(np.mean((p_arr - y_arr) ** 2))


def log_score(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Mean negative log-likelihood in nats (lower is better).

    The probability given to the observed outcome is floored at ``_EPS = 1e-15``, so each claim
    costs at most ``-log(1e-15) ≈ 34.5`` nats and the score is always finite.

    Examples
    --------
    >>> round(log_score([1, 0], [0.5, 0.5]), 6)
    0.693147
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    q = np.where(y_arr == 1, p_arr, 1 - p_arr)
    return float(-np.mean(np.log(np.maximum(q, _EPS))))


def accuracy(y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 0.5) -> float:
    """Share of claims classified correctly, predicting true when ``p >= threshold``.

    Examples
    --------
    >>> accuracy([1, 0, 0], [0.9, 0.5, 0.4])
    0.6666666666666666
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    return float(np.mean((p_arr >= _check_number(threshold, "threshold", 0, 1)) == (y_arr == 1)))


def auc(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Area under the ROC curve: P(p of a true claim > p of a false one), ties counting half.

    Computed from the Mann–Whitney U statistic with mid-ranks. Raises
    :class:`~belief.exceptions.ValidationError` if ``y`` holds only one class.

    Examples
    --------
    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8])
    0.875
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    n1, n0 = int(y_arr.sum()), int(len(y_arr) - y_arr.sum())
    if n1 == 0 or n0 == 0:
        raise ValidationError(f"auc needs a 0 and a 1 in y, got {n1} ones and {n0} zeros")
    return float((rankdata(p_arr)[y_arr == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def reliability_table(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Observed frequency of true claims in equal-width bins of predicted probability.

    Bin ``k`` (0-based) holds ``k / n_bins <= p < (k + 1) / n_bins``, computed as
    ``floor(p * n_bins)``; ``p = 1`` goes to the last bin. Empty bins are left out, so every
    row has ``count >= 1`` and no NaN. Columns: ``bin_low``, ``bin_high``, ``count``,
    ``mean_predicted``, ``observed_frequency``.

    Examples
    --------
    >>> reliability_table([0, 1, 1], [0.1, 0.15, 0.9], n_bins=2)
       bin_low  bin_high  count  mean_predicted  observed_frequency
    0      0.0       0.5      2           0.125                 0.5
    1      0.5       1.0      1           0.900                 1.0
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    n_bins = int(_check_number(n_bins, "n_bins", 1))
    idx = np.minimum(np.floor(p_arr * n_bins).astype(int), n_bins - 1)
    agg = (
        pd.DataFrame({"p": p_arr, "y": y_arr})
        .groupby(idx)
        .agg(count=("p", "size"), mean_predicted=("p", "mean"), observed_frequency=("y", "mean"))
    )
    bins = agg.index.to_numpy()
    agg.insert(0, "bin_high", (bins + 1) / n_bins)
    agg.insert(0, "bin_low", bins / n_bins)
    return agg.reset_index(drop=True)


def ece(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> float:
    r"""Expected calibration error: count-weighted mean \|mean_predicted - observed_frequency\|.

    Uses the equal-width bins of :func:`reliability_table`; empty bins carry no weight.

    Examples
    --------
    >>> round(ece([0, 1, 0, 1], [0.05, 0.15, 0.15, 0.95]), 6)
    0.2
    """
    p, y = y_prob, y_true
    table = reliability_table(y, p, n_bins)
    gap = (table["mean_predicted"] - table["observed_frequency"]).abs()
    return float((gap * table["count"]).sum() / table["count"].sum())


def _newton_logistic(x: _FloatArray, y: _FloatArray) -> _FloatArray:
    """Maximum-likelihood (slope, intercept) of ``y ~ Bernoulli(expit(intercept + slope x))``."""
    design = np.column_stack([x, np.ones_like(x)])

    def loglik(b: _FloatArray) -> float:
        return float(np.sum(y * (design @ b) - np.logaddexp(0, design @ b)))

    beta = np.array([0.0, logit(y.mean())])
    ll = loglik(beta)
    for _ in range(100):
        mu = expit(design @ beta)
        hess = design.T @ (design * (mu * (1 - mu))[:, None])
        step = np.linalg.solve(hess, design.T @ (y - mu))
        t = 1.0
        while loglik(beta + t * step) < ll - 1e-9 and t > 1e-8:
            t /= 2
        beta, ll = beta + t * step, loglik(beta + t * step)
        if np.max(np.abs(t * step)) < 1e-10:
            return beta
    raise ValidationError("calibration fit did not converge in 100 Newton steps")


def calibration_slope_intercept(y_true: ArrayLike, y_prob: ArrayLike) -> tuple[float, float]:
    """Logistic recalibration: fit ``y ~ Bernoulli(expit(intercept + slope * logit(p)))``.

    Fitted by maximum likelihood (Newton's method with step halving) on ``logit(p)``, ``p``
    clipped to ``[_EPS, 1 - _EPS]``. Returns ``(slope, intercept)``: perfect calibration gives
    (1, 0), a slope below 1 means over-confidence. Raises ``ValidationError`` when no finite fit
    exists (``y`` has one class, ``p`` is constant or separates the classes perfectly).

    Examples
    --------
    >>> p = [0.2, 0.2, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8, 0.8]
    >>> y = [1, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    >>> [round(v, 3) for v in calibration_slope_intercept(y, p)]
    [0.646, -0.49]
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    x = logit(np.clip(p_arr, _EPS, 1 - _EPS))
    x1, x0 = x[y_arr == 1], x[y_arr == 0]
    if min(len(x1), len(x0)) == 0 or x0.max() <= x1.min() or x1.max() <= x0.min():
        raise ValidationError(
            f"calibration slope is undefined (got {len(x1)} ones, {len(x0)} zeros): y needs both "
            "classes and p must not be constant or separate them, else the slope is infinite"
        )
    slope, intercept = _newton_logistic(x, y_arr)
    return float(slope), float(intercept)


def macro_f1(y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 0.5) -> float:
    """F1 averaged over the true and the false class, predicting true when ``p >= threshold``.

    A class absent from both ``y`` and the predictions is left out of the average (its F1 is
    0/0); if both are present everywhere this is the usual unweighted mean of the two F1s.

    Examples
    --------
    >>> round(macro_f1([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.6]), 6)
    0.733333
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    pred = p_arr >= _check_number(threshold, "threshold", 0, 1)
    truth = y_arr == 1
    wrong = np.sum(pred != truth)  # F1 of a class = 2 TP / (2 TP + FP + FN)
    twice_tp = [2 * np.sum(pred & truth), 2 * np.sum(~pred & ~truth)]
    return float(np.mean([t / (t + wrong) for t in twice_tp if t + wrong > 0]))


def score_all(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> dict[str, float]:
    """All metrics at once, as a dict for summary tables.

    Keys ``n``, ``brier``, ``log_score``, ``ece``, ``accuracy``, ``macro_f1``, ``auc``, ``slope``,
    ``intercept``; undefined metrics are omitted, not NaN: ``auc`` if ``y`` has one class,
    ``slope`` and ``intercept`` if :func:`calibration_slope_intercept` has no finite fit.

    Examples
    --------
    >>> sorted(score_all([1, 1], [0.9, 0.9]))
    ['accuracy', 'brier', 'ece', 'log_score', 'macro_f1', 'n']
    """
    p, y = y_prob, y_true
    p_arr, y_arr = _check(p, y)
    out: dict[str, float] = {"n": len(p_arr)}
    for name, fn in (("brier", brier), ("log_score", log_score), ("accuracy", accuracy)):
        out[name] = fn(y_arr, p_arr)
    out["ece"] = ece(y_arr, p_arr, n_bins)
    out["macro_f1"] = macro_f1(y_arr, p_arr)
    if 0 < y_arr.sum() < len(y_arr):
        out["auc"] = auc(y_arr, p_arr)
    try:
        out["slope"], out["intercept"] = calibration_slope_intercept(y_arr, p_arr)
    except ValidationError:
        pass
    return out


def missing_reasons(y_true: ArrayLike, y_prob: ArrayLike) -> dict[str, str]:
    """Why a metric of :func:`score_all` is undefined on these predictions (metric -> reason).

    Examples
    --------
    >>> missing_reasons([1, 1], [0.9, 0.8])["auc"]
    'every held-out claim is true: AUC needs both outcomes'
    """
    p, y = _check(y_prob, y_true)
    out: dict[str, str] = {}
    if y.sum() in (0, len(y)):
        which = "true" if y.sum() else "false"
        out["auc"] = f"every held-out claim is {which}: AUC needs both outcomes"
    done = score_all(y, p)
    if "slope" not in done:
        out["slope"] = out["intercept"] = (
            "no finite logistic fit: the predictions separate the outcomes perfectly, or one "
            "outcome is missing"
        )
    return out
