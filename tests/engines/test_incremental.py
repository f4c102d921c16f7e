"""Incremental updates against the batch fast engine and closed-form single-report updates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import random_records
from scipy.special import expit, logit

from belief.core.compiler import compile_case
from belief.data.io import case_from_records
from belief.data.types import Case, Claim, Report, Signal
from belief.engines.fast import Block, infer_fast
from belief.engines.incremental import Belief
from belief.exceptions import ValidationError
from belief.priors.config import Config

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")
FIXED = Config(
    base_rate=0.5, default_prior={"sensitivity": 0.8, "specificity": 0.7, "strength": 1e11}
)


def shuffled(case: Case, seed: int) -> list[Report]:
    order = np.random.default_rng(seed).permutation(len(case.reports))
    return [case.reports[i] for i in order]


@pytest.mark.parametrize("seed", range(6))
def test_construction_equals_batch(seed):
    case = case_from_records(random_records(seed, n_reports=60))
    config = Config(copy_weight=0.3)
    batch = infer_fast(case, config, tol=1e-12)
    belief = Belief(case, config, tol=1e-12)
    np.testing.assert_allclose(belief.log_odds, batch.log_odds, atol=1e-12)
    pd.testing.assert_frame_equal(belief.posterior, batch.posterior, atol=1e-10)


@pytest.mark.parametrize("seed", range(8))
def test_stream_then_refit_equals_batch_on_the_same_reports(seed):
    """Reports arrive in random order, copies included; refit reaches the batch fixed point."""
    case = case_from_records(random_records(seed, n_reports=60))
    config = Config(copy_weight=[0.0, 0.5, 1.0][seed % 3])
    arrival = shuffled(case, seed)
    half = len(arrival) // 2
    belief = Belief(case.replace(reports=tuple(arrival[:half])), config, tol=1e-12)
    for report in arrival[half:]:
        belief.update(report)
    batch_case = case.replace(reports=tuple(arrival))
    # copy resolution equals the batch rule even though originals/earlier copies came late:
    # the same reports count, with the same weights, attributed to the same sources
    batch_ev = compile_case(batch_case, config)
    got = belief.result().posterior
    np.testing.assert_array_equal(got["n_independent"], batch_ev.n_independent)
    stats = belief.reliability.set_index("source_id")
    assert sorted(stats.index) == sorted(batch_ev.source_ids)
    belief.refit()
    batch = infer_fast(batch_case, config, tol=1e-12)
    np.testing.assert_allclose(belief.log_odds, batch.log_odds, atol=1e-8)
    pd.testing.assert_frame_equal(belief.posterior, batch.posterior, atol=1e-8)


def test_stream_from_empty_with_new_claims_signals_and_groups():
    rec = random_records(11, n_reports=50)
    case = case_from_records(rec)
    belief = Belief(Case(claims=(), sources=case.sources), Config(), tol=1e-12)
    for claim in case.claims:
        belief.add_claim(claim)
    for signal in case.signals:
        belief.add_signal(signal)
    belief.update(list(case.reports))
    belief.refit()
    batch = infer_fast(case, Config(), tol=1e-12)
    np.testing.assert_allclose(belief.log_odds, batch.log_odds, atol=1e-8)


def test_sufficient_statistics_stay_consistent_without_refit():
    """After updates the source Betas equal prior + counts weighted by current P(true)."""
    case = case_from_records(random_records(5, n_reports=40))
    # priors as compiled (kind reliability learned at a refit would move them)
    belief = Belief(case.replace(reports=case.reports[:20]), {"learn_kind_priors": False})
    belief.update(list(case.reports[20:30]))
    for report in case.reports[30:]:
        belief.update(report)
    ev = compile_case(case, belief.config)  # the batch compile of the same reports
    block = Block(len(ev.claim_ids), len(ev.source_ids), ev.r_claim, ev.r_source, ev.r_confirm,
                  ev.r_weight)  # fmt: skip
    prior = np.column_stack([ev.a_se, ev.b_se, ev.a_sp, ev.b_sp])
    q = expit(belief.log_odds.loc[ev.claim_ids].to_numpy())
    expected = prior + block.source_stats(q)
    cols = ["sens_alpha", "sens_beta", "spec_alpha", "spec_beta"]
    got = belief.reliability.set_index("source_id").loc[ev.source_ids, cols].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_single_report_with_fixed_reliability_is_the_closed_form():
    belief = Belief(config=FIXED)
    assert belief.update(Report("c", "a", "confirm"))["c"] == pytest.approx(0.8 / (0.8 + 0.3))
    changed = belief.update(Report("c", "b", "deny"))
    lr = np.log(0.8 / 0.3) + np.log(0.2 / 0.7)
    assert changed.to_dict() == pytest.approx({"c": float(expit(lr))})
    assert belief.add_signal(Signal("g", "c", "k", likelihood_ratio=2.0))["c"] == pytest.approx(
        float(expit(lr + np.log(2.0)))
    )


def test_update_is_the_local_fixed_point():
    """A free claim's update needs one sweep: its cavity does not depend on its own P(true)."""
    case = case_from_records(random_records(2, n_reports=60))
    belief = Belief(case)
    belief.update(Report("c7", "s1", "deny"))
    before = belief.log_odds.copy()
    # a neutral report carries no evidence but makes the engine recompute c7: nothing moves
    belief.update(Report("c7", "a-new-source", "neutral"))
    np.testing.assert_allclose(belief.log_odds, before, atol=1e-14)


