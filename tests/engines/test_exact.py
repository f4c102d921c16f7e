"""The exact engine against independent oracles: quadrature, Monte Carlo, closed forms."""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from belief.data.io import case_from_records
from belief.engines.exact import infer_exact as infer
from belief.exceptions import ApproximationWarning, EnumerationLimitError
from belief.priors.config import Config
from belief.priors.reliability import resolve_source_prior


def random_case(
    rng: np.random.Generator, n_claims: int, n_sources: int, n_reports: int, group=False
):
    claims = [{"claim_id": f"c{i}", "prior": float(rng.uniform(0.1, 0.9))} for i in range(n_claims)]
    if group:
        for c in claims[:3]:
            c["group"] = "g"
    sources = [
        {
            "source_id": f"s{j}",
            "sensitivity": float(rng.uniform(0.3, 0.9)),
            "specificity": float(rng.uniform(0.3, 0.9)),
            "strength": float(rng.uniform(1.0, 8.0)),
        }
        for j in range(n_sources)
    ]
    reports = [
        {
            "claim_id": f"c{rng.integers(n_claims)}",
            "source_id": f"s{rng.integers(n_sources)}",
            "stance": str(rng.choice(["confirm", "deny"])),
        }
        for _ in range(n_reports)
    ]
    return case_from_records({"claims": claims, "sources": sources, "reports": reports})


def _allowed_states(case):
    n = len(case.claims)
    for state in itertools.product((0, 1), repeat=n):
        groups: dict[str, int] = {}
        for c, t in zip(case.claims, state):
            if c.group:
                groups[c.group] = groups.get(c.group, 0) + t
        if all(v <= 1 for v in groups.values()):
            yield state


def _source_integral(prior, n_confirm_true, n_deny_true, n_confirm_false, n_deny_false):
    """p(reports of one source | truth state), by numerical quadrature over its reliability."""
    se, sp = prior.sensitivity, prior.specificity

    def f_se(x):
        return stats.beta.pdf(x, se.alpha, se.beta) * x**n_confirm_true * (1 - x) ** n_deny_true

    def f_sp(x):
        return stats.beta.pdf(x, sp.alpha, sp.beta) * x**n_deny_false * (1 - x) ** n_confirm_false

    opts = {"epsabs": 1e-14, "epsrel": 1e-10, "limit": 200}
    return integrate.quad(f_se, 0, 1, **opts)[0] * integrate.quad(f_sp, 0, 1, **opts)[0]


def quadrature_oracle(case):
    """Brute force: enumerate truth states explicitly, integrate reliabilities by quadrature."""
    ids = case.claim_ids
    smap = case.source_map()
    weights, states = [], []
    for state in _allowed_states(case):
        truth = dict(zip(ids, state))
        w = math.prod((c.prior if truth[c.claim_id] else 1 - c.prior) for c in case.claims)
        for sid in {r.source_id for r in case.reports}:
            mine = [r for r in case.reports if r.source_id == sid]
            counts = [
                sum(1 for r in mine if truth[r.claim_id] == t and r.stance == s)
                for t, s in ((1, "confirm"), (1, "deny"), (0, "confirm"), (0, "deny"))
            ]
            w *= _source_integral(resolve_source_prior(smap[sid]), *counts)
        weights.append(w)
        states.append(state)
    weights = np.array(weights) / np.sum(weights)
    return dict(zip(ids, np.array(states).T @ weights))


@pytest.mark.parametrize("seed", range(8))
def test_exact_matches_quadrature_oracle(seed):
    rng = np.random.default_rng(seed)
    case = random_case(rng, n_claims=4, n_sources=3, n_reports=9, group=seed % 2 == 1)
    got = infer(case).posterior.set_index("claim_id")["p_true"]
    want = quadrature_oracle(case)
    for cid in case.claim_ids:
        assert got[cid] == pytest.approx(want[cid], abs=1e-7)


def monte_carlo_oracle(case, n=400_000, seed=0):
    """Brute force by sampling reliabilities from their priors (no Beta-function algebra)."""
    rng = np.random.default_rng(seed)
    ids = case.claim_ids
    smap = case.source_map()
    sids = sorted({r.source_id for r in case.reports})
    priors = [resolve_source_prior(smap[s]) for s in sids]
    se = np.column_stack([rng.beta(p.sensitivity.alpha, p.sensitivity.beta, n) for p in priors])
    sp = np.column_stack([rng.beta(p.specificity.alpha, p.specificity.beta, n) for p in priors])
    post = np.zeros(len(ids))
    total = 0.0
    for state in _allowed_states(case):
        truth = dict(zip(ids, state))
        lik = np.ones(n)
        for r in case.reports:
            k = sids.index(r.source_id)
            if truth[r.claim_id]:
                lik *= se[:, k] if r.stance == "confirm" else 1 - se[:, k]
            else:
                lik *= 1 - sp[:, k] if r.stance == "confirm" else sp[:, k]
        prior = math.prod((c.prior if truth[c.claim_id] else 1 - c.prior) for c in case.claims)
        w = prior * lik.mean()
        post += w * np.array(state)
        total += w
    return dict(zip(ids, post / total))


