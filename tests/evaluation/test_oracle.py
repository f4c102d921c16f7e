"""Tests of :mod:`belief.evaluation.oracle`: the Bayes oracle with and without copy knowledge.

Two independent computations hold the closed form: brute-force enumeration of every truth
assignment and, for the oracle that knows only the copy propensities, of every way the reports
could have been produced (independent, or a repeat of this or that earlier report), with direct
probabilities; and calibration over a large simulated world (the posteriors of the oracles that
are proper Bayes posteriors match the frequency of truth in every probability bin).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy.special import logit

from belief.data.types import Case, Claim, Report, Signal, Source
from belief.evaluation import simulate
from belief.evaluation.oracle import COPY_KNOWLEDGE, oracle_posterior
from belief.evaluation.scoring import brier, calibration_slope_intercept, log_score
from belief.evaluation.simulate import SimulationTruth, simulate_case
from belief.exceptions import ValidationError

P_NEUTRAL = 0.1


def _align(side: str | None, favors: str | None) -> int:
    if not side or not favors:
        return 0
    return 1 if side == favors else -1


def _within(observed: float, expected: float, se: float, k: float = 3.0) -> bool:
    return abs(observed - expected) <= k * se


def _p_independent(r: Report, is_true: int, claim: dict, side: dict, truth) -> float:
    """P(stance | truth) of an independent report, neutral included (direct probabilities)."""
    if r.stance == "neutral":
        return P_NEUTRAL
    a = truth.side_effect * _align(side.get(r.source_id), claim[r.claim_id].favors)
    if is_true:
        p_confirm = 1 / (1 + math.exp(-(logit(truth.sensitivity[r.source_id]) + a)))
    else:
        p_confirm = 1 / (1 + math.exp(logit(truth.specificity[r.source_id]) - a))
    return (1 - P_NEUTRAL) * (p_confirm if r.stance == "confirm" else 1 - p_confirm)


def _brute_force(case: Case, truth: SimulationTruth, copies: str = "known") -> dict[str, float]:
    """P(T_c = 1 | data) by enumerating every truth assignment and every hidden explanation."""
    ids = case.claim_ids
    claim = {c.claim_id: c for c in case.claims}
    side = {s.source_id: s.side for s in case.sources}
    lo = dict.fromkeys(ids, math.log(truth.base_rate / (1 - truth.base_rate)))
    for g in case.signals:
        lo[g.claim_id] += g.direction * truth.signal_effects[g.kind]
    # explanations of each report: ("indep",) or ("repeat", j) for an earlier report j
    ordered = sorted(case.reports, key=lambda r: (r.time or datetime.min, r.source_id))
    options, pool = [], {}  # pool: claim -> earlier informative reports of non-copier sources
    for r in ordered:
        earlier = list(pool.get(r.claim_id, []))
        if r.stance != "neutral" and r.source_id in truth.sensitivity:
            pool.setdefault(r.claim_id, []).append(r)
        if r.derived_from is not None:
            continue  # declared: a copy whatever the truth, a constant factor
        hidden = (r.claim_id, r.source_id) in truth.repeats
        if copies == "known" and hidden:
            continue  # known repeat: a constant factor
        if copies == "propensity" and r.stance != "neutral" and earlier:
            options.append([(r, None, earlier), *((r, j, earlier) for j in earlier)])
        else:
            options.append([(r, None, earlier)])
    post, total = dict.fromkeys(ids, 0.0), 0.0
    for state in itertools.product((0, 1), repeat=len(ids)):
        t = dict(zip(ids, state, strict=True))
        per_group = Counter(claim[c].group for c in ids if t[c] and claim[c].group)
        if any(v > 1 for v in per_group.values()):
            continue
        prior = math.prod(math.exp(lo[c]) if t[c] else 1.0 for c in ids)
        w = 0.0
        for combo in itertools.product(*options):
            p = prior
            for r, j, earlier in combo:
                rho = truth.copy_propensity.get(r.source_id, 0.0) if copies == "propensity" else 0
                rho = rho if earlier and r.stance != "neutral" else 0.0
                if j is None:
                    p *= (1 - rho) * _p_independent(r, t[r.claim_id], claim, side, truth)
                else:  # informative, an uncited repeat of report j: its stance, whatever T
                    p *= (1 - P_NEUTRAL) * rho * (1 - truth.p_cited) / len(earlier)
                    p *= j.stance == r.stance
            w += p
        total += w
        for c in ids:
            post[c] += w * t[c]
    return {c: post[c] / total for c in ids}


def _hand_case() -> tuple[Case, SimulationTruth]:
    claims = (
        Claim("c1", favors="gov", group="g"),
        Claim("c2", favors="opp", group="g"),
        Claim("c3", group="g"),
        Claim("c4", favors="gov"),
        Claim("c5"),
    )
    sources = (Source("s1", side="gov"), Source("s2", side="opp"), Source("s3"), Source("agg"))
    reports = tuple(
        Report(c, s, st, derived_from=d)
        for c, s, st, d in [
            ("c1", "s1", "confirm", None), ("c1", "s2", "deny", None),
            ("c2", "s3", "confirm", None), ("c2", "agg", "confirm", "s3"),
            ("c3", "s2", "deny", None), ("c3", "s1", "neutral", None),
            ("c4", "s1", "confirm", None), ("c4", "s2", "confirm", None),
            ("c4", "s3", "deny", None), ("c5", "s2", "deny", None),
        ]
    )  # fmt: skip
    signals = (Signal("g1", "c2", "rhetoric", -1), Signal("g2", "c5", "official", 1))
    truth = SimulationTruth(
        truth={},
        sensitivity={"s1": 0.8, "s2": 0.65, "s3": 0.9},
        specificity={"s1": 0.7, "s2": 0.85, "s3": 0.6},
        kind_means={},
        kind_sd={},
        side_effect=0.8,
        signal_effects={"rhetoric": 1.0, "official": 1.5},
        base_rate=0.35,
    )
    return Case(claims, sources, reports, signals), truth


@pytest.fixture(scope="module")
def copy_world() -> tuple[Case, SimulationTruth, np.ndarray]:
    """A large world with partisan-style repeaters (media, blogs) and half the repeats cited."""
    case, truth = simulate_case(
        4000,
        30,
        density=0.3,
        p_repeat={"media": 0.4, "blog": 0.7},
        p_cited=0.5,
        n_copiers=2,
        random_seed=21,
        return_truth=True,
    )
    return case, truth, truth.truth_array(case.claim_ids)


def _p(post: dict[str, float], case: Case) -> np.ndarray:
    return np.array([post[c] for c in case.claim_ids])


# --- against brute force -----------------------------------------------------------------------


def test_oracle_is_reexported_by_simulate():
    assert simulate.oracle_posterior is oracle_posterior


def test_oracle_matches_brute_force_on_hand_made_case():
    case, truth = _hand_case()
    post = oracle_posterior(case, truth)
    assert post == pytest.approx(_brute_force(case, truth), rel=1e-10)
    assert post["c1"] + post["c2"] + post["c3"] < 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_matches_brute_force_on_tiny_simulated_cases(seed):
    case, truth = simulate_case(
        7,
        4,
        group_size=3,
        density=0.7,
        n_copiers=1,
        p_copy=1.0,
        p_signal=0.5,
        random_seed=seed,
        return_truth=True,
    )
    assert any(r.derived_from for r in case.reports)
    post = oracle_posterior(case, truth)
    assert post == pytest.approx(_brute_force(case, truth), rel=1e-10)


@pytest.mark.parametrize("copies", COPY_KNOWLEDGE)
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_every_copy_knowledge_matches_brute_force_with_repeats(seed, copies):
    case, truth = simulate_case(
        4,
        3,
        group_size=2,
        density=0.9,
        p_repeat=0.6,
        p_cited=0.3,
        n_copiers=1,
        p_signal=0.5,
        random_seed=seed,
        return_truth=True,
    )
    uncited = [r for r in case.reports if (r.claim_id, r.source_id) in truth.repeats]
    assert any(r.derived_from is None for r in uncited)
    post = oracle_posterior(case, truth, copies=copies)
    assert post == pytest.approx(_brute_force(case, truth, copies), rel=1e-9)


def test_oracle_single_report_closed_form():
    case = Case((Claim("c"),), (Source("s"),), (Report("c", "s", "confirm"),))
    truth = SimulationTruth({}, {"s": 0.8}, {"s": 0.7}, {}, {}, 1.0, {}, 0.5)
    assert oracle_posterior(case, truth)["c"] == pytest.approx(0.8 / (0.8 + 0.3))


def test_propensity_oracle_closed_form_for_two_reports():
    t0 = datetime(2024, 1, 1)
    reports = (
        Report("c", "a", "confirm", t0 + timedelta(hours=1)),
        Report("c", "b", "confirm", t0),  # earlier: b is never a repeat, a may repeat b
    )
    case = Case((Claim("c"),), (Source("a"), Source("b")), reports)
    rho, cited = 0.5, 0.2
    truth = SimulationTruth(
        {}, {"a": 0.8, "b": 0.6}, {"a": 0.7, "b": 0.9}, {}, {}, 0.0, {}, 0.5,
        copy_propensity={"a": rho, "b": rho}, p_cited=cited,
    )  # fmt: skip
    q = rho * (1 - cited)
    odds = (0.6 / 0.1) * (q + (1 - rho) * 0.8) / (q + (1 - rho) * 0.3)
    assert oracle_posterior(case, truth, copies="propensity")["c"] == pytest.approx(
        odds / (1 + odds)
    )
    assert oracle_posterior(case, truth, copies="declared")["c"] == pytest.approx(
        (6 * 0.8 / 0.3) / (1 + 6 * 0.8 / 0.3)
    )


# --- calibration over a large world ------------------------------------------------------------


def test_oracle_is_accurate_and_calibrated_in_a_dense_world():
    case, truth = simulate_case(
        1500, 30, density=0.3, n_copiers=2, random_seed=12, return_truth=True
    )
    post = oracle_posterior(case, truth)
    p, y = np.array([post[c] for c in case.claim_ids]), truth.truth_array(case.claim_ids)
    b = np.mean((p - y) ** 2)
    assert b < 0.25 and b < 0.5 * np.mean((y.mean() - y) ** 2)
    for part in (p < 0.5, p >= 0.5):  # calibration in the large, on each half
        assert _within(y[part].sum(), p[part].sum(), math.sqrt((p[part] * (1 - p[part])).sum()))


@pytest.mark.parametrize("copies", ["known", "propensity"])
def test_bayes_oracles_are_calibrated_in_every_bin_of_a_copy_heavy_world(copy_world, copies):
    case, truth, y = copy_world
    p = _p(oracle_posterior(case, truth, copies=copies), case)
    edges = np.digitize(p, [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98])
    for b in np.unique(edges):
        m = edges == b
        se = math.sqrt((p[m] * (1 - p[m])).sum())
        assert _within(y[m].sum(), p[m].sum(), se, k=3.5), (b, y[m].sum(), p[m].sum())


def test_counting_repeats_as_evidence_is_overconfident_and_worse(copy_world):
    case, truth, y = copy_world
    p = {c: _p(oracle_posterior(case, truth, copies=c), case) for c in COPY_KNOWLEDGE}
    scores = {c: (brier(y, v), log_score(y, v)) for c, v in p.items()}
    assert scores["known"] < scores["propensity"] < scores["declared"]  # both scores, in order
    assert brier(y, p["declared"]) > 1.1 * brier(y, p["known"])
    slope = {c: calibration_slope_intercept(y, v)[0] for c, v in p.items()}
    assert slope["declared"] < 0.85 < slope["propensity"]  # slope < 1: too extreme
    assert abs(slope["known"] - 1) < 0.15 and abs(slope["propensity"] - 1) < 0.15


def test_without_repeats_every_copy_knowledge_agrees():
    case, truth = simulate_case(300, 20, density=0.3, n_copiers=2, random_seed=3, return_truth=True)
    assert truth.repeats == {}
    posts = [oracle_posterior(case, truth, copies=c) for c in COPY_KNOWLEDGE]
    assert posts[0] == posts[1] == pytest.approx(posts[2], rel=1e-12)


# --- errors ------------------------------------------------------------------------------------


def test_oracle_rejects_unknown_sources_and_signal_kinds():
    case, truth = _hand_case()
    extra = case.replace(reports=(*case.reports, Report("c5", "zz", "confirm")))
    with pytest.raises(ValidationError, match="'zz'"):
        oracle_posterior(extra, truth)
    extra = case.replace(signals=(*case.signals, Signal("g9", "c1", "mystery")))
    with pytest.raises(ValidationError, match="'mystery'"):
        oracle_posterior(extra, truth)


def test_oracle_rejects_unknown_copy_knowledge():
    case, truth = _hand_case()
    with pytest.raises(ValidationError, match=r"copies should be one of \['known', 'declared'"):
        oracle_posterior(case, truth, copies="all")


def test_propensity_oracle_rejects_a_report_impossible_under_the_truth():
    reports = (Report("c", "b", "confirm"), Report("c", "a", "deny"))  # a always repeats
    case = Case((Claim("c"),), (Source("a"), Source("b")), reports)
    truth = SimulationTruth(
        {}, {"a": 0.8, "b": 0.6}, {"a": 0.7, "b": 0.9}, {}, {}, 0.0, {}, 0.5,
        copy_propensity={"a": 1.0},
    )  # fmt: skip
    with pytest.raises(ValidationError, match="a report should be possible under truth_params"):
        oracle_posterior(case, truth, copies="propensity")
