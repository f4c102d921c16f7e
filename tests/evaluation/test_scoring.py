"""Tests of belief.evaluation.scoring against independent oracles (hand sums, brute force)."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import mannwhitneyu

from belief.data.types import Case, Claim, Report, Source
from belief.evaluation.crossval import CVResult, cross_validate
from belief.evaluation.scoring import (
    accuracy,
    auc,
    brier,
    calibration_slope_intercept,
    ece,
    log_score,
    macro_f1,
    reliability_table,
    score_all,
)
from belief.exceptions import ValidationError

METRICS = ["brier", "log_score", "ece", "accuracy", "auc", "slope", "intercept", "macro_f1"]


# ----------------------------------------------------------------------------- simple metrics


def test_brier_hand_computed():
    # (0.9-1)^2 + (0.2-0)^2 + (0.6-0)^2 + (0.5-1)^2 = 0.01 + 0.04 + 0.36 + 0.25 = 0.66
    assert brier([1, 0, 0, 1], [0.9, 0.2, 0.6, 0.5]) == pytest.approx(0.66 / 4)


def test_brier_accepts_bools_series_and_extremes():
    y = pd.Series([True, False, True])
    assert brier(y, np.array([1.0, 0.0, 1.0])) == 0.0
    assert brier([True, False], [0.0, 1.0]) == 1.0


def test_log_score_hand_computed():
    expected = -(math.log(0.8) + math.log(1 - 0.3) + math.log(0.6)) / 3
    assert log_score([1, 0, 1], [0.8, 0.3, 0.6]) == pytest.approx(expected, rel=1e-12)


def test_log_score_clips_certain_misses_to_finite():
    value = log_score([1, 0], [0.0, 1.0])
    assert math.isfinite(value)
    assert value == pytest.approx(-math.log(1e-15), rel=1e-12)
    assert log_score([1], [1e-300]) == pytest.approx(-math.log(1e-15), rel=1e-12)
    assert log_score([1, 0], [1.0, 0.0]) == pytest.approx(0.0, abs=1e-12)


def test_accuracy_threshold_is_inclusive():
    p, y = [0.9, 0.5, 0.4, 0.7], [1, 0, 0, 0]
    assert accuracy(y, p) == pytest.approx(2 / 4)
    assert accuracy(y, p, threshold=0.8) == 1.0
    assert accuracy(y, p, threshold=0.7) == pytest.approx(3 / 4)
    assert accuracy(y, p, threshold=0.0) == pytest.approx(1 / 4)


def _f1_oracle(pred: list[bool], truth: list[bool], cls: bool) -> float | None:
    tp = sum(1 for a, b in zip(pred, truth, strict=True) if a == cls and b == cls)
    fp = sum(1 for a, b in zip(pred, truth, strict=True) if a == cls and b != cls)
    fn = sum(1 for a, b in zip(pred, truth, strict=True) if a != cls and b == cls)
    if tp + fp + fn == 0:
        return None
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def test_macro_f1_hand_computed():
    # pred = [T, T, F, T], truth = [T, T, F, F]: F1(true) = 0.8, F1(false) = 2/3
    assert macro_f1([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.6]) == pytest.approx((0.8 + 2 / 3) / 2)


def test_macro_f1_matches_precision_recall_oracle_on_random_data():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 15))
        p, y = rng.random(n), rng.random(n) < 0.5
        pred, truth = list(p >= 0.4), list(y)
        scores = [s for c in (True, False) if (s := _f1_oracle(pred, truth, c)) is not None]
        assert macro_f1(y, p, threshold=0.4) == pytest.approx(np.mean(scores))


def test_macro_f1_single_class_everywhere_is_one():
    assert macro_f1([1, 1], [0.9, 0.8]) == 1.0
    assert macro_f1([0, 0], [0.1, 0.2]) == 1.0
    assert macro_f1([0, 0], [0.9, 0.8]) == 0.0


# ----------------------------------------------------------------------------- auc


def _auc_bruteforce(p: np.ndarray, y: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_hand_computed_with_tie():
    # pairs (pos, neg): (0.4, 0.1) win, (0.4, 0.4) tie, (0.8, 0.1) win, (0.8, 0.4) win
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8]) == pytest.approx(3.5 / 4)


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_bruteforce_and_mannwhitneyu(seed):
    rng = np.random.default_rng(seed)
    n = 60
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    p = np.round(rng.random(n), 1)  # coarse rounding forces many ties
    expected = _auc_bruteforce(p, y)
    assert auc(y, p) == pytest.approx(expected, abs=1e-12)
    u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert auc(y, p) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)


def test_auc_perfect_and_reversed():
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert auc([0, 1, 1], [0.5, 0.5, 0.5]) == 0.5


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0]])
def test_auc_single_class_raises(y):
    with pytest.raises(ValidationError, match=r"auc needs a 0 and a 1 in y, got \d ones and \d"):
        auc(y, [0.2, 0.5, 0.7])


# ----------------------------------------------------------------------------- calibration bins


def test_reliability_table_hand_constructed():
    p = [0.05, 0.15, 0.15, 0.95, 1.0]
    y = [0, 1, 0, 1, 1]
    table = reliability_table(y, p, n_bins=10)
    assert list(table.columns) == [
        "bin_low",
        "bin_high",
        "count",
        "mean_predicted",
        "observed_frequency",
    ]
    # empty bins are left out; p = 1.0 goes to the last bin [0.9, 1.0]
    np.testing.assert_allclose(table["bin_low"], [0.0, 0.1, 0.9])
    np.testing.assert_allclose(table["bin_high"], [0.1, 0.2, 1.0])
    assert table["count"].tolist() == [1, 2, 2]
    np.testing.assert_allclose(table["mean_predicted"], [0.05, 0.15, 0.975])
    np.testing.assert_allclose(table["observed_frequency"], [0.0, 0.5, 1.0])
    assert not table.isna().any().any()


def test_reliability_table_bin_edges_are_left_closed():
    table = reliability_table([0, 1, 1], [0.0, 0.5, 0.25], n_bins=4)
    np.testing.assert_allclose(table["bin_low"], [0.0, 0.25, 0.5])
    assert table["count"].tolist() == [1, 1, 1]


def test_ece_hand_constructed():
    # bins: {0.05 -> y 0}: gap .05 w 1/4; {0.15, 0.15 -> y 1, 0}: gap .35 w 2/4;
    # {0.95 -> y 1}: gap .05 w 1/4  => 0.0125 + 0.175 + 0.0125 = 0.2
    assert ece([0, 1, 0, 1], [0.05, 0.15, 0.15, 0.95]) == pytest.approx(0.2)


def test_ece_count_weighting_and_n_bins():
    # one bin: |mean(p) - mean(y)| = |0.5 - 0.25|
    assert ece([0, 0, 0, 1], [0.1, 0.3, 0.7, 0.9], n_bins=1) == pytest.approx(0.25)
    # two bins: [.1,.3] vs y [0,0] gap .2 (w .5); [.7,.9] vs [0,1] gap .3 (w .5)
    assert ece([0, 0, 0, 1], [0.1, 0.3, 0.7, 0.9], n_bins=2) == pytest.approx(0.25)
    assert ece([1, 0, 0, 0, 0], [0.2, 0.2, 0.2, 0.2, 0.2]) == pytest.approx(0.0, abs=1e-12)


def test_ece_matches_bruteforce_binning():
    rng = np.random.default_rng(3)
    p, y = rng.random(500), rng.random(500) < 0.5
    total = 0.0
    for k in range(7):
        lo, hi = k / 7, (k + 1) / 7
        mask = (p >= lo) & ((p < hi) if k < 6 else (p <= hi))
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    assert ece(y, p, n_bins=7) == pytest.approx(total / len(p))


# ----------------------------------------------------------------------------- calibration slope


def test_calibration_slope_recovers_known_miscalibration():
    rng = np.random.default_rng(2024)
    p = rng.uniform(0.02, 0.98, 50_000)
    y = rng.random(p.size) < expit(0.3 + 0.7 * logit(p))
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(0.7, abs=0.05)
    assert intercept == pytest.approx(0.3, abs=0.05)


def test_calibration_perfect_gives_one_and_zero():
    rng = np.random.default_rng(11)
    p = rng.uniform(0.01, 0.99, 50_000)
    y = rng.random(p.size) < p
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.05)
    assert intercept == pytest.approx(0.0, abs=0.05)


def test_calibration_exact_on_two_point_design():
    # with two distinct p values the MLE reproduces the observed frequencies exactly
    p = [0.2] * 5 + [0.8] * 5
    y = [1, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    slope, intercept = calibration_slope_intercept(y, p)
    assert expit(intercept + slope * logit(0.2)) == pytest.approx(0.2, abs=1e-8)
    assert expit(intercept + slope * logit(0.8)) == pytest.approx(0.6, abs=1e-8)


def test_calibration_matches_scipy_minimize():
    from scipy.optimize import minimize

    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, 300)
    y = (rng.random(300) < p**1.5).astype(float)
    x = logit(p)

    def nll(beta):
        eta = beta[1] + beta[0] * x
        return np.sum(np.logaddexp(0, eta) - y * eta)

    ref = minimize(nll, [1.0, 0.0], method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(calibration_slope_intercept(y, p), ref, atol=1e-5)


@pytest.mark.parametrize(
    ("p", "y"),
    [
        ([0.2, 0.4, 0.6], [1, 1, 1]),  # one class
        ([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1]),  # constant p
        ([0.1, 0.2, 0.7, 0.9], [0, 0, 1, 1]),  # complete separation
        ([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1]),  # quasi-complete separation
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]),  # reversed separation
    ],
)
def test_calibration_undefined_raises(p, y):
    with pytest.raises(ValidationError, match=r"calibration slope is undefined \(got \d ones"):
        calibration_slope_intercept(y, p)


# ----------------------------------------------------------------------------- score_all


def test_score_all_matches_individual_metrics():
    rng = np.random.default_rng(0)
    p, y = rng.random(200), rng.random(200) < 0.5
    out = score_all(y, p, n_bins=5)
    assert set(out) == {"n", *METRICS}
    assert out["n"] == 200
    assert out["brier"] == brier(y, p)
    assert out["log_score"] == log_score(y, p)
    assert out["ece"] == ece(y, p, n_bins=5)
    assert out["accuracy"] == accuracy(y, p)
    assert out["auc"] == auc(y, p)
    assert out["macro_f1"] == macro_f1(y, p)
    assert (out["slope"], out["intercept"]) == calibration_slope_intercept(y, p)


def test_score_all_omits_undefined_metrics_instead_of_nan():
    one_class = score_all([1, 1, 1], [0.9, 0.7, 0.8])
    assert set(one_class) == {"n", "brier", "log_score", "ece", "accuracy", "macro_f1"}
    separated = score_all([0, 1], [0.1, 0.9])
    assert "auc" in separated
    assert "slope" not in separated
    assert "intercept" not in separated
    for value in [*one_class.values(), *separated.values()]:
        assert math.isfinite(value)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("func", [brier, log_score, accuracy, auc, ece, macro_f1, score_all])
def test_every_metric_validates_inputs(func):
    with pytest.raises(ValidationError, match=r"y_prob contains 1 value outside \[0, 1\]"):
        func([0, 1], [0.2, 1.5])


@pytest.mark.parametrize(
    ("p", "y", "pattern"),
    [
        (
            [0.1, 0.2, 0.3, 1.2, -0.5],
            [0, 1, 0, 1, 0],
            r"^y_prob contains 2 values outside \[0, 1\] \(first at index 3: 1\.2\)$",
        ),
        (
            [0.1, float("nan"), float("inf")],
            [0, 1, 0],
            r"^y_prob contains 2 non-finite values \(first at index 1: nan\); "
            r"allowed: finite numbers in \[0, 1\]$",
        ),
        (
            [0.1, 0.2],
            [0, 2],
            r"^y_true contains 1 value not in \{0, 1, False, True\} \(first at index 1: 2\)$",
        ),
        (
            [0.1, 0.2],
            [0.5, float("nan")],
            r"^y_true contains 2 values not in \{0, 1, False, True\} \(first at index 0: 0\.5\)$",
        ),
        ([0.1, 0.2], [1, None], r"y_true contains 1 value not in .*\(first at index 1: None\)"),
        ([0.1, 0.2, 0.3], [0, 1], r"^y_true and y_prob differ in length: 2 and 3$"),
        ([], [], r"^y_true and y_prob are empty; at least one prediction is needed$"),
        ([[0.1, 0.2]], [[0, 1]], r"^y_prob must be one-dimensional, got shape \(1, 2\)$"),
        ([0.1, 0.2], [[0, 1]], r"^y_true must be one-dimensional, got shape \(1, 2\)$"),
        (0.5, 1, r"^y_prob must be one-dimensional, got shape \(\)$"),
        (["a", "b"], [0, 1], r"^y_prob must hold numbers, got dtype <U1$"),
        ([0.1, 0.2], ["yes", "no"], r"^y_true must hold numbers, got dtype <U3$"),
        ([0.1, object()], [0, 1], r"^y_prob must hold numbers, got dtype object$"),
    ],
)
def test_validation_messages(p, y, pattern):
    with pytest.raises(ValidationError, match=pattern):
        brier(y, p)


def test_validation_error_is_a_value_error():
    with pytest.raises(ValueError):
        brier([1], [2.0])


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "0.5", None])
@pytest.mark.parametrize("func", [accuracy, macro_f1])
def test_threshold_validation(func, threshold):
    with pytest.raises(ValidationError, match=r"threshold must be a number in \[0, 1\], got"):
        func([0, 1], [0.2, 0.8], threshold=threshold)


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True, "10"])
@pytest.mark.parametrize("func", [ece, reliability_table, score_all])
def test_n_bins_validation(func, n_bins):
    with pytest.raises(ValidationError, match=r"n_bins must be an integer >= 1, got"):
        func([0, 1], [0.2, 0.8], n_bins=n_bins)


def test_n_bins_accepts_numpy_integer():
    assert ece([0, 1], [0.2, 0.8], n_bins=np.int64(2)) == pytest.approx(0.2)


# ----------------------------------------------------------------------------- cross-validation


def _case(n_groups: int = 8, singles: int = 10, seed: int = 0) -> Case:
    """Groups of 2-4 competing claims (exactly one true), ungrouped and unresolved claims."""
    rng = np.random.default_rng(seed)
    claims = []
    for g in range(n_groups):
        size = int(rng.integers(2, 5))
        winner = int(rng.integers(size))
        for j in range(size):
            claims.append(Claim(f"g{g}c{j}", group=f"G{g}", truth=j == winner))
    for i in range(singles):
        claims.append(Claim(f"s{i}", truth=bool(rng.random() < 0.5)))
    claims += [Claim("u0", group="G0"), Claim("u1")]  # unresolved: never scored
    sources = (Source("src"),)
    reports = tuple(Report(c.claim_id, "src", "confirm") for c in claims[::3])
    return Case(tuple(claims), sources=sources, reports=reports, name="demo")


class _Spy:
    """fit_predict that records its calls and checks what the training case hides."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.calls: list[list[str]] = []

    def __call__(self, train: Case, test_ids: list[str]) -> dict[str, float]:
        self.calls.append(list(test_ids))
        held = set(test_ids)
        assert train.reports == self.case.reports
        assert train.sources == self.case.sources
        assert train.claim_ids == self.case.claim_ids
        for orig, seen in zip(self.case.claims, train.claims, strict=True):
            if orig.claim_id in held:
                assert orig.truth is not None
                assert seen.truth is None
            else:
                assert seen.truth == orig.truth
            assert seen.group == orig.group
        # a deterministic, informative prediction for every claim (extra ids are ignored)
        return {c.claim_id: 0.7 if c.truth else 0.3 for c in self.case.claims}


