"""What the analyst sees of unattributed repeats: repeat_table, contributions and timelines."""

from __future__ import annotations

import numpy as np
import pytest

import belief
from belief.core.compiler import compile_case
from belief.data.io import case_from_records
from belief.explain.repeats import describe_repeats
from belief.priors.reliability import resolve_source_prior

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


def test_repeat_table_matches_the_rule_by_hand():
    """blog1's deny: q = 1 (the outlet denied), P(deny | the outlet's deny) by hand."""
    case = _case()
    table = belief.repeat_table(case, CFG).set_index("report_id")
    cfg = belief.Config.from_case(case, CFG)
    smap = case.source_map()
    o = resolve_source_prior(smap["outlet"], cfg.kind_priors, cfg.default_prior)
    b = resolve_source_prior(smap["blog1"], cfg.kind_priors, cfg.default_prior)
    lr = (1 - o.sensitivity.mean) / o.specificity.mean  # the outlet's deny
    pt = lr / (1 + lr)  # prior odds 1
    p_deny = pt * (1 - b.sensitivity.mean) + (1 - pt) * b.specificity.mean
    rho = 0.8 / (0.8 + 0.2 * p_deny)
    assert table.loc["r2", "p_repeat"] == pytest.approx(rho, abs=1e-12)
    assert table.loc["r2", "weight"] == pytest.approx(1 - rho, abs=1e-12)
    assert table.loc["r1", "p_repeat"] == 0.0 and table.loc["r1", "weight"] == 1.0
    ev = compile_case(case, cfg)
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


def test_explanations_agree_with_the_engine_with_a_learned_base_rate_and_repeats():
    """The timeline's last step and the contributions' posterior equal infer() (review #3).

    The base rate and the reliability of sources with no kind are learned (the repeat weights
    still start from the priors before learning)."""
    rng = np.random.default_rng(1)
    reports = [{"claim_id": f"c{rng.integers(6)}", "source_id": f"s{rng.integers(5)}",
                "stance": ["confirm", "deny"][rng.integers(2)],
                "time": f"2020-01-{1 + rng.integers(9):02d}"} for _ in range(30)]  # fmt: skip
    case = case_from_records({"reports": reports})
    cfg = {"default_copy_propensity": 0.6}
    res = belief.infer(case, config=cfg)
    assert 0 < res.diagnostics["base_rate"] < 1
    assert "(no kind)" in res.diagnostics["kind_reliability"]  # held by explanations, too
    for c in case.claim_ids:
        tl = belief.timeline(case, c, cfg)
        assert tl["p_true"].iloc[-1] == pytest.approx(res.p(c), abs=1e-9)
        df = belief.contributions(case, c, cfg)
        assert df.attrs["posterior_logodds"] == pytest.approx(res.log_odds[c], abs=1e-9)