@pytest.mark.parametrize("seed", [11, 12])
def test_exact_matches_monte_carlo_to_3_decimals(seed):
    rng = np.random.default_rng(seed)
    case = random_case(rng, n_claims=3, n_sources=2, n_reports=6, group=seed == 12)
    got = infer(case).posterior.set_index("claim_id")["p_true"]
    want = monte_carlo_oracle(case, seed=seed)
    for cid in case.claim_ids:
        assert got[cid] == pytest.approx(want[cid], abs=2e-3)


def one_claim(reports, sources, **claim):
    return case_from_records(
        {"claims": [{"claim_id": "c", **claim}], "sources": sources, "reports": reports}
    )


def test_hand_computed_beta_moments():
    # Beta(2,1) on both: P(2 confirms | T=1) = E[x^2] = 2*3/(3*4) = 1/2,
    # P(2 confirms | T=0) = E[(1-y)^2] = 1*2/(3*4) = 1/6 -> odds 3 -> p = 3/4.
    src = [{"source_id": "s", "sensitivity": 2 / 3, "specificity": 2 / 3, "strength": 3}]
    rep = [{"claim_id": "c", "source_id": "s", "stance": "confirm"}] * 2
    assert infer(one_claim(rep, src, prior=0.5)).p("c") == pytest.approx(0.75, abs=1e-12)


def test_fixed_reliability_is_bayes_rule_and_uniform_prior_is_uninformative():
    src = [{"source_id": "s", "sensitivity": 0.9, "specificity": 0.7, "strength": 1e12}]
    rep = [{"claim_id": "c", "source_id": "s", "stance": "deny"}]
    # P(deny|T)=0.1, P(deny|F)=0.7, prior 0.3: 0.03 / (0.03 + 0.49)
    assert infer(one_claim(rep, src, prior=0.3)).p("c") == pytest.approx(0.03 / 0.52, abs=1e-6)
    flat = [{"source_id": "s", "sensitivity": 0.5, "specificity": 0.5, "strength": 2}]
    assert infer(one_claim(rep, flat, prior=0.3)).p("c") == pytest.approx(0.3, abs=1e-12)


def test_signals_shift_prior_logodds():
    case = case_from_records(
        {
            "claims": [{"claim_id": "c", "prior": 0.5}],
            "signals": [
                {"signal_id": "a", "claim_id": "c", "kind": "hostile", "direction": -1},
                {"signal_id": "b", "claim_id": "c", "kind": "x", "likelihood_ratio": 4.0},
            ],
            "config": {"signal_effects": {"hostile": 1.5}},
        }
    )
    assert infer(case).log_odds["c"] == pytest.approx(-1.5 + math.log(4.0))


def test_neutral_reports_carry_nothing_but_are_counted():
    rep = [
        {"claim_id": "c", "source_id": "s", "stance": "neutral"},
        {"claim_id": "c", "source_id": "t", "stance": "comment"},
    ]
    post = infer(one_claim(rep, [], prior=0.2)).posterior.iloc[0]
    assert post.p_true == pytest.approx(0.2) and post.n_reports == 2 and post.n_independent == 0


def test_copies_add_nothing_by_default_and_weight_is_configurable():
    base = [{"claim_id": "c", "source_id": "orig", "stance": "confirm", "time": "2017-12-19"}]
    copy = {"claim_id": "c", "source_id": "echo", "stance": "confirm", "derived_from": "orig"}
    p0 = infer(one_claim(base, [], prior=0.5)).p("c")
    with_copy = one_claim([*base, copy], [], prior=0.5)
    res = infer(with_copy)
    assert res.p("c") == pytest.approx(p0, abs=1e-15)
    assert res.posterior.n_independent.iloc[0] == 1 and res.posterior.n_reports.iloc[0] == 2
    weighted = infer(with_copy, Config.from_case(with_copy, copy_weight=1.0)).p("c")
    independent = infer(one_claim([*base, {**copy, "derived_from": None}], [], prior=0.5)).p("c")
    assert weighted == pytest.approx(independent, abs=1e-12) and weighted > p0