def test_cross_validate_spy_sees_hidden_truths_and_each_claim_once():
    case = _case()
    spy = _Spy(case)
    res = cross_validate(case, spy, k=4, seed=1)
    assert isinstance(res, CVResult)
    assert len(spy.calls) == 4
    resolved = [c.claim_id for c in case.claims if c.truth is not None]
    called = [cid for ids in spy.calls for cid in ids]
    assert sorted(called) == sorted(resolved)
    assert len(called) == len(set(called))
    assert res.predictions["claim_id"].tolist() == resolved
    assert "u0" not in called and "u1" not in called


def test_cross_validate_keeps_groups_together_and_folds_balanced():
    case = _case(n_groups=12, singles=15, seed=4)
    res = cross_validate(case, _Spy(case), k=5, seed=3)
    pred = res.predictions.merge(
        pd.DataFrame({"claim_id": case.claim_ids, "group": [c.group for c in case.claims]})
    )
    per_group = pred.dropna(subset=["group"]).groupby("group")["fold"].nunique()
    assert (per_group == 1).all()
    sizes = pred["fold"].value_counts()
    assert set(sizes.index) == set(range(5))
    assert sizes.max() - sizes.min() <= 4  # within the largest group size


def test_cross_validate_by_claim_can_split_groups():
    case = _case(n_groups=10, singles=0, seed=2)
    split = False
    for seed in range(5):
        res = cross_validate(case, _Spy(case), k=5, seed=seed, by="claim")
        pred = res.predictions
        groups = pred["claim_id"].str.extract(r"^(g\d+)")[0]
        split |= bool((pred.groupby(groups)["fold"].nunique() > 1).any())
        sizes = pred["fold"].value_counts()
        assert sizes.max() - sizes.min() <= 1
    assert split


