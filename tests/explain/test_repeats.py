"""What the analyst sees of unattributed repeats: repeat_table, contributions and timelines."""

from __future__ import annotations

import numpy as np
import pytest

import belief
from belief.core.compiler import compile_case
from belief.data.io import case_from_records
from belief.explain.repeats import describe_repeats

CFG = {"copy_propensity": {"blog": 0.8}}


def _case() -> belief.Case:
    return case_from_records({
        "sources": [{"source_id": "outlet", "kind": "media"},
                    {"source_id": "blog1", "kind": "blog"}, {"source_id": "blog2", "kind": "blog"}],
        "reports": [
            {"claim_id": "deal", "source_id": "outlet", "stance": "deny", "time": "2017-12-01"},
            {"claim_id": "deal", "source_id": "blog1", "stance": "deny", "time": "2017-12-02"},
            {"claim_id": "deal", "source_id": "blog2", "stance": "confirm", "time": "2017-12-03"},
        ],
        "config": {"base_rate": 0.5},
    })  # fmt: skip


def test_repeat_table_matches_the_compiled_weights():
    case = _case()
    table = belief.repeat_table(case, CFG).set_index("report_id")
    ev = compile_case(case, belief.Config.from_case(case, CFG))
    np.testing.assert_allclose(table.loc[["r1", "r2", "r3"], "p_repeat"], ev.r_repeat)
    np.testing.assert_allclose(table.loc[["r1", "r2", "r3"], "weight"], ev.r_weight)
    # blog1 repeats the outlet's deny; blog2's confirm has no earlier confirm to repeat
    assert table.loc["r2", "repeats"] == "outlet" and table.loc["r2", "p_repeat"] > 0.5
    assert table.loc["r3", "p_repeat"] == 0.0 and table.loc["r3", "repeats"] == ""


def test_sentences_use_the_verb_of_the_stance():
    lines = describe_repeats(belief.repeat_table(_case(), CFG))
    assert len(lines) == 1 and lines[0].startswith("blog1 denies deal — probably repeats outlet")


def test_contributions_and_timelines_say_which_reports_are_probable_repeats():
    case = _case()
    df = belief.contributions(case, "deal", CFG).set_index("item_id")
    assert "probably repeats outlet" in df.loc["r2", "label"]
    assert df.loc["r2", "p_repeat"] == pytest.approx(
        belief.repeat_table(case, CFG).set_index("report_id").loc["r2", "p_repeat"]
    )
    events = " ".join(belief.timeline(case, "deal", CFG)["events"])
    assert "blog1 denies deal — probably repeats outlet" in events
    # without a copy propensity nothing is said and nothing is discounted
    plain = belief.contributions(case, "deal").set_index("item_id")
    assert (plain["p_repeat"] == 0).all() and "probably" not in " ".join(plain["label"])
