"""The fast engine against independent oracles: exact enumeration, the reference cavity loop,
Monte Carlo over the reliabilities, and scipy special functions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import random_records
from scipy.special import expit, polygamma

from belief.core.compiler import Evidence, compile_case, report_arrays_from_case
from belief.core.groups import group_logodds
from belief.core.groups import group_variance as group_variance
from belief.core.special import trigamma
from belief.core.verbal import ICD203_TERMS, verbal, verbal_array
from belief.data.io import case_from_records
from belief.data.types import POSTERIOR_COLUMNS
from belief.engines.exact import infer_exact as infer
from belief.engines.fast import Block, infer_fast, run_vb
from belief.exceptions import ConvergenceWarning
from belief.priors.config import Config

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")


def well_reported(seed: int, n_claims: int = 10, n_sources: int = 4, density: float = 0.9):
    """Sources that each report on most claims, simulated from known reliabilities."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n_claims) < 0.5
    sens, spec = rng.uniform(0.6, 0.95, n_sources), rng.uniform(0.6, 0.95, n_sources)
    claims = [{"claim_id": f"c{i}", "prior": float(rng.uniform(0.3, 0.7))} for i in range(n_claims)]
    sources = [{"source_id": f"s{j}", "sensitivity": 0.75, "specificity": 0.75,
                "strength": float(rng.uniform(4, 10))} for j in range(n_sources)]  # fmt: skip
    reports = []
    for i in range(n_claims):
        for j in range(n_sources):
            if rng.random() < density:
                right = rng.random() < (sens[j] if truth[i] else spec[j])
                says_true = truth[i] == right
                stance = "confirm" if says_true else "deny"
                reports.append({"claim_id": f"c{i}", "source_id": f"s{j}", "stance": stance})
    return case_from_records({"claims": claims, "sources": sources, "reports": reports})


# ---- independent reference: the same fixed point written with a Python loop per cell ---------
def _cavity_logratio(ev: Evidence, q: np.ndarray) -> np.ndarray:
    """Per claim: sum over its (claim, source) cells of the cell's exact Beta-Binomial ratio.

    Written independently of ``belief.engines.cells``: a dict of cells, ``scipy.special.betaln``,
    and the cavity (the source's statistics minus the cell's own reports) per cell.
    """
    from scipy.special import betaln

    cells: dict[tuple[int, int], list[float]] = {}
    for c, s, conf, w in zip(ev.r_claim, ev.r_source, ev.r_confirm, ev.r_weight):
        xy = cells.setdefault((int(c), int(s)), [0.0, 0.0])
        xy[0 if conf else 1] += float(w)
    stats = np.column_stack([ev.a_se, ev.b_se, ev.a_sp, ev.b_sp]).astype(float)
    for (c, s), (x, y) in cells.items():
        stats[s] += (x * q[c], y * q[c], y * (1 - q[c]), x * (1 - q[c]))
    out = np.zeros(len(ev.claim_ids))
    for (c, s), (x, y) in cells.items():
        a, b, cc, d = stats[s] - (x * q[c], y * q[c], y * (1 - q[c]), x * (1 - q[c]))
        true = betaln(a + x, b + y) - betaln(a, b)  # x confirms, y denies | T = 1
        false = betaln(cc + y, d + x) - betaln(cc, d)  # | T = 0
        out[c] += true - false
    return out


def reference_cavity_logodds(
    ev: Evidence, *, tol: float = 1e-10, max_iter: int = 2000, damping: float = 0.5
) -> np.ndarray:
    """Cavity fixed point by the per-report formula (see belief.core.groups for the math).

    Parameters
    ----------
    ev : Evidence
        Compiled case (:func:`belief.core.compiler.compile_case`).
    tol : float
        Stop when no claim's P(true) moves more than this in a sweep.
    max_iter : int
        Upper bound on sweeps.
    damping : float
        Weight of the previous iterate in each update (stabilizes oscillating sweeps).

    Returns
    -------
    numpy.ndarray
        Log-odds per claim, in ``ev.claim_ids`` order.
    """
    lo = group_logodds(ev.prior_logodds.copy(), ev.groups)
    for _ in range(max_iter):
        g = ev.prior_logodds + _cavity_logratio(ev, expit(lo))
        new = damping * lo + (1 - damping) * group_logodds(g, ev.groups)
        done = np.max(np.abs(expit(new) - expit(lo)), initial=0.0) < tol
        lo = new
        if done:
            break
    return lo