def test_group_update_changes_the_whole_group():
    claims = [Claim("a", group="g"), Claim("b", group="g"), Claim("c")]
    belief = Belief(Case(claims=claims), FIXED)
    changed = belief.update(Report("a", "s", "confirm"))
    assert list(changed.index) == ["a", "b"]
    lr = np.log(0.8 / 0.3)  # the "none" state and b each weigh 1, a weighs e^lr
    assert changed["a"] == pytest.approx(float(np.exp(lr) / (np.exp(lr) + 2)))
    assert changed["b"] == pytest.approx(float(1 / (np.exp(lr) + 2)))


def test_validation_of_mappings_and_frames():
    belief = Belief()
    with pytest.raises(ValidationError, match=r"update, reports\[1\] entry 1, field 'stance'"):
        belief.update([{"claim_id": "c", "source_id": "s", "stance": "confirm"},
                       {"claim_id": "c", "source_id": "s", "stance": "perhaps"}])  # fmt: skip
    frame = pd.DataFrame({"claim_id": ["c", ""], "source_id": ["s", "t"], "stance": ["for"] * 2})
    with pytest.raises(ValidationError, match=r"row 3, column 'claim_id'"):
        belief.update(frame)
    with pytest.raises(ValidationError, match="already exists"):
        Belief(Case(claims=(Claim("x"),))).add_claim({"claim_id": "x"})


def test_frame_batch_and_refit_every():
    belief = Belief(refit_every=3)
    frame = pd.DataFrame({"claim_id": ["a", "a", "b"], "source_id": ["s", "t", "s"],
                          "stance": ["confirm", "deny", "confirm"],
                          "time": ["2020-01-01", "", "2020-01-02T10:00:00Z"]})  # fmt: skip
    changed = belief.update(frame)
    assert list(changed.index) == ["a", "b"] and len(belief) == 3
    assert belief.result().diagnostics["since_refit"] == 0  # refit ran
    batch = infer_fast(case_from_records({"reports": frame.to_dict("records")}), tol=1e-8)
    np.testing.assert_allclose(belief.log_odds, batch.log_odds, atol=1e-6)


def test_new_claims_get_the_base_rate_and_unknown_sources_the_default():
    belief = Belief(config=Config(base_rate=0.2))
    belief.update(Report("new", "s", "neutral"))
    assert belief.p("new") == pytest.approx(0.2)
    assert belief.posterior.set_index("claim_id").loc["new", "n_reports"] == 1
    assert logit(belief.reliability.sensitivity.iloc[0]) == pytest.approx(logit(0.65))


def test_a_claim_added_to_a_group_updates_the_repeat_weights_of_its_members():
    """Review #6: the new member changes the group's prior, which the repeat rule uses."""
    reports = [Report("a", "s1", "confirm"), Report("a", "s2", "confirm"),
               Report("b", "s3", "deny")]  # fmt: skip
    cfg = {"default_copy_propensity": 0.6, "base_rate": 0.5}
    whole = Case(claims=(Claim("a", group="g"), Claim("b", group="g")), reports=tuple(reports))
    from belief import infer

    exact = infer(whole, config=cfg)
    inc = Belief(Case(claims=(Claim("a", group="g"),), reports=tuple(reports[:2])), cfg)
    inc.add_claim(Claim("b", group="g"))
    inc.update(reports[2])
    got = inc.refit().result()
    np.testing.assert_allclose(got.log_odds[["a", "b"]], exact.log_odds[["a", "b"]], atol=1e-9)
