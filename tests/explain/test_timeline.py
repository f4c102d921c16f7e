"""Timeline and contributions: consistency with the engine, exact sums, order invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from belief.data.io import case_from_records, read_case
from belief.engines.exact import infer_exact as infer
from belief.explain.timeline import contributions, timeline


def _case(reports, signals=(), claims=None):
    return case_from_records(
        {
            "claims": claims or [],
            "reports": list(reports),
            "signals": list(signals),
            "config": {"base_rate": 0.5},
        }  # the hand-computed values assume a flat base rate
    )


REPORTS = [
    {"claim_id": "a", "source_id": "s1", "stance": "confirm", "time": "2017-12-19T09:00"},
    {"claim_id": "a", "source_id": "s2", "stance": "confirm", "time": "2017-12-19T09:00"},
    {"claim_id": "a", "source_id": "s3", "stance": "deny", "time": "2017-12-20T10:00"},
    {"claim_id": "a", "source_id": "s4", "stance": "deny"},
]
SIGNALS = [{"signal_id": "g", "claim_id": "a", "kind": "k", "direction": -1, "time": "2017-12-18"}]


def test_timeline_steps_and_final_value():
    case = _case(REPORTS, SIGNALS)
    tl = timeline(case)
    # prior, untimed item, then 3 distinct times (18th, 19th 09:00 with two items, 20th)
    assert tl.step.tolist() == [0, 1, 2, 3, 4]
    assert tl.events.iloc[0] == "prior" and pd.isna(tl.time.iloc[1])
    assert "s1 confirms a" in tl.events.iloc[3] and "s2 confirms a" in tl.events.iloc[3]
    assert tl.p_true.iloc[0] == pytest.approx(0.5)
    assert tl.p_true.iloc[-1] == pytest.approx(infer(case).p("a"), abs=1e-12)
    assert np.allclose(1 / (1 + np.exp(-tl.log_odds)), tl.p_true)


def test_timeline_does_not_depend_on_row_order_within_a_time():
    a = timeline(_case(REPORTS, SIGNALS)).p_true.to_numpy()
    b = timeline(_case(REPORTS[::-1], SIGNALS)).p_true.to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_sequential_contributions_add_up_exactly():
    case = read_case_seed()
    for cid in case.claim_ids:
        df = contributions(case, cid)
        total = df.attrs["posterior_logodds"] - df.attrs["prior_logodds"]
        assert df.sequential.sum() == pytest.approx(total, abs=1e-9)
        assert df.attrs["posterior_logodds"] == pytest.approx(infer(case).log_odds[cid], abs=1e-9)


def test_leave_one_out_adds_up_when_evidence_is_independent():
    # each source reports once, no groups, no copies -> log-odds additive
    case = _case(REPORTS, SIGNALS)
    df = contributions(case, "a")
    total = df.attrs["posterior_logodds"] - df.attrs["prior_logodds"]
    assert df.loo.sum() == pytest.approx(total, abs=1e-12)
    assert df.sequential.to_numpy() == pytest.approx(df.loo.to_numpy(), abs=1e-12)


def test_leave_one_out_does_not_add_up_under_coupling():
    # the same source reporting twice couples its reports through its reliability
    reps = [{"claim_id": "a", "source_id": "s", "stance": "confirm"}] * 2
    df = contributions(_case(reps), "a")
    total = df.attrs["posterior_logodds"] - df.attrs["prior_logodds"]
    assert abs(df.loo.sum() - total) > 1e-3
    assert df.sequential.sum() == pytest.approx(total, abs=1e-12)


def test_copies_contribute_nothing_and_other_components_are_left_out():
    reps = [
        *REPORTS[:1],
        {
            "claim_id": "a",
            "source_id": "echo",
            "stance": "confirm",
            "derived_from": "s1",
            "time": "2017-12-19T10:00",
        },
        {"claim_id": "b", "source_id": "x", "stance": "confirm"},
    ]
    df = contributions(_case(reps), "a")
    assert df.item_id.tolist() == ["r1", "r2"]
    assert df.is_copy.tolist() == [False, True] and df.sequential.iloc[1] == 0.0


def read_case_seed():
    from pathlib import Path

    return read_case(Path(__file__).resolve().parents[2] / "seeds" / "khasham.yaml")


def test_seed_case_makes_sense_to_an_analyst():
    case = read_case_seed()
    p = infer(case).posterior.set_index("claim_id").p_true
    assert p["handover"] < 0.1 < 0.7 < p["army_holds_khasham"]
    assert p["flags_part_of_deal"] < p["flags_service_agreement"]
    assert p["flags_raised"] > 0.6
    tl = timeline(case, ["handover"])
    # the outlets' reports raise it, the commander's denial and the signals lower it
    assert tl.p_true.max() > tl.p_true.iloc[-1] and tl.p_true.iloc[-1] == pytest.approx(
        p["handover"]
    )
