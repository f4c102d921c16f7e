"""Extreme numbers and times: a correct answer or a clean error, never NaN (hostile-input issue)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import belief
from belief.cli import main
from belief.data.io import case_from_records, write_tables

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.BeliefWarning")


def _extreme(strength: float, n_claims: int = 2) -> belief.Case:
    reports = [{"claim_id": f"c{i}", "source_id": "s", "stance": "confirm" if i % 2 == 0
                else "deny"} for i in range(n_claims)]  # fmt: skip
    return case_from_records({
        "sources": [{"source_id": "s", "sensitivity": 0.8, "specificity": 0.7,
                     "strength": strength}],
        "reports": reports, "config": {"base_rate": 0.5}})  # fmt: skip


@pytest.mark.parametrize("method", ["exact", "fast"])
def test_strength_1e200_gives_the_fixed_reliability_answer(method):
    """strength 1e200 wrote `c1,,,,almost certain` with exit 0 through --method fast."""
    res = belief.infer(_extreme(1e200), method)
    p = res.posterior.set_index("claim_id")
    assert p.loc["c0", "p_true"] == pytest.approx(0.8 / (0.8 + 0.3), rel=1e-9)
    assert p.loc["c1", "p_true"] == pytest.approx(0.2 / (0.2 + 0.7), rel=1e-9)
    assert np.isfinite(p[["p_true", "p_low", "p_high"]].to_numpy()).all()


def test_strength_1e200_on_21_claims_through_every_path():
    """The exact engine's mean-field fallback (2**21 states) and the pure mean-field engine."""
    case = _extreme(1e200, 21)
    for res in (belief.infer(case), belief.infer(case, "fast", exact_states=0)):
        p = res.posterior.set_index("claim_id")["p_true"]
        assert p["c0"] == pytest.approx(0.8 / 1.1, rel=1e-9)
        assert p["c1"] == pytest.approx(0.2 / 0.9, rel=1e-9)


@pytest.mark.parametrize("strength", [1e200, 1e-300])
@pytest.mark.parametrize("method", ["exact", "fast"])
def test_extreme_strength_from_the_cli_is_an_answer_or_a_clean_error(
    tmp_path, strength, method, capsys
):
    paths = write_tables(_extreme(strength, 21), tmp_path)
    out = tmp_path / "post.csv"
    code = main(["infer", "--sources", str(paths["sources"]), "--reports",
                 str(paths["reports"]), "--method", method, "--out", str(out)])  # fmt: skip
    if code == 0:
        post = pd.read_csv(out)
        values = post[["p_true", "p_low", "p_high"]].to_numpy()
        assert np.isfinite(values).all() and (post["verbal"].notna()).all()
    else:
        assert code == 2 and not out.exists()
        assert capsys.readouterr().err.startswith("belief: error:")


def test_calibrated_priors_of_strength_1e200(tmp_path):
    """--priors with alpha = beta = 1e200 (a reliability of exactly one half)."""
    case = _extreme(4.0, 4)
    huge = belief.SourcePrior(belief.BetaPrior(1e200, 1e200), belief.BetaPrior(1e200, 1e200))
    priors = belief.CalibratedPriors(0.5, huge, sources={"s": huge})
    # the kind/default prior it implies is beyond the settings' strength bound (1e12): a clean
    # error naming the setting, where it used to write NaN
    with pytest.raises(belief.ValidationError, match=r"strength: expected a number in"):
        belief.apply_priors(case, priors)
    per_source = belief.Config(source_priors={"s": huge})  # a per-source prior has no bound
    for method in ("exact", "fast"):
        res = belief.infer(case, method, per_source)
        np.testing.assert_allclose(res.posterior["p_true"], 0.5, atol=1e-9)


def test_nan_never_gets_a_verbal_term():
    with pytest.raises(ValueError, match="NaN"):
        belief.core.verbal.verbal_array(np.array([0.2, np.nan]))


def _copies(t_confirm: str, t_deny: str) -> belief.Case:
    """Two copies of a silent, reliable source: the earliest stands in for it."""
    return case_from_records({
        "claims": [{"claim_id": "c", "prior": 0.5}],
        "sources": [{"source_id": "x", "sensitivity": 0.95, "specificity": 0.95,
                     "strength": 1e9}],
        "reports": [
            {"claim_id": "c", "source_id": "a", "stance": "confirm", "derived_from": "x",
             "time": t_confirm},
            {"claim_id": "c", "source_id": "b", "stance": "deny", "derived_from": "x",
             "time": t_deny}]})  # fmt: skip


@pytest.mark.parametrize("method", ["exact", "fast"])
def test_times_outside_1677_2262_keep_their_order(method):
    """`1000-01-01` became 2169 on the fast path: the wrong copy stood in (0.05 vs 0.95)."""
    early = _copies("1000-01-01", "2000-01-01")
    assert belief.infer(early, method).p("c") == pytest.approx(0.95, abs=1e-6)
    late = _copies("2500-06-01", "2400-01-01")
    assert belief.infer(late, method).p("c") == pytest.approx(0.05, abs=1e-6)


def test_times_outside_1677_2262_from_csv_on_both_paths(tmp_path):
    paths = write_tables(_copies("1000-01-01", "2000-01-01"), tmp_path)
    outs = {}
    for method in ("exact", "fast"):
        out = tmp_path / f"{method}.csv"
        args = [f"--{k}={v}" for k, v in paths.items() if k in ("claims", "sources", "reports")]
        assert main(["infer", *args, "--method", method, "--out", str(out)]) == 0
        outs[method] = pd.read_csv(out)["p_true"].iloc[0]
    assert outs["exact"] == pytest.approx(0.95, abs=1e-6)
    assert outs["fast"] == pytest.approx(0.95, abs=1e-6)


def test_a_time_whose_utc_value_leaves_year_1_is_a_clean_error():
    """`0001-01-01T00:00:00+01:00` crashed the exact path with OverflowError."""
    with pytest.raises(belief.ValidationError, match=r"time.*years 1-9999"):
        case_from_records({"reports": [{"claim_id": "c", "source_id": "s",
                                        "stance": "confirm",
                                        "time": "0001-01-01T00:00:00+01:00"}]})  # fmt: skip
