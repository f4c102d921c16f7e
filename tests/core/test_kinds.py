"""Kind-level reliability learned by empirical Bayes (belief.core.kinds, belief.core.hyper).

The oracle is a brute-force enumeration written here with scipy's ``betaln``: every joint truth
of the claims, each source's reliability integrated out in closed form, and the fixed point of
the documented equations (leave-one-out kind means, the base rate's posterior mode) found by
plain repeated substitution to 1e-15. The engines must land on it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import betaln, logit

import belief
from belief.core.compiler import compile_case
from belief.core.kinds import NO_KIND, kind_means
from belief.exceptions import ValidationError
from belief.priors.reliability import DEFAULT_PRIOR, KIND_PRIORS

KINDS = {"m0": "media", "m1": "media", "m2": "media", "b0": "blog", "b1": "blog", "n0": None}


def kinds_case(seed: int, n_claims: int = 5, n_reports: int = 16) -> belief.Case:
    rng = np.random.default_rng(seed)
    sources = [{"source_id": s, **({"kind": k} if k else {})} for s, k in KINDS.items()]
    claims = [{"claim_id": f"c{i}"} for i in range(n_claims)]
    claims[0]["prior"] = 0.3  # one claim with its own prior: outside the base rate
    reports = [
        {"claim_id": f"c{rng.integers(n_claims)}", "source_id": str(rng.choice(list(KINDS))),
         "stance": str(rng.choice(["confirm", "deny"], p=[0.6, 0.4]))}
        for _ in range(n_reports)
    ]  # fmt: skip
    return belief.case_from_records({"claims": claims, "sources": sources, "reports": reports})


def oracle(case: belief.Case, h: float = 10.0, ab: tuple[float, float] = (5.0, 5.0)) -> tuple:
    """Marginals, base rate and pooled kind means at the empirical-Bayes fixed point."""
    cids = case.claim_ids
    sids = list(KINDS)
    x = np.zeros((len(sids), len(cids)))
    y = np.zeros_like(x)
    for r in case.reports:
        (x if r.stance == "confirm" else y)[sids.index(r.source_id), cids.index(r.claim_id)] += 1
    own = np.array([c.prior is not None for c in case.claims])
    fixed_lo = np.array([logit(c.prior) if c.prior is not None else 0.0 for c in case.claims])
    table = {k: KIND_PRIORS[k] for k in ("media", "blog")} | {NO_KIND: DEFAULT_PRIOR}
    group = [KINDS[s] or NO_KIND for s in sids]
    m0 = np.array([[table[g][f] for g in group] for f in ("sensitivity", "specificity")])
    strength = np.array([table[g]["strength"] for g in group])
    states = np.array(list(itertools.product([0, 1], repeat=len(cids))), dtype=float)

    def marginals(means: np.ndarray, rate: float) -> np.ndarray:
        a, b = means[0] * strength, (1 - means[0]) * strength
        c, d = means[1] * strength, (1 - means[1]) * strength
        lo = np.where(own, fixed_lo, logit(rate))
        logw = states @ lo
        for j in range(len(sids)):
            ct, dt = states @ x[j], states @ y[j]
            df, cf = (1 - states) @ y[j], (1 - states) @ x[j]
            logw += betaln(a[j] + ct, b[j] + dt) - betaln(a[j], b[j])
            logw += betaln(c[j] + df, d[j] + cf) - betaln(c[j], d[j])
        w = np.exp(logw - logw.max())
        return (w @ states) / w.sum()

    means, rate = m0.copy(), 0.5
    for _ in range(100_000):
        p = marginals(means, rate)
        hit = np.array([x @ p, y @ (1 - p)])
        tot = np.array([(x + y) @ p, (x + y) @ (1 - p)])
        new = np.empty_like(means)
        pooled = {}
        for g in set(group):
            members = np.array([k == g for k in group])
            for f in range(2):
                T, N = hit[f][members].sum(), tot[f][members].sum()
                new[f][members] = (h * m0[f][members] + T - hit[f][members]) / (
                    h + N - tot[f][members]
                )
                pooled[(g, f)] = (h * m0[f][members][0] + T) / (h + N)
        new_rate = (p[~own].sum() + ab[0] - 1) / ((~own).sum() + ab[0] + ab[1] - 2)
        done = max(np.abs(new - means).max(), abs(new_rate - rate)) < 1e-15
        means, rate = new, new_rate
        if done:
            break
    return marginals(means, rate), rate, pooled


def _p(result: belief.BeliefResult) -> np.ndarray:
    return result.posterior["p_true"].to_numpy()


@pytest.mark.parametrize("seed", range(4))
def test_exact_engine_lands_on_the_brute_force_fixed_point(seed):
    case = kinds_case(seed)
    p, rate, pooled = oracle(case)
    got = belief.infer(case)
    np.testing.assert_allclose(_p(got), p, atol=1e-9)
    assert got.diagnostics["base_rate"] == pytest.approx(rate, abs=1e-9)
    learned = got.diagnostics["kind_reliability"]
    for (g, f), m in pooled.items():
        assert learned[g][("sensitivity", "specificity")[f]] == pytest.approx(m, abs=1e-9)
    # learning matters on this case: the answer with the built-in values is elsewhere
    off = _p(belief.infer(case, config={"learn_kind_priors": False}))
    assert np.abs(off - p).max() > 1e-3


def _incremental(case: belief.Case) -> belief.BeliefResult:
    b = belief.Belief(case.replace(reports=()), tol=1e-12)
    for r in case.reports:
        b.update(r)
    return b.refit().result()


@pytest.mark.parametrize("method", ["fast", "incremental"])
def test_scale_engines_equal_exact_with_learned_kinds(method):
    case = kinds_case(7, n_claims=6, n_reports=24)
    exact = belief.infer(case)
    got = belief.infer(case, "fast", tol=1e-12) if method == "fast" else _incremental(case)
    np.testing.assert_allclose(_p(got), _p(exact), atol=1e-8)
    for kind, row in exact.diagnostics["kind_reliability"].items():
        for f, m in row.items():
            assert got.diagnostics["kind_reliability"][kind][f] == pytest.approx(m, abs=1e-8)


def test_a_given_value_is_not_learned_and_an_only_source_keeps_the_builtin():
    srcs = [belief.Source("w", kind="wire"), belief.Source("b1", kind="blog"),
            belief.Source("b2", kind="blog"), belief.Source("a", kind="blog", admiralty="A"),
            belief.Source("o", kind="blog", sensitivity=0.9)]  # fmt: skip
    reports = [belief.Report(f"c{i}", s.source_id, "confirm") for i in range(3) for s in srcs]
    case = belief.Case(tuple(belief.Claim(f"c{i}") for i in range(3)), tuple(srcs), tuple(reports))
    cfg = belief.Config(kind_priors={"blog": {"specificity": 0.7}})
    kl = compile_case(case, cfg).kinds
    assert kl is not None
    ids = compile_case(case, cfg).source_ids
    sens = {s: kl.group[0][ids.index(s)] >= 0 for s in ids}
    spec = {s: kl.group[1][ids.index(s)] >= 0 for s in ids}
    # sensitivity: blogs b1, b2 learned; Admiralty and own values fixed; the wire too (alone)
    assert sens == {"a": False, "b1": True, "b2": True, "o": False, "w": True}
    # specificity: given for blogs in the config; "o" has no own specificity but a blog kind
    assert spec == {"a": False, "b1": False, "b2": False, "o": False, "w": True}
    # a kind's only source (the wire) keeps its built-in mean: its own reports do not count
    stats = np.ones((len(ids), 4))
    means = kind_means(kl, stats)
    w = ids.index("w")
    assert means[0][w] == pytest.approx(KIND_PRIORS["wire"]["sensitivity"])
    # each blog's prior comes from the other blog: (10 * 0.6 + 1) / (10 + 2)
    assert means[0][ids.index("b1")] == pytest.approx((10 * 0.6 + 1) / 12)
    assert compile_case(case, belief.Config(learn_kind_priors=False)).kinds is None


def test_no_kinds_learned_when_switched_off_or_given():
    case = kinds_case(0)
    given = {k: {"sensitivity": 0.7, "specificity": 0.7} for k in ("media", "blog")}
    cfg = belief.Config(kind_priors=given, default_prior={"sensitivity": 0.6,
                                                         "specificity": 0.6})  # fmt: skip
    assert compile_case(case, cfg).kinds is None
    assert "kind_reliability" not in belief.infer(case, config=cfg).diagnostics
    assert (
        "kind_reliability"
        not in belief.infer(case, config={"learn_kind_priors": False}).diagnostics
    )


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("learn_kind_priors", "yes", "expected true or false"),
     ("kind_prior_strength", 0, "expected a number > 0"),
     ("kind_prior_strength", -1, "kind_prior_strength")],
)  # fmt: skip
def test_invalid_settings_are_named(field, value, named):
    with pytest.raises(ValidationError, match=named):
        belief.Config(**{field: value})


def test_learned_kind_means_recover_the_simulated_truth():
    """Many sources with a few reports each, better than their kinds' built-in values.

    With about five reports per source, the prior mean matters: learned, it lands near the
    truth and the Brier score nearly reaches that of the Bayes oracle that knows every
    reliability (0.1235 on this world), far below the built-in values' (0.18).
    """
    rng = np.random.default_rng(11)
    n_claims, truth_rate = 400, 0.4
    truth = rng.random(n_claims) < truth_rate
    kinds = {"blog": (0.85, 0.80), "media": (0.70, 0.90)}
    sources, reports = [], []
    for kind, (se, sp) in kinds.items():
        for j in range(80):
            sid = f"{kind}{j}"
            sources.append({"source_id": sid, "kind": kind})
            for c in np.flatnonzero(rng.random(n_claims) < 0.012):
                yes = rng.random() < (se if truth[c] else 1 - sp)
                reports.append({"claim_id": f"c{c}", "source_id": sid,
                                "stance": "confirm" if yes else "deny"})  # fmt: skip
    claims = [{"claim_id": f"c{i}"} for i in range(n_claims)]
    case = belief.case_from_records({"sources": sources, "reports": reports, "claims": claims})
    on = belief.infer(case, "fast")
    learned = on.diagnostics["kind_reliability"]
    assert learned["blog"]["sensitivity"] == pytest.approx(0.85, abs=0.04)
    assert learned["blog"]["specificity"] == pytest.approx(0.80, abs=0.04)
    assert learned["media"]["sensitivity"] == pytest.approx(0.70, abs=0.04)
    assert learned["media"]["specificity"] == pytest.approx(0.90, abs=0.04)
    assert on.diagnostics["base_rate"] == pytest.approx(truth.mean(), abs=0.03)
    off = belief.infer(case, "fast", {"learn_kind_priors": False})
    y = truth.astype(float)
    brier_on = np.mean((_p(on) - y) ** 2)
    brier_off = np.mean((_p(off) - y) ** 2)
    assert brier_on < 0.135 < 0.17 < brier_off


def test_reports_that_say_nothing_stop_the_search_with_a_warning():
    """Pure noise (stances drawn at random): the fast engine's answers at nearby values cycle
    between mean-field fixed points, so the search stops, says so, and keeps its closest run
    (it ran 300 engine runs before: a `belief infer` on such a file printed the warning only)."""
    rng = np.random.default_rng(0)
    rows = {(f"c{rng.integers(40)}", f"s{rng.integers(12)}", str(rng.choice(["confirm", "deny"])))
            for _ in range(200)}  # fmt: skip
    case = belief.case_from_records({"reports": [
        {"claim_id": c, "source_id": s, "stance": x} for c, s, x in sorted(rows)]})  # fmt: skip
    with pytest.warns(belief.ConvergenceWarning, match="barely identify"):
        res = belief.infer(case, "fast")
    assert res.diagnostics["hyper_evals"] <= 60
    assert np.isfinite(res.posterior["p_true"]).all()
    learned = res.diagnostics["kind_reliability"]["(no kind)"]
    assert 0.45 < learned["sensitivity"] < 0.65 and 0.45 < learned["specificity"] < 0.65