def test_copy_without_original_stands_in_for_the_original_source():
    src = [{"source_id": "smart", "sensitivity": 0.9, "specificity": 0.9, "strength": 1e9}]
    only_copies = [
        {
            "claim_id": "c",
            "source_id": "x",
            "stance": "deny",
            "derived_from": "smart",
            "time": "2017-12-20T10:00",
        },
        {
            "claim_id": "c",
            "source_id": "y",
            "stance": "deny",
            "derived_from": "smart",
            "time": "2017-12-20T11:00",
        },
    ]
    direct = [{"claim_id": "c", "source_id": "smart", "stance": "deny"}]
    assert infer(one_claim(only_copies, src, prior=0.5)).p("c") == pytest.approx(
        infer(one_claim(direct, src, prior=0.5)).p("c"), abs=1e-12
    )


def test_group_at_most_one_true_hand_computed():
    # Two competing claims, flat priors: states none/a/b equally likely a priori.
    case = case_from_records(
        {
            "claims": [{"claim_id": "a", "group": "g"}, {"claim_id": "b", "group": "g"}],
            "config": {"base_rate": 0.5},
        }
    )
    post = infer(case).posterior.set_index("claim_id").p_true
    assert post["a"] == pytest.approx(1 / 3) and post["b"] == pytest.approx(1 / 3)


def test_extreme_evidence_no_overflow_no_nan():
    src = [{"source_id": "s", "sensitivity": 0.9, "specificity": 0.9, "strength": 10}]
    many = [{"claim_id": "c", "source_id": "s", "stance": "confirm"}] * 10_000
    res = infer(one_claim(many, src, prior=1e-6))
    assert np.isfinite(res.log_odds["c"]) and res.log_odds["c"] > 10
    assert res.posterior.p_true.between(0, 1).all()
    many_sources = [{"claim_id": "c", "source_id": f"s{i}", "stance": "deny"} for i in range(3000)]
    res = infer(one_claim(many_sources, [], prior=1 - 1e-9))
    assert np.isfinite(res.log_odds["c"]) and res.log_odds["c"] < -100
    assert (
        res.posterior.p_true.iloc[0] == 0.0 and res.posterior.verbal.iloc[0] == "almost no chance"
    )


def realistic_case(rng, n_claims=14, n_sources=10, n_reports=45, strength=(4.0, 10.0)):
    """Better-than-chance sources, as analysts' priors usually say."""
    claims = [{"claim_id": f"c{i}", "prior": 0.5} for i in range(n_claims)]
    sources = [
        {
            "source_id": f"s{j}",
            "sensitivity": float(rng.uniform(0.6, 0.9)),
            "specificity": float(rng.uniform(0.6, 0.9)),
            "strength": float(rng.uniform(*strength)),
        }
        for j in range(n_sources)
    ]
    reports = [
        {
            "claim_id": f"c{rng.integers(n_claims)}",
            "source_id": f"s{rng.integers(n_sources)}",
            "stance": str(rng.choice(["confirm", "deny"])),
        }
        for _ in range(n_reports)
    ]
    return case_from_records({"claims": claims, "sources": sources, "reports": reports})


@pytest.mark.parametrize("seed", range(6))
def test_large_component_warns_and_approximates_close_to_exact(seed):
    case = realistic_case(np.random.default_rng(seed))
    exact = infer(case).posterior.p_true.to_numpy()
    cfg = Config.from_case(case, max_enumeration=3)
    with pytest.warns(ApproximationWarning, match="mean-field"):
        res = infer(case, cfg)
    reported = {r.claim_id for r in case.reports}
    assert len(res.approximate) >= 10 and res.approximate <= reported
    err = np.abs(res.posterior.p_true.to_numpy() - exact)
    # measured on these seeds: max 0.016-0.12, mean 0.004-0.027 (plain mean-field: ~2x worse)
    assert err.max() < 0.15 and err.mean() < 0.03


def test_approximation_is_exact_when_reliability_is_fixed():
    case = realistic_case(np.random.default_rng(9), strength=(1e6, 1e6 + 1))
    exact = infer(case).posterior.p_true.to_numpy()
    with pytest.warns(ApproximationWarning):
        approx = infer(case, Config.from_case(case, max_enumeration=3)).posterior
    np.testing.assert_allclose(approx.p_true.to_numpy(), exact, atol=1e-4)


