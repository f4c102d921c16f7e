"""The learned base rate (belief.core.base_rate) against independent computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit, logit

import belief
from belief.core.base_rate import learn_base_rate
from belief.data.io import case_from_records
from belief.evaluation.simulate import simulate_case


def _bisect_fixed_point(llr: np.ndarray, a: float, b: float) -> float:
    """pi = (sum_c P_c(pi) + a - 1) / (n + a + b - 2) by plain bisection (no scipy)."""
    lo, hi = 1e-9, 1 - 1e-9
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        est = (expit(logit(mid) + llr).sum() + a - 1) / (len(llr) + a + b - 2)
        lo, hi = (mid, hi) if est > mid else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("seed", range(5))
def test_fixed_point_matches_bisection(seed):
    rng = np.random.default_rng(seed)
    llr = rng.normal(0, 3, size=rng.integers(1, 300))
    rate, lo = learn_base_rate(lambda r: logit(r) + llr, np.ones(len(llr), bool), (5.0, 5.0))
    assert rate == pytest.approx(_bisect_fixed_point(llr, 5.0, 5.0), abs=1e-9)
    np.testing.assert_allclose(lo, logit(rate) + llr, atol=1e-9)


def test_only_claims_without_their_own_prior_take_the_base_rate():
    rng = np.random.default_rng(1)
    llr = rng.normal(0, 2, size=50)
    mask = np.arange(50) < 30
    rate, _ = learn_base_rate(lambda r: np.where(mask, logit(r), 0.0) + llr, mask, (2.0, 2.0))
    assert rate == pytest.approx(_bisect_fixed_point(llr[mask], 2.0, 2.0), abs=1e-9)


def test_every_engine_learns_the_closed_form_rate_with_known_reliabilities():
    """Fixed reliabilities: each claim's evidence is a likelihood ratio, so the rate is known."""
    rng = np.random.default_rng(3)
    sources = [{"source_id": f"s{j}", "sensitivity": 0.8, "specificity": 0.7, "strength": 1e12}
               for j in range(4)]  # fmt: skip
    reports, llr = [], []
    for i in range(40):
        total = 0.0
        for j in range(4):
            confirm = rng.random() < 0.4
            reports.append({"claim_id": f"c{i}", "source_id": f"s{j}",
                            "stance": "confirm" if confirm else "deny"})  # fmt: skip
            total += np.log(0.8 / 0.3) if confirm else np.log(0.2 / 0.7)
        llr.append(total)
    case = case_from_records({"sources": sources, "reports": reports})
    expected = _bisect_fixed_point(np.array(llr), 5.0, 5.0)
    for method in ("exact", "fast"):
        with warnings.catch_warnings():  # mean-field is exact with known reliabilities
            warnings.simplefilter("ignore", belief.ApproximationWarning)
            res = belief.infer(case, method, {"base_rate": "learn"})
        assert res.diagnostics["base_rate"] == pytest.approx(expected, abs=1e-6), method
    inc = belief.Belief(case, {"base_rate": "learn"}).result()
    assert inc.diagnostics["base_rate"] == pytest.approx(expected, abs=1e-6)


def test_the_base_rate_is_learned_when_not_given():
    case = case_from_records({"reports": [{"claim_id": "c", "source_id": "s",
                                           "stance": "confirm"}]})  # fmt: skip
    res = belief.infer(case)
    # one claim, Beta(5, 5) hyperprior: rate = (P + 4) / 9 at the fixed point
    assert res.diagnostics["base_rate"] == pytest.approx((res.p("c") + 4) / 9, abs=1e-9)


def test_a_given_base_rate_is_not_learned():
    case = case_from_records(
        {
            "reports": [{"claim_id": "c", "source_id": "s", "stance": "confirm"}],
            "config": {"base_rate": 0.5},
        }
    )
    res = belief.infer(case)
    assert "base_rate" not in res.diagnostics
    assert res.p("c") == pytest.approx(0.65, abs=1e-12)


def test_learning_the_base_rate_improves_brier_where_it_is_far_from_one_half():
    """A world whose claims are true 20% of the time: the learned rate beats the fixed 0.5."""
    case, truth = simulate_case(600, 30, density=0.05, base_rate=0.2, side_effect=0.0,
                                p_signal=0.0, random_seed=5, return_truth=True)  # fmt: skip
    y = truth.truth_array(case.claim_ids).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learned = belief.infer(case, "fast", {"base_rate": "learn", "learn_kind_priors": False})
        fixed = belief.infer(case, "fast", {"base_rate": 0.5, "learn_kind_priors": False})
    p1 = learned.posterior.set_index("claim_id").loc[case.claim_ids, "p_true"].to_numpy()
    p0 = fixed.posterior.set_index("claim_id").loc[case.claim_ids, "p_true"].to_numpy()
    assert abs(learned.diagnostics["base_rate"] - 0.2) < 0.08
    assert np.mean((p1 - y) ** 2) < 0.9 * np.mean((p0 - y) ** 2)


def test_hyperprior_is_validated():
    with pytest.raises(belief.ValidationError, match="base_rate_prior"):
        belief.Config(base_rate_prior=(1.0, 5.0))