@pytest.mark.parametrize("seed", range(10))
def test_same_fixed_point_as_reference_cavity_loop(seed):
    """The reference loop above computes the same approximation cell by cell."""
    case = case_from_records(random_records(seed, n_reports=60))
    for config in (Config(base_rate=0.5, learn_kind_priors=False),
                   Config(base_rate=0.5, copy_weight=0.4, learn_kind_priors=False)):  # fmt: skip
        ev = compile_case(case, config)
        got = infer_fast(ev, config, tol=1e-13, exact_states=0).log_odds.to_numpy()
        np.testing.assert_allclose(got, reference_cavity_logodds(ev, tol=1e-13), atol=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_fixed_reliabilities_equal_exact(seed):
    """With huge prior strength both engines reduce to independent log-odds updates."""
    rec = random_records(seed, n_reports=50)
    for s in rec["sources"]:
        s.update(strength=1e9, sensitivity=0.8, specificity=0.7, admiralty="")
    config = Config(
        default_prior={"sensitivity": 0.6, "specificity": 0.65, "strength": 1e9},
        kind_priors={k: {"strength": 1e9} for k in ("media", "blog", "wire")},
        copy_weight=0.5,
        base_rate=0.5,  # a learned rate is known to the sweeps' tol (1e-6) only
    )
    case = case_from_records(rec)
    fast, exact = infer_fast(case, config), infer(case, config)
    np.testing.assert_allclose(fast.log_odds, exact.log_odds, atol=1e-6)
    np.testing.assert_allclose(fast.posterior.p_true, exact.posterior.p_true, atol=1e-7)
    post = fast.posterior  # the interval shrinks as 1 / sqrt(strength)
    np.testing.assert_allclose(post.p_low, post.p_true, atol=1e-3)
    np.testing.assert_allclose(post.p_high, post.p_true, atol=1e-3)


def test_agrees_with_exact_on_well_reported_sources():
    """Documented tolerance (module doc): max |Δp| per case < 0.06, median over cases < 0.02."""
    worst = []
    for seed in range(40):
        case = well_reported(seed)
        fast, exact = infer_fast(case).posterior, infer(case).posterior
        worst.append(np.max(np.abs(fast.p_true - exact.p_true)))
    assert max(worst) < 0.06
    assert np.median(worst) < 0.02


def test_interval_matches_monte_carlo_over_cavity_betas():
    """p_low/p_high against quantiles of P(true | θ, φ) with θ, φ drawn from the cavity Betas."""
    rng = np.random.default_rng(1)
    claims = [{"claim_id": "t", "prior": 0.4}] + [{"claim_id": f"o{i}"} for i in range(30)]
    reports = [{"claim_id": "t", "source_id": f"s{j}", "stance": st}
               for j, st in enumerate(["confirm", "confirm", "deny", "confirm"])]  # fmt: skip
    for i in range(30):
        for j in range(4):
            if rng.random() < 0.4:
                stance = str(rng.choice(["confirm", "deny"], p=[0.6, 0.4]))
                reports.append({"claim_id": f"o{i}", "source_id": f"s{j}", "stance": stance})
    fixed = {"base_rate": 0.5, "learn_kind_priors": False}  # the Monte Carlo draws at the priors
    case = case_from_records({"claims": claims, "reports": reports, "config": fixed})
    ev = compile_case(case, Config(**fixed))
    lo, post, *_ = run_vb(ev, tol=1e-12)
    q0 = expit(lo[0])
    m = ev.r_claim == 0  # one report per source on the target claim
    s, x, y = ev.r_source[m], ev.r_confirm[m] * 1.0, ~ev.r_confirm[m] * 1.0
    a, b = post[s, 0] - x * q0, post[s, 1] - y * q0
    c, d = post[s, 2] - y * (1 - q0), post[s, 3] - x * (1 - q0)
    theta = rng.beta(a, b, size=(200_000, len(s)))
    phi = rng.beta(c, d, size=(200_000, len(s)))
    terms = x * np.log(theta / (1 - phi)) + y * np.log((1 - theta) / phi)
    p = expit(ev.prior_logodds[0] + terms.sum(axis=1))
    row = infer_fast(case, tol=1e-12).posterior.iloc[0]
    assert abs(row.p_true - p.mean()) < 0.005  # p_true is the mean over the reliabilities
    low, high = np.quantile(p, [0.05, 0.95])
    assert abs(row.p_low - low) < 0.04 and abs(row.p_high - high) < 0.01
    assert row.p_low < row.p_true < row.p_high


def testgroup_variance_matches_explicit_formula():
    rng = np.random.default_rng(0)
    g, v = rng.normal(size=9), rng.uniform(0.1, 2, 9)
    groups = [[0, 1, 2], [3, 4], [5, 6, 7, 8]]
    got = group_variance(g, v, groups)
    for members in groups:
        for j in members:
            others = [k for k in members if k != j]
            denom = 1 + np.exp(g[others]).sum()
            expect = v[j] + sum((np.exp(g[k]) / denom) ** 2 * v[k] for k in others)
            assert got[j] == pytest.approx(expect, rel=1e-12)


def test_blocks_are_map_reduce_units():
    """Source statistics of claim-disjoint blocks sum to those of the whole; claims agree."""
    ev = compile_case(case_from_records(random_records(2, n_reports=80)), Config(base_rate=0.5))
    n_src, q = len(ev.source_ids), np.random.default_rng(0).uniform(size=len(ev.claim_ids))
    whole = Block(len(ev.claim_ids), n_src, ev.r_claim, ev.r_source, ev.r_confirm, ev.r_weight)
    post = np.column_stack([ev.a_se, ev.b_se, ev.a_sp, ev.b_sp]) + whole.source_stats(q)
    total, sums = np.zeros((n_src, 4)), np.zeros(len(ev.claim_ids))
    for part in (ev.r_claim % 2 == 0, ev.r_claim % 2 == 1):
        claims = np.unique(ev.r_claim[part])
        local = np.searchsorted(claims, ev.r_claim[part])
        blk = Block(len(claims), n_src, local, ev.r_source[part], ev.r_confirm[part],
                    ev.r_weight[part])  # fmt: skip
        total += blk.source_stats(q[claims])
        sums[claims] = blk.claim_sums(post, q[claims])
    np.testing.assert_allclose(total, whole.source_stats(q), atol=1e-12)
    np.testing.assert_allclose(sums, whole.claim_sums(post, q), atol=1e-12)


def test_inputs_case_evidence_and_arrays_agree():
    case = case_from_records({"reports": random_records(7)["reports"]})
    config = Config(copy_weight=0.2)
    a = infer_fast(case, config)
    b = infer_fast(compile_case(case, config), config)
    c = infer_fast(report_arrays_from_case(case), config)
    for other in (b, c):
        pd.testing.assert_frame_equal(a.posterior, other.posterior)
        pd.testing.assert_frame_equal(a.reliability, other.reliability)


def test_contract_columns_and_claims_without_reports():
    rec = random_records(1)
    rec["claims"].append({"claim_id": "silent", "prior": 0.3})
    result = infer_fast(case_from_records(rec))
    post = result.posterior
    assert tuple(post.columns) == POSTERIOR_COLUMNS
    row = post.set_index("claim_id").loc["silent"]
    assert row.p_true == pytest.approx(0.3) and row.p_low == row.p_high == row.p_true
    assert row.n_reports == 0 and row.verbal == "unlikely"
    assert (post.p_low <= post.p_true).all() and (post.p_true <= post.p_high).all()
    assert set(result.reliability.columns) >= {"source_id", "sensitivity", "specificity"}


def test_no_reports_at_all():
    case = case_from_records({"claims": [{"claim_id": "a", "prior": 0.2}, {"claim_id": "b"}]})
    assert infer_fast(case).posterior.p_true.round(6).tolist() == [0.2, 0.5]


def test_warns_when_not_converged():
    case = case_from_records(random_records(3))
    with pytest.warns(ConvergenceWarning, match="no convergence"):
        result = infer_fast(case, max_iter=1)
    assert not result.converged and result.n_iter == 1


def test_warm_start_reaches_the_same_fixed_point():
    case = case_from_records(random_records(4, n_reports=70))
    cold = infer_fast(case, tol=1e-12)
    warm = infer_fast(case, tol=1e-12, init=np.zeros(len(case.claims)))
    np.testing.assert_allclose(cold.log_odds, warm.log_odds, atol=1e-8)


def test_verbal_array_against_the_icd203_table():
    """Terms from the directive's table, written out by hand (not via verbal())."""
    table = [  # (lowest p, highest p) of each term, edges as documented in belief.core.verbal
        ("almost no chance", 0.0, 0.0499999), ("very unlikely", 0.05, 0.1999999),
        ("unlikely", 0.2, 0.4499999), ("roughly even chance", 0.45, 0.55),
        ("likely", 0.5500001, 0.8), ("very likely", 0.8000001, 0.95),
        ("almost certain", 0.9500001, 1.0),
    ]  # fmt: skip
    for term, low, high in table:
        p = np.linspace(low, high, 101)
        assert set(verbal_array(p).tolist()) == {term}, term
    p = np.linspace(0, 1, 1001)  # mirror symmetry, as the module promises
    mirror = dict(zip(ICD203_TERMS, ICD203_TERMS[::-1]))
    assert [mirror[t] for t in verbal_array(p)] == verbal_array(1 - p).tolist()
    assert verbal(0.8) == "likely" and verbal(1 - 0.55) == "roughly even chance"


def test_trigamma_against_scipy():
    x = np.concatenate([np.logspace(-4, 7, 20_000), np.linspace(0.01, 30, 5000)])
    np.testing.assert_allclose(trigamma(x), polygamma(1, x), rtol=1e-9)


def test_warning_free_on_clean_case():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = infer_fast(well_reported(0))
    assert res.converged


@pytest.mark.parametrize("weights", ["unit", "unit, one per cell", "weighted"])
def test_cells_merge_reports_like_a_loop(weights):
    """Cells and the reduce over claims against a loop over reports (every Block path)."""
    rng = np.random.default_rng(len(weights))
    n_claims, n_src, n = 30, 7, 150
    if weights == "unit, one per cell":
        pairs = rng.choice(n_claims * n_src, size=n, replace=False)
        claim, source = pairs // n_src, pairs % n_src
    else:
        claim, source = rng.integers(n_claims, size=n), rng.integers(n_src, size=n)
    confirm = rng.random(n) < 0.6
    w = rng.choice([1.0, 0.5, 0.0], size=n) if weights == "weighted" else np.ones(n)
    block = Block(n_claims, n_src, claim, source, confirm, w)
    expect: dict[tuple[int, int], list[float]] = {}
    for c, s, f, x in zip(claim, source, confirm, w):
        expect.setdefault((int(c), int(s)), [0.0, 0.0])[0 if f else 1] += x
    got_c, got_s, got_x, got_y = block.cells()
    got = {(int(c), int(s)): [x, y] for c, s, x, y in zip(got_c, got_s, got_x, got_y)}
    assert len(got_c) == len(got) == len(expect) and got == expect
    q = rng.uniform(size=n_claims)
    stats = np.zeros((n_src, 4))
    for (c, s), (x, y) in expect.items():
        stats[s] += [x * q[c], y * q[c], y * (1 - q[c]), x * (1 - q[c])]
    np.testing.assert_allclose(block.source_stats(q), stats, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("seed", range(3))
def test_joint_start_learns_the_rate_of_the_search(monkeypatch, seed):
    """Starting the base-rate search at the joint fixed point (large data) changes nothing
    beyond the sweeps' tolerance: same rate and posterior as the search from 0.5."""
    import belief.engines.fast as fast

    rec = random_records(seed, n_claims=40, n_sources=6, n_reports=200)
    for c in rec["claims"]:
        c.pop("prior", None)  # every claim takes the learned rate
    case = case_from_records(rec)
    searched = infer_fast(case, tol=1e-9)
    monkeypatch.setattr(fast, "JOINT_START_CELLS", 0)
    joint = infer_fast(case, tol=1e-9)
    assert abs(joint.diagnostics["base_rate"] - searched.diagnostics["base_rate"]) < 1e-7
    np.testing.assert_allclose(joint.posterior.p_true, searched.posterior.p_true, atol=1e-7)