def test_too_large_component_can_be_an_error():
    case = realistic_case(np.random.default_rng(1))
    with pytest.raises(EnumerationLimitError, match="too large"):
        infer(case, Config.from_case(case, max_enumeration=3, on_large="error"))


def test_enumeration_limit_counts_states_not_claims():
    claims = [{"claim_id": f"c{i}", "group": "g"} for i in range(40)]
    reports = [{"claim_id": f"c{i}", "source_id": "s", "stance": "confirm"} for i in range(40)]
    case = case_from_records({"claims": claims, "reports": reports})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        post = infer(case).posterior  # 41 states: enumerated exactly, no warning
    assert post.p_true.sum() <= 1 + 1e-12


# ---- properties -------------------------------------------------------------------------

stance = st.sampled_from(["confirm", "deny", "neutral"])
report_st = st.tuples(st.integers(0, 3), st.integers(0, 3), stance)


def _case(reports, groups=False, extra=()):
    claims = [{"claim_id": f"c{i}", "group": "g" if groups and i < 3 else None} for i in range(4)]
    recs = [{"claim_id": f"c{c}", "source_id": f"s{s}", "stance": x} for c, s, x in reports]
    return case_from_records({"claims": claims, "reports": recs + list(extra)})


@settings(max_examples=40, deadline=None)
@given(
    st.lists(report_st, max_size=10), st.floats(0.55, 0.95), st.floats(0.55, 0.95), st.booleans()
)
def test_confirmation_from_informative_source_raises_belief(reports, se, sp, groups):
    base = _case(reports, groups)
    new = {"claim_id": "c1", "source_id": "fresh", "stance": "confirm"}
    src = [{"source_id": "fresh", "sensitivity": se, "specificity": sp, "strength": 5}]
    before = infer(base).log_odds["c1"]
    after_case = case_from_records(
        {
            "claims": [{"claim_id": c.claim_id, "group": c.group} for c in base.claims],
            "sources": src,
            "reports": [
                {"claim_id": r.claim_id, "source_id": r.source_id, "stance": r.stance}
                for r in base.reports
            ]
            + [new],
        }
    )
    assert infer(after_case).log_odds["c1"] > before


@settings(max_examples=40, deadline=None)
@given(st.lists(report_st, min_size=1, max_size=10), st.randoms(use_true_random=False))
def test_result_independent_of_report_order(reports, rnd):
    shuffled = list(reports)
    rnd.shuffle(shuffled)
    a = infer(_case(reports, groups=True)).posterior.p_true.to_numpy()
    b = infer(_case(shuffled, groups=True)).posterior.p_true.to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(report_st, min_size=1, max_size=10), st.data())
def test_derived_copy_does_not_move_posterior(reports, data):
    c, s, x = data.draw(st.sampled_from(reports))
    copy = {"claim_id": f"c{c}", "source_id": "echo", "stance": x, "derived_from": f"s{s}"}
    a = infer(_case(reports, groups=True)).posterior.p_true.to_numpy()
    b = infer(_case(reports, groups=True, extra=[copy])).posterior.p_true.to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(report_st, max_size=12))
def test_group_probabilities_never_sum_above_one(reports):
    post = infer(_case(reports, groups=True)).posterior
    assert post.p_true.iloc[:3].sum() <= 1 + 1e-12
    assert post.p_true.between(0, 1).all() and post.p_true.notna().all()


def test_huge_component_falls_back_without_overflow():
    # 1,200 claims linked by one source: 2**1200 states, far beyond float range
    reports = [
        {"claim_id": f"c{i}", "source_id": "s", "stance": "confirm" if i % 3 else "deny"}
        for i in range(1200)
    ]
    case = case_from_records({"reports": reports})
    with pytest.warns(ApproximationWarning, match="1200 claims"):
        post = infer(case).posterior
    assert post.p_true.notna().all() and len(post) == 1200


def test_side_effect_channels_match_shifted_fixed_reliabilities():
    # With fixed reliability (huge strength), a favoured-side confirm has likelihood ratio
    # expit(logit(se) + a) / (1 - expit(logit(sp) - a)); an opposed-side deny mirrors it.
    a, se, sp = 1.2, 0.8, 0.7
    case = case_from_records(
        {
            "claims": [{"claim_id": "c", "favors": "gov"}, {"claim_id": "d", "favors": "opp"}],
            "sources": [{"source_id": "s", "side": "gov", "sensitivity": se,
                         "specificity": sp, "strength": 1e9}],
            "reports": [{"claim_id": "c", "source_id": "s", "stance": "confirm"},
                        {"claim_id": "d", "source_id": "s", "stance": "deny"}],
            "config": {"base_rate": 0.5},
        }
    )  # fmt: skip
    res = infer(case, Config.from_case(case, side_effect=a))
    expit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    lr_c = expit(logit(se) + a) / (1 - expit(logit(sp) - a))
    lr_d = (1 - expit(logit(se) - a)) / expit(logit(sp) + a)
    assert res.log_odds["c"] == pytest.approx(math.log(lr_c), abs=1e-6)
    assert res.log_odds["d"] == pytest.approx(math.log(lr_d), abs=1e-6)
    # a partisan confirmation of its own side's claim is weaker evidence than a neutral one
    assert res.log_odds["c"] < infer(case).log_odds["c"]