def test_cross_validate_is_deterministic_given_seed():
    case = _case()
    a = cross_validate(case, _Spy(case), k=3, seed=42)
    b = cross_validate(case, _Spy(case), k=3, seed=42)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    pd.testing.assert_frame_equal(a.folds, b.folds)
    folds = {
        tuple(cross_validate(case, _Spy(case), k=3, seed=s).predictions["fold"]) for s in range(6)
    }
    assert len(folds) > 1


def test_cross_validate_fold_table_and_predictions():
    case = _case()
    res = cross_validate(case, _Spy(case), k=4, seed=0, n_bins=5)
    folds = res.folds
    assert list(folds.columns) == ["fold", "n", *METRICS]
    assert folds["fold"].tolist() == [0, 1, 2, 3, "pooled"]
    body = folds.iloc[:4]
    assert folds["n"].iloc[-1] == body["n"].sum() == len(res.predictions)
    pooled = score_all(res.predictions["truth"], res.predictions["p_true"], n_bins=5)
    for name in METRICS:  # the last row scores all held-out predictions together
        if name in pooled:
            assert folds[name].iloc[-1] == pytest.approx(pooled[name])
        else:
            assert pd.isna(folds[name].iloc[-1])
    pred = res.predictions
    assert list(pred.columns) == ["claim_id", "fold", "p_true", "truth"]
    assert pred["truth"].dtype == bool
    for fold in range(4):
        sub = pred[pred["fold"] == fold]
        expected = score_all(sub["truth"], sub["p_true"], n_bins=5)
        row = folds.iloc[fold]
        assert row["n"] == expected["n"]
        assert row["brier"] == pytest.approx(expected["brier"])
        assert row["ece"] == pytest.approx(expected["ece"])
    truth = {c.claim_id: c.truth for c in case.claims}
    for cid, p, t in zip(pred["claim_id"], pred["p_true"], pred["truth"], strict=True):
        assert t == truth[cid]
        assert p == (0.7 if t else 0.3)


