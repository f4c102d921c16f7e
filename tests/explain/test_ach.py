"""Tests of belief.explain.ach: cells, order, foot row, agreement with the engine."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp

from belief.data.io import case_from_records, read_case
from belief.engines.exact import infer_exact as infer
from belief.exceptions import ValidationError
from belief.explain.ach import NONE_OF_THESE, ach_matrix
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, SourcePrior

FIXED = 1e9  # strength that pins a source's reliability at its prior mean


def _case(strength: float = 4.0, copy_weight: float = 0.0):
    return case_from_records(
        {
            "config": {"copy_weight": copy_weight, "signal_effects": {"rhetoric": 0.5}},
            "claims": [
                {"claim_id": "a", "group": "g"},
                {"claim_id": "b", "group": "g", "prior": 0.2},
                {"claim_id": "other"},
            ],
            "sources": [
                {"source_id": "s1", "sensitivity": 0.8, "specificity": 0.9, "strength": strength},
                {"source_id": "s2", "sensitivity": 0.6, "specificity": 0.7, "strength": strength},
                {"source_id": "s3", "sensitivity": 0.7, "specificity": 0.6, "strength": strength},
            ],
            "reports": [
                {"claim_id": "a", "source_id": "s1", "stance": "confirm", "time": "2020-01-02"},
                {"claim_id": "b", "source_id": "s2", "stance": "deny", "time": "2020-01-01"},
                {
                    "claim_id": "a",
                    "source_id": "s3",
                    "stance": "confirm",
                    "time": "2020-01-03",
                    "derived_from": "s1",
                },
                {"claim_id": "b", "source_id": "s3", "stance": "neutral", "time": "2020-01-04"},
                {"claim_id": "other", "source_id": "s3", "stance": "deny"},
            ],
            "signals": [
                {"signal_id": "sig", "claim_id": "b", "kind": "rhetoric", "direction": -1},
                {"signal_id": "sig_other", "claim_id": "other", "kind": "rhetoric"},
            ],
        }
    )


def test_cells_follow_the_documented_definition():
    m = ach_matrix(_case(), "g")
    hyps = ["a", "b", NONE_OF_THESE]
    assert m.attrs["hypotheses"] == hyps
    assert list(m.columns) == ["label", *hyps, "diagnosticity"]
    # s1 confirms a: log 0.8 if a is true, log(1 - 0.9) otherwise
    np.testing.assert_allclose(m.loc["r1", hyps].astype(float), np.log([0.8, 0.1, 0.1]))
    # s2 denies b: log(1 - 0.6) if b is true, log 0.7 otherwise
    np.testing.assert_allclose(m.loc["r2", hyps].astype(float), np.log([0.7, 0.4, 0.7]))
    # a weight-0 copy and a neutral report score 0 everywhere
    assert (m.loc["r3", hyps] == 0).all() and (m.loc["r4", hyps] == 0).all()
    assert "[copy, weight 0]" in m.loc["r3", "label"]
    # a -1 signal on b, effect 0.5: -0.5 under b, 0 elsewhere
    assert m.loc["sig", hyps].astype(float).tolist() == [0.0, -0.5, 0.0]
    assert m.loc["r1", "diagnosticity"] == pytest.approx(math.log(8))


def test_only_items_on_the_group_and_the_foot_row():
    m = ach_matrix(_case(), "g")
    assert list(m.index[:-1].sort_values()) == ["r1", "r2", "r3", "r4", "sig"]
    assert m.index[-1] == "posterior"
    result = infer(_case())
    foot = m.loc["posterior", ["a", "b", NONE_OF_THESE]].astype(float)
    assert foot["a"] == pytest.approx(result.p("a"))
    assert foot["b"] == pytest.approx(result.p("b"))
    assert foot.sum() == pytest.approx(1.0)
    assert np.isnan(m.loc["posterior", "diagnosticity"])


def test_rows_ordered_by_diagnosticity_ties_in_time_order():
    m = ach_matrix(_case(), "g")
    d = m["diagnosticity"].iloc[:-1].to_numpy()
    assert (np.diff(d) <= 1e-12).all()
    assert list(m.index[:-1]) == ["r1", "r2", "sig", "r3", "r4"]  # sig: 0.5 < log(7/4)=0.56


def test_column_sums_reproduce_the_engine_when_reliability_is_known():
    """With reliability pinned, P(h | evidence) = prior(h) exp(column sum h) / normalizer."""
    case = _case(strength=FIXED)
    m = ach_matrix(case, "g")
    hyps = m.attrs["hypotheses"]
    log_post = np.log([m.attrs["prior"][h] for h in hyps]) + m[hyps].iloc[:-1].sum().to_numpy(
        dtype=float
    )
    expected = np.exp(log_post - logsumexp(log_post))
    np.testing.assert_allclose(m.loc["posterior", hyps].astype(float), expected, rtol=1e-6)


def test_copy_weight_and_source_priors_are_used():
    m = ach_matrix(_case(copy_weight=0.5), "g")
    np.testing.assert_allclose(m.loc["r3", ["a", "b"]].astype(float), 0.5 * np.log([0.7, 1 - 0.6]))
    assert "[copy, weight 0.5]" in m.loc["r3", "label"]
    case = _case()
    calibrated = SourcePrior(BetaPrior(1, 1), BetaPrior(3, 1))
    cfg = Config.from_case(case, source_priors={"s1": calibrated})
    m2 = ach_matrix(case, "g", cfg)
    np.testing.assert_allclose(m2.loc["r1", ["a", "b"]].astype(float), np.log([0.5, 0.25]))


def test_stand_in_copy_is_attributed_to_its_original():
    case = case_from_records(
        {
            "claims": [{"claim_id": "a", "group": "g"}, {"claim_id": "b", "group": "g"}],
            "sources": [
                {"source_id": "orig", "sensitivity": 0.9, "specificity": 0.8},
                {"source_id": "relay"},
            ],
            "reports": [
                {"claim_id": "a", "source_id": "relay", "stance": "confirm", "derived_from": "orig"}
            ],
        }
    )
    m = ach_matrix(case, "g")
    np.testing.assert_allclose(m.loc["r1", ["a", "b"]].astype(float), np.log([0.9, 0.2]))


def test_unknown_group_lists_the_known_ones():
    with pytest.raises(ValidationError, match="unknown group 'h'; groups in the case: g"):
        ach_matrix(_case(), "h")


def test_khasham_control():
    case = read_case(Path(__file__).resolve().parents[2] / "seeds" / "khasham.yaml")
    m = ach_matrix(case, "khasham_control")
    assert m.attrs["hypotheses"] == ["handover", "army_holds_khasham", NONE_OF_THESE]
    # the commander's confirmation that the army holds the village is the most diagnostic item
    assert m.iloc[0]["label"] == "dmc_commander confirms army_holds_khasham"
    post = m.loc["posterior"]
    assert post["army_holds_khasham"] == pytest.approx(infer(case).p("army_holds_khasham"))
    assert post["handover"] < 0.05
    assert m.attrs["prior"] == pytest.approx(dict.fromkeys(m.attrs["hypotheses"], 1 / 3))
