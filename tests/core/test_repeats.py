"""Unattributed repeats (belief.core.repeats) against per-report loops written out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

import belief
from belief.core.compiler import compile_case
from belief.core.repeats import earlier_shares, first_same, repeat_probability
from belief.data.io import case_from_records
from belief.priors.reliability import resolve_source_prior


@pytest.mark.parametrize("seed", range(5))
def test_earlier_shares_match_a_loop(seed):
    rng = np.random.default_rng(seed)
    n = 200
    claim, source = rng.integers(0, 7, n), rng.integers(0, 9, n)
    confirm, order = rng.random(n) < 0.5, rng.permutation(n)
    m, k = earlier_shares(claim, source, confirm, order)
    for r in range(n):
        earlier = [j for j in range(n) if claim[j] == claim[r] and source[j] != source[r]
                   and order[j] < order[r]]  # fmt: skip
        assert m[r] == len(earlier)
        assert k[r] == sum(confirm[j] == confirm[r] for j in earlier)


def _random_case(seed: int, propensity: dict) -> belief.Case:
    rng = np.random.default_rng(seed)
    t0 = datetime(2020, 1, 1)
    kinds = ["media", "blog", "wire"]
    sources = [{"source_id": f"s{j}", "kind": kinds[j % 3]} for j in range(6)]
    reports = [{"claim_id": f"c{rng.integers(5)}", "source_id": f"s{rng.integers(6)}",
                "stance": ["confirm", "deny"][rng.integers(2)],
                "time": (t0 + timedelta(hours=int(rng.integers(48)))).isoformat()}
               for _ in range(40)]  # fmt: skip
    claims = [{"claim_id": f"c{i}", "group": "g" if i < 2 else ""} for i in range(5)]
    return case_from_records({"claims": claims, "sources": sources, "reports": reports,
                              "config": {"base_rate": 0.4, **propensity}})  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_compiled_weights_match_the_rule_written_per_report(seed):
    """rho = pi q / (pi q + (1 - pi) P(x | earlier)), q the share of earlier same-stance reports."""
    cfg = {"copy_propensity": {"blog": 0.7, "media": 0.3}}
    case = _random_case(seed, cfg)
    config = belief.Config.from_case(case)
    ev = compile_case(case, config)
    kind = {s.source_id: s.kind for s in case.sources}
    pi = {"blog": 0.7, "media": 0.3, "wire": 0.0}
    # the claims' prior P(true): groups c0, c1 share "at most one true"
    odds = 0.4 / 0.6
    p_true = {c: (odds / (1 + 2 * odds) if c in ("c0", "c1") else 0.4) for c in case.claim_ids}
    key = [(r.time, r.source_id, 0 if r.stance == "confirm" else 1, i)
           for i, r in enumerate(case.reports)]  # fmt: skip
    expected = [0.0] * len(case.reports)
    lo = {c: np.log(p / (1 - p)) for c, p in p_true.items()}  # the claims' evidence so far
    for i in sorted(range(len(case.reports)), key=lambda i: key[i]):
        r = case.reports[i]
        earlier = [j for j, o in enumerate(case.reports) if o.claim_id == r.claim_id
                   and o.source_id != r.source_id and key[j] < key[i]]  # fmt: skip
        same = [j for j in earlier if case.reports[j].stance == r.stance]
        sp = resolve_source_prior(case.source_map()[r.source_id], config.kind_priors,
                                  config.default_prior)  # fmt: skip
        se, sp_ = sp.sensitivity.mean, sp.specificity.mean
        pt = 1 / (1 + np.exp(-lo[r.claim_id]))
        pc = pt * se + (1 - pt) * (1 - sp_)
        px = pc if r.stance == "confirm" else 1 - pc
        p = pi[kind[r.source_id]]
        q = len(same) / len(earlier) if earlier else 0.0
        expected[i] = p * q / (p * q + (1 - p) * px) if p * q > 0 else 0.0
        llr = np.log(se / (1 - sp_)) if r.stance == "confirm" else np.log((1 - se) / sp_)
        lo[r.claim_id] += (1 - expected[i]) * llr
    np.testing.assert_allclose(ev.r_repeat, expected, atol=1e-12)
    np.testing.assert_allclose(ev.r_weight, 1 - np.asarray(expected), atol=1e-12)


def test_a_source_that_always_reports_first_is_never_a_repeat():
    """Its propensity goes through the whole rule, and changes nothing: nothing came before."""
    reports = [
        {"claim_id": f"c{i}", "source_id": s, "stance": st, "time": f"2020-01-0{d}"}
        for i in range(4)
        for s, st, d in (("first", "confirm", 1), ("later", "deny", 2))
    ]
    case = case_from_records({"reports": reports, "config": {"base_rate": 0.5}})
    on = belief.Config.from_case(case, source_copy_propensity={"first": 0.9})
    ev = compile_case(case, on)
    assert (ev.r_repeat == 0).all() and (ev.r_weight == 1).all()
    np.testing.assert_array_equal(belief.infer(case, config=on).log_odds,
                                  belief.infer(case).log_odds)  # fmt: skip


def test_extreme_reliability_priors_stay_finite():
    """Beta(9e11, 1e-6): the mean rounds to 1, log(1 - mean) comes from the Beta parameters."""
    beta = {"alpha": 9e11, "beta": 1e-6}
    reports = [
        {"claim_id": "x", "source_id": "a", "stance": "deny", "time": "2020-01-01"},
        {"claim_id": "x", "source_id": "b", "stance": "confirm", "time": "2020-01-02"},
        {"claim_id": "x", "source_id": "c", "stance": "confirm", "time": "2020-01-03"},
    ]
    case = case_from_records({"reports": reports})
    cfg = {
        "default_copy_propensity": 0.5,
        "source_priors": {s: {"sensitivity": beta, "specificity": beta} for s in "abc"},
    }
    ev = compile_case(case, belief.Config.from_case(case, cfg))
    assert np.isfinite(ev.r_repeat).all() and np.isfinite(ev.r_weight).all()
    for method in ("exact", "fast"):
        res = belief.infer(case, method, cfg)
        assert np.isfinite(res.posterior["p_true"]).all()


def test_repeat_probability_formula():
    got = repeat_probability(np.array([0.3]), np.array([4]), np.array([3]), np.array([0.6]))
    assert got[0] == pytest.approx(0.3 * 0.75 / (0.3 * 0.75 + 0.7 * 0.6))


def test_propensity_must_be_below_one():
    with pytest.raises(belief.ValidationError, match=r"copy_propensity\['blog'\]"):
        belief.Config(copy_propensity={"blog": 1.0})


@pytest.mark.parametrize("seed", range(4))
def test_first_same_matches_a_loop(seed):
    """The original a repeat goes back to: earliest earlier candidate, other source, same stance."""
    rng = np.random.default_rng(seed)
    n = 300
    claim, source = rng.integers(0, 8, n), rng.integers(0, 6, n)
    confirm, order, cand = rng.random(n) < 0.5, rng.permutation(n), rng.random(n) < 0.8
    got = first_same(claim, source, confirm, order, cand)
    for r in range(n):
        hits = [j for j in range(n) if cand[j] and claim[j] == claim[r] and source[j] != source[r]
                and confirm[j] == confirm[r] and order[j] < order[r]]  # fmt: skip
        assert got[r] == (min(hits, key=lambda j: order[j]) if hits else -1)


def _reference_weights(claim, source, confirm, order, suspect, propensity, p_true, priors):
    """The rule as a plain loop: each claim's suspect reports in copy order, one at a time."""
    rho = np.zeros(len(claim))
    for c in np.unique(claim):
        idx = [i for i in np.argsort(order) if claim[i] == c and suspect[i]]
        p0 = min(max(p_true[c], 1e-300), 1 - 1e-16)
        cum = np.log(p0) - np.log1p(-p0)
        seen = {}  # (source, stance) -> earlier reports
        for i in idx:
            s, x = source[i], bool(confirm[i])
            earlier = sum(v for (s2, _), v in seen.items() if s2 != s)
            same = sum(v for (s2, x2), v in seen.items() if s2 != s and x2 == x)
            a_se, b_se, a_sp, b_sp = priors[i]
            se, sp = a_se / (a_se + b_se), a_sp / (a_sp + b_sp)
            pt = 1 / (1 + np.exp(-cum)) if cum > -700 else 0.0
            p_conf = pt * se + (1 - pt) * (1 - sp)
            p_x = p_conf if x else 1 - p_conf
            num = propensity[i] * (same / earlier if earlier else 0.0)
            rho[i] = num / (num + (1 - propensity[i]) * p_x) if num > 0 else 0.0
            llr = np.log(se / (1 - sp)) if x else np.log((1 - se) / sp)
            cum += (1 - rho[i]) * llr
            seen[s, x] = seen.get((s, x), 0) + 1
    return rho


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tail", [0, 3, 10**9])
def test_repeat_weights_match_a_plain_loop(seed, tail, monkeypatch):
    """Position-parallel, scalar tail, or both: the same weights as one report at a time.

    One claim holds half the reports (the scalar tail runs over it); propensities include 0,
    some reports are declared copies (not suspect), copy ranks have gaps.
    """
    import belief.core.repeats as repeats

    monkeypatch.setattr(repeats, "_SCALAR_TAIL", tail)
    rng = np.random.default_rng(seed)
    n = 300
    claim = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 30, n))
    source, confirm = rng.integers(0, 8, n), rng.random(n) < 0.6
    order, suspect = rng.permutation(n) * 3, rng.random(n) < 0.9
    pi, p_true = rng.choice([0.0, 0.2, 0.7], n), rng.uniform(0.05, 0.95, 30)
    priors = rng.uniform(0.5, 20.0, (n, 4))
    args = (claim, source, confirm, order, suspect, pi, p_true, priors)
    got = repeats.repeat_weights(*args)
    expected = _reference_weights(*args)
    assert (expected > 0.05).sum() > 50  # the rule is at work
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("p_confirm, strength", [(0.5, 1.0), (0.8, 10.0), (0.05, 10.0)])
def test_repeat_weights_of_a_long_claim_match_a_plain_loop(p_confirm, strength):
    """3,000 reports on one claim: P(true) hovering (guesses fail, scalar steps), or driven to 1
    or 0 (guesses hold, long blocks), through the speculative chain."""
    import belief.core.repeats as repeats

    rng = np.random.default_rng(7)
    n = 3000
    claim, source = np.zeros(n, np.int64), rng.integers(0, 30, n)
    confirm, order = rng.random(n) < p_confirm, rng.permutation(n)
    pi, p_true = rng.choice([0.0, 0.3, 0.6], n), np.array([0.4])
    priors = strength * rng.uniform(1.0, 4.0, (n, 4))
    args = (claim, source, confirm, order, np.ones(n, bool), pi, p_true, priors)
    got = repeats.repeat_weights(*args)
    np.testing.assert_allclose(got, _reference_weights(*args), rtol=0, atol=1e-12)