def test_cross_validate_undefined_fold_metrics_are_na_not_nan():
    claims = tuple(Claim(f"c{i}", truth=i < 3) for i in range(6))  # folds of one class
    res = cross_validate(Case(claims), lambda tr, ids: dict.fromkeys(ids, 0.6), k=2, by="claim")
    assert res.folds["slope"].isna().all()
    assert res.folds["slope"].dtype == "Float64"
    values = res.folds[METRICS].to_numpy(dtype=object)
    assert not any(isinstance(v, float) and math.isnan(v) for v in values.ravel())


def test_pooled_auc_differs_from_the_mean_of_fold_aucs():
    """Folds that each separate perfectly average to AUC 1; pooled they do not."""
    claims = tuple(Claim(f"c{i}", truth=i % 2 == 0) for i in range(8))
    shift = {f"c{i}": 0.5 * (i // 4) for i in range(8)}  # fold-dependent offset
    res = cross_validate(
        Case(claims),
        lambda tr, ids: {i: shift[i] + (0.3 if int(i[1:]) % 2 == 0 else 0.1) for i in ids},
        k=2,
        by="claim",
        seed=0,
    )
    per_fold = res.folds[res.folds["fold"] != "pooled"]["auc"].astype(float)
    pooled = float(res.folds.set_index("fold").loc["pooled", "auc"])
    ref = auc(res.predictions["truth"], res.predictions["p_true"])
    assert pooled == pytest.approx(ref)
    if (per_fold == 1.0).all():
        assert pooled < 1.0


def test_missing_reasons_name_the_cause():
    from belief.evaluation.scoring import missing_reasons

    assert missing_reasons([0, 1, 0, 1, 1, 0], [0.2, 0.7, 0.6, 0.4, 0.8, 0.3]) == {}
    reasons = missing_reasons([1, 1, 1], [0.9, 0.7, 0.8])
    assert "every held-out claim is true" in reasons["auc"]
    assert "logistic fit" in reasons["slope"]


def test_cv_summary_is_score_all_on_pooled_predictions():
    case = _case()
    rng = np.random.default_rng(0)
    res = cross_validate(case, lambda tr, ids: {i: float(rng.random()) for i in ids}, k=3)
    pooled = score_all(res.predictions["truth"], res.predictions["p_true"])
    assert res.summary() == pooled


def test_cross_validate_accepts_series_and_posterior_frame():
    case = _case()

    def as_series(train, ids):
        return pd.Series(0.4, index=ids)

    def as_frame(train, ids):
        return pd.DataFrame({"claim_id": ids, "p_true": 0.4, "verbal": "unlikely"})

    for fit in (as_series, as_frame):
        res = cross_validate(case, fit, k=3)
        assert (res.predictions["p_true"] == 0.4).all()


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"k": 1}, r"^k must be an integer >= 2, got 1$"),
        ({"k": 2.0}, r"^k must be an integer >= 2, got 2\.0$"),
        ({"k": 500}, r"^k=500 exceeds the \d+ folding units \(groups\) among \d+ resolved claims"),
        ({"by": "source"}, r"^by must be one of \['claim', 'group'\], got 'source'$"),
        ({"n_bins": 0}, r"^n_bins must be an integer >= 1, got 0$"),
    ],
)
def test_cross_validate_argument_errors(kwargs, pattern):
    case = _case()
    with pytest.raises(ValidationError, match=pattern):
        cross_validate(case, _Spy(case), **kwargs)