def test_side_effect_zero_equals_a_case_without_sides():
    """side_effect 0 with sides and favors set: the answer of the same case stripped of sides."""
    case = random_case(np.random.default_rng(3), n_claims=4, n_sources=3, n_reports=9)
    sided = case.replace(
        claims=tuple(replace(c, favors=["red", "blue"][i % 2]) for i, c in enumerate(case.claims)),
        sources=tuple(replace(s, side="red") for s in case.source_map().values()),
    )
    plain = infer(case).log_odds
    zero = infer(sided, Config.from_case(sided, side_effect=0.0)).log_odds
    pd.testing.assert_series_equal(zero, plain)
    moved = infer(sided, Config.from_case(sided, side_effect=1.0)).log_odds
    assert (moved - plain).abs().max() > 1e-3  # and a non-zero effect does move it


def _group_oracle(case):
    """P(claim true) by brute force over one-hot states with scipy's betaln (no engine code)."""
    from scipy.special import betaln, logit

    from belief.priors.reliability import resolve_source_prior

    ids = case.claim_ids
    smap = case.source_map()
    logw = []
    for true in [None, *ids]:  # none true, or exactly one
        total = sum(logit(c.prior if c.prior is not None else 0.5) for c in case.claims
                    if c.claim_id == true)  # fmt: skip
        for sid, src in smap.items():
            sp = resolve_source_prior(src)
            a, b = sp.sensitivity.alpha, sp.sensitivity.beta
            c, d = sp.specificity.alpha, sp.specificity.beta
            rs = [r for r in case.reports if r.source_id == sid]
            ct = sum(r.stance == "confirm" and r.claim_id == true for r in rs)
            dt = sum(r.stance == "deny" and r.claim_id == true for r in rs)
            cf = sum(r.stance == "confirm" and r.claim_id != true for r in rs)
            df = sum(r.stance == "deny" and r.claim_id != true for r in rs)
            total += betaln(a + ct, b + dt) - betaln(a, b) + betaln(c + df, d + cf) - betaln(c, d)
        logw.append(total)
    logw = np.array(logw)
    p = np.exp(logw - logw.max())
    p /= p.sum()
    return dict(zip(ids, p[1:]))


@pytest.mark.parametrize("seed", range(8))
def test_a_component_that_is_one_group_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    claims = [{"claim_id": f"c{i}", "group": "g", "prior": float(rng.uniform(0.1, 0.9))}
              for i in range(k)]  # fmt: skip
    reports = [{"claim_id": f"c{rng.integers(k)}", "source_id": f"s{rng.integers(3)}",
                "stance": str(rng.choice(["confirm", "deny"]))}
               for _ in range(int(rng.integers(1, 12)))]  # fmt: skip
    # the oracle holds the default reliability prior (not learned from the data)
    case = case_from_records({"claims": claims, "reports": reports,
                              "config": {"learn_kind_priors": False}})  # fmt: skip
    expected = _group_oracle(case)
    got = infer(case).posterior.set_index("claim_id")["p_true"]
    for cid, p in expected.items():
        assert got[cid] == pytest.approx(p, abs=1e-12)


def test_a_60000_claim_group_is_linear():
    """A group used as a topic tag: 60,000 members failed with a 26.8 GiB allocation."""
    n = 60_000
    case = case_from_records({
        "claims": [{"claim_id": f"c{i}", "group": "topic"} for i in range(n)],
        "reports": [{"claim_id": f"c{i}", "source_id": f"s{i % 500}",
                     "stance": "confirm" if i % 3 else "deny"} for i in range(n)]})  # fmt: skip
    exact = infer(case).posterior["p_true"].to_numpy()
    assert np.isfinite(exact).all() and exact.sum() <= 1.0 + 1e-9
    import belief

    fast = belief.infer(case, "fast").posterior["p_true"].to_numpy()
    np.testing.assert_allclose(fast, exact, atol=1e-6)