def test_cross_validate_needs_resolved_claims():
    case = Case((Claim("a"), Claim("b")))
    with pytest.raises(ValidationError, match=r"no resolved claims \(truth True/False\)"):
        cross_validate(case, _Spy(case), k=2)


def test_cross_validate_k_counts_groups_not_claims():
    claims = tuple(Claim(f"c{i}", group="G", truth=i == 0) for i in range(4))
    claims += (Claim("x", truth=True),)
    with pytest.raises(ValidationError, match=r"k=3 exceeds the 2 folding units \(groups\)"):
        cross_validate(Case(claims), lambda tr, ids: dict.fromkeys(ids, 0.5), k=3)


@pytest.mark.parametrize(
    ("fit", "pattern"),
    [
        (
            lambda tr, ids: {ids[0]: 0.5},
            r"^fit_predict returned no p_true for \d+ held-out claims in fold 0 \(first: '",
        ),
        (
            lambda tr, ids: [0.5] * len(ids),
            r"^fit_predict must return a mapping, Series or posterior DataFrame .* got list$",
        ),
        (
            lambda tr, ids: dict.fromkeys(ids, 1.5),
            r"^p_true from fit_predict \(fold 0\) contains \d+ values outside \[0, 1\]",
        ),
        (
            lambda tr, ids: dict.fromkeys(ids, float("nan")),
            r"^p_true from fit_predict \(fold 0\) contains \d+ non-finite values",
        ),
    ],
)
def test_cross_validate_checks_fit_predict_output(fit, pattern):
    with pytest.raises(ValidationError, match=pattern):
        cross_validate(_case(), fit, k=3)
