"""The joint model's graph against an independent numpy implementation.

The reference below re-derives everything from the :class:`~belief.data.types.Case` with plain loops
and brute-force enumeration of every joint truth state (no log-sum-exp tricks, no shared code
with :mod:`belief.model.graph` beyond :func:`belief.priors.reliability.resolve_source_prior`,
which defines the priors), then compares the log density and P(true) at random parameter values.
Unattributed repeats: each report's earlier reports by other sources are counted by a plain loop
over the reports sorted by time then source id, and its likelihood is the mixture
``pi q + (1 - pi) P(x | T)`` in every enumerated truth state.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import digamma, expit, logit, logsumexp, polygamma

pytest.importorskip("pymc")

from conftest import RECORDS

from belief.core.compiler import compile_case
from belief.data.io import case_from_records
from belief.data.types import Source
from belief.model.estimator import DEFAULT_MODEL_CONFIG, prepare
from belief.model.graph import build_model, encode_case, logit_normal
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, resolve_source_prior


@pytest.fixture(scope="module")
def case():
    return case_from_records(RECORDS, "graph-oracle")


# -- the independent reference ------------------------------------------------------------------
def earlier(case):
    """Per report (by identity): (m, k), its earlier informative original reports on its claim
    by other sources and those with its stance (time order, no times first, then source id)."""

    def key(r):
        return (r.time is not None, r.time or 0, r.source_id)

    out = {}
    for r in case.reports:
        if r.stance == "neutral" or r.derived_from is not None:
            continue
        before = [
            o
            for o in case.reports
            if o.claim_id == r.claim_id
            and o.stance != "neutral"
            and o.derived_from is None
            and o.source_id != r.source_id
            and key(o) < key(r)
        ]
        out[id(r)] = (len(before), sum(o.stance == r.stance for o in before))
    return out  # fmt: skip


def propensities(case, values, cfg):
    """Copy propensity per source id, and its prior log density, by the documented rules."""
    conf = case.config
    own, kinds = conf.get("source_copy_propensity", {}), conf.get("copy_propensity", {})
    default = conf.get("default_copy_propensity", 0.0)
    learn = cfg["copy_propensity"] == "learn"
    prior, logp, pi = cfg["copy_prior"], 0.0, {}
    if "copy_z" in values:
        for k, kind in enumerate(values["kind_coords"]):
            centre = kinds.get(kind, 0.0) or default or prior["mean"]
            logp += stats.norm.logpdf(values["copy_kind_logit"][k], logit(centre),
                                      prior["kind_sd"])  # fmt: skip
        logp += stats.norm.logpdf(values["copy_z"]).sum()
    for i, sid in enumerate(values["source_coords"]):
        kind = case.source_map()[sid].kind or "unknown"
        if sid in own:
            pi[sid] = own[sid]
        elif kind in kinds and (not learn or kinds[kind] == 0):
            pi[sid] = kinds[kind]
        elif not learn:
            pi[sid] = default
        else:
            k = values["kind_coords"].index(kind)
            z = values["copy_kind_logit"][k] + prior["source_sd"] * values["copy_z"][i]
            pi[sid] = expit(z)
    return pi, logp


def reference_reports(case, copy_w):
    """(claim, attributed source, confirm, weight, (m, k)) per informative report."""
    originals = {(r.claim_id, r.source_id) for r in case.reports if r.derived_from is None}
    shares = earlier(case)
    stood_in, out = set(), []
    for r in sorted(case.reports, key=lambda r: r.time):
        if r.derived_from is None:
            src, w = r.source_id, 1.0
        elif (r.claim_id, r.derived_from) not in originals | stood_in:
            stood_in.add((r.claim_id, r.derived_from))
            src, w = r.derived_from, 1.0
        else:
            src, w = r.source_id, copy_w
        if r.stance != "neutral":
            out.append((r.claim_id, src, r.stance == "confirm", w, shares.get(id(r), (0, 0))))
    return out


def moments(beta: BetaPrior):
    a, b = beta.alpha, beta.beta
    return digamma(a) - digamma(b), math.sqrt(polygamma(1, a) + polygamma(1, b))


def is_own(src: Source, field: str) -> bool:
    return getattr(src, field) is not None or src.admiralty is not None or src.strength is not None


def reference(case, values, cfg):
    """Log density (no Jacobian) and P(true) per claim, by enumeration of all truth states."""
    conf = case.config
    smap = case.source_map()
    kind_priors = conf.get("kind_priors", {})
    logp = 0.0
    br = values.get("base_rate", cfg["base_rate"])
    if "base_rate" in values:
        logp += stats.beta.logpdf(br, 0.4 * 2.0, 0.6 * 2.0)
    lam = {}
    kinds = values["kind_coords"]
    centres = {}
    for k, kind in enumerate(kinds):
        kp = resolve_source_prior(
            Source("_", kind=None if kind == "unknown" else kind), kind_priors
        )
        m_sens, m_spec = moments(kp.sensitivity)[0], moments(kp.specificity)[0]
        # skill = mu_sens + mu_spec, kept on the side of its centre; bias = half the difference
        c, sd = m_sens + m_spec, cfg["kind_mean_sd"]
        skill = values["kind_skill"][k]
        logp += stats.truncnorm.logpdf(skill, -abs(c) / (math.sqrt(2) * sd), np.inf,
                                       loc=abs(c), scale=math.sqrt(2) * sd)  # fmt: skip
        bias = values["kind_bias"][k]
        logp += stats.norm.logpdf(bias, (m_sens - m_spec) / 2, sd / math.sqrt(2))
        half = math.copysign(skill, c) / 2
        centres[kind] = {"sensitivity": bias + half, "specificity": half - bias}
    for j, field in enumerate(("sensitivity", "specificity")):
        for k in range(len(kinds)):
            logp += stats.halfnorm.logpdf(values["sigma"][j, k], scale=cfg["kind_sd_scale"])
        for i, sid in enumerate(values["source_coords"]):
            z = values["z"][j, i]
            logp += stats.norm.logpdf(z)
            src = smap[sid]
            if is_own(src, field):
                m, sd = moments(getattr(resolve_source_prior(src, kind_priors), field))
            else:
                k = kinds.index(src.kind or "unknown")
                m, sd = centres[kinds[k]][field], values["sigma"][j, k]
            lam[(field, sid)] = m + sd * z
    a = values.get("alignment", cfg["alignment"])
    if "alignment" in values:
        logp += stats.norm.logpdf(a, 0.0, 1.0)
    effects = {}
    for k, kind in enumerate(values["signal_coords"]):
        center = {"rhetoric": 0.5}.get(kind, math.log(3.0))
        effects[kind] = values["signal_effect"][k]
        logp += stats.norm.logpdf(effects[kind], center, cfg["signal_effect_sd"])
    copy_w = values.get("copy_weight", cfg["copy_weight"])
    if "copy_weight" in values:
        logp += stats.beta.logpdf(copy_w, 2.0, 2.0)
    pi, logp_copy = propensities(case, values, cfg)
    logp += logp_copy
    claims = case.claims
    lo = {c.claim_id: logit(c.prior if c.prior is not None else br) for c in claims}
    for s in case.signals:
        shift = (
            math.log(s.likelihood_ratio) if s.likelihood_ratio else s.direction * effects[s.kind]
        )
        lo[s.claim_id] += shift
    favors = {c.claim_id: c.favors for c in claims}
    reports = reference_reports(case, copy_w)
    ids = [c.claim_id for c in claims]
    log_joint, states = [], []
    for state in itertools.product((0, 1), repeat=len(ids)):
        truth = dict(zip(ids, state))
        if sum(truth[c.claim_id] for c in claims if c.group == "g1") > 1:
            continue
        lp = sum(lo[c] * t for c, t in truth.items())
        for cid, sid, confirm, w, (m, k) in reports:
            side = smap[sid].side
            al = 0 if not (side and favors[cid]) else (1 if side == favors[cid] else -1)
            if truth[cid]:
                p = expit(lam[("sensitivity", sid)] + a * al)
                p = p if confirm else 1.0 - p
            else:
                q = expit(lam[("specificity", sid)] - a * al)
                p = 1.0 - q if confirm else q
            if m > 0 and pi[sid] > 0:  # a possible unattributed repeat
                p = pi[sid] * k / m + (1.0 - pi[sid]) * p
            lp += w * math.log(p)
        log_joint.append(lp)
        states.append(state)
    log_joint, states = np.array(log_joint), np.array(states)
    prior_norm = logsumexp([sum(lo[c] * t for c, t in zip(ids, s)) for s in states])
    marginal = logsumexp(log_joint) - prior_norm
    post = np.exp(log_joint - logsumexp(log_joint)) @ states
    return logp + marginal, post


# -- helpers ------------------------------------------------------------------------------------
def random_point(model, rng):
    """Random values for every free variable: (point in PyMC's transformed space, values)."""
    point, values = {}, {}
    for rv in model.free_RVs:
        value_name = model.rvs_to_values[rv].name
        shape = tuple(model.initial_point()[value_name].shape)
        if value_name.endswith("_logodds__"):
            v = rng.uniform(0.1, 0.9, size=shape)
            point[value_name] = logit(v)
        elif value_name.endswith(("_log__", "_interval__")):  # kind_skill: bounded below by 0
            v = rng.uniform(0.2, 1.5, size=shape)
            point[value_name] = np.log(v)
        else:
            assert value_name == rv.name, value_name
            v = rng.normal(0.0, 1.0, size=shape)
            point[value_name] = v
        values[rv.name] = v
    coords = model.coords
    values["source_coords"] = list(coords["source"])
    values["signal_coords"] = list(coords["signal_kind"])
    values["kind_coords"] = list(coords["kind"])
    return point, values


def p_true_fn(model):
    """P(true) as a function of the (transformed) free values."""
    (out,) = model.replace_rvs_by_values([model["p_true"]])
    return model.compile_fn(out, inputs=model.value_vars, on_unused_input="ignore")


def model_for(case, **overrides):
    data, resolved = prepare(case, DEFAULT_MODEL_CONFIG | overrides)
    return build_model(data, resolved), resolved


CONFIGS = {
    "default": {},
    "fixed-propensities": {"copy_propensity": "fixed"},
    "learned-copies": {"copy_weight": {"alpha": 2.0, "beta": 2.0}},
    "fixed-effects": {"base_rate": 0.35, "alignment": 0.7, "copy_weight": 0.3},
}


def assert_matches_reference(model, case, resolved, *, seed: int, n_points: int) -> dict:
    """The model's log density and P(true) equal the plain-numpy reference at ``n_points``
    random points; returns the last point."""
    logp_fn, p_fn = model.compile_logp(jacobian=False), p_true_fn(model)
    rng = np.random.default_rng(seed)
    for _ in range(n_points):
        point, values = random_point(model, rng)
        expected_logp, expected_p = reference(case, values, resolved)
        # 1e-6: PyMC's HalfNormal log-density carries a constant rounded to float32 (~1e-8 each)
        assert logp_fn(point) == pytest.approx(expected_logp, rel=0, abs=1e-6)
        np.testing.assert_allclose(p_fn(point), expected_p, rtol=1e-8, atol=1e-12)
    return point


@pytest.mark.parametrize("name", list(CONFIGS))
def test_logp_and_p_true_match_numpy_reference(case, name):
    model, resolved = model_for(case, **CONFIGS[name])
    assert_matches_reference(model, case, resolved, seed=7, n_points=4)


@pytest.mark.parametrize("mode", ["learn", "fixed"])
def test_logp_matches_reference_with_configured_propensities(mode):
    """The precedence: a source's own propensity is fixed, a kind at 0 is fixed, other kinds
    and the default are the learned propensities' prior centres ("learn") or fixed values."""
    records = RECORDS | {"config": RECORDS["config"] | {
        "default_copy_propensity": 0.1, "copy_propensity": {"blog": 0.3, "media": 0.0},
        "source_copy_propensity": {"s2": 0.6}}}  # fmt: skip
    with pytest.warns(UserWarning):  # s6 is not in the sources table
        case = case_from_records(records, "graph-oracle-propensities")
    model, resolved = model_for(case, copy_propensity=mode)
    point = assert_matches_reference(model, case, resolved, seed=11, n_points=3)
    (out,) = model.replace_rvs_by_values([model["copy_propensity"]])
    pi_fn = model.compile_fn(out, inputs=model.value_vars, on_unused_input="ignore")
    pi = dict(zip(model.coords["source"], pi_fn(point)))
    assert pi["s2"] == pytest.approx(0.6) and pi["s1"] == 0.0  # fixed by the config
    if mode == "fixed":
        assert pi["s4"] == pytest.approx(0.3) and pi["agg"] == pytest.approx(0.1)


def test_repeat_mixture_matches_brute_force_to_1e8():
    """The evidence term of a tiny timed case with fixed parameters against a brute-force sum
    over the truths of the per-report mixture ``pi q + (1 - pi) P(x | T)``, in plain numpy."""
    sources = [
        {"source_id": s, "kind": k, "sensitivity": se, "specificity": sp, "strength": 1e12}
        for s, k, se, sp in [
            ("w", "wire", 0.9, 0.8),
            ("b1", "blog", 0.6, 0.7),
            ("b2", "blog", 0.55, 0.65),
        ]
    ]
    stances = {
        "x": [("w", "confirm"), ("b1", "confirm"), ("b2", "deny")],
        "y": [("b1", "deny"), ("w", "confirm"), ("b2", "confirm"), ("w", "deny")],
    }
    reports = [
        {"claim_id": c, "source_id": s, "stance": x, "time": f"2024-01-0{i + 1}"}
        for c, rows in stances.items()
        for i, (s, x) in enumerate(rows)
    ]
    case = case_from_records({"config": {"copy_propensity": {"wire": 0.0}},
                              "claims": [{"claim_id": "x", "prior": 0.3}, {"claim_id": "y"}],
                              "sources": sources, "reports": reports})  # fmt: skip
    cfg = {"base_rate": 0.6, "alignment": 0.0, "copy_weight": 0.0}
    model, _ = model_for(case, **cfg)
    assert {rv.name for rv in model.free_RVs} >= {"copy_kind_logit", "copy_z"}
    evidence = model.compile_fn(
        model.replace_rvs_by_values([model["evidence"]])[0], inputs=model.value_vars,
        on_unused_input="ignore",
    )  # fmt: skip
    point = model.initial_point()
    kinds = list(model.coords["kind"])
    point["copy_kind_logit"] = np.array([{"blog": 0.4, "wire": -1.0}[k] for k in kinds])
    point["copy_z"] = np.array([{"b1": -0.5, "b2": 1.2, "w": 0.3}[s]
                                for s in model.coords["source"]])  # fmt: skip
    # plain numpy: wire never copies (its kind is fixed at 0); blogs expit(0.4 + 1.0 z)
    pi = {"w": 0.0, "b1": expit(0.4 - 0.5), "b2": expit(0.4 + 1.2)}
    rel = {s["source_id"]: (s["sensitivity"], s["specificity"]) for s in sources}
    total = 0.0
    for cid, prior in (("x", 0.3), ("y", 0.6)):
        like = np.zeros(2)
        for t in (0, 1):
            lik = 1.0
            for i, (src, stance) in enumerate(stances[cid]):
                se, sp = rel[src]
                p_conf = se if t else 1.0 - sp
                p = p_conf if stance == "confirm" else 1.0 - p_conf
                earlier = [x for s, x in stances[cid][:i] if s != src]
                if earlier and pi[src] > 0:
                    p = pi[src] * earlier.count(stance) / len(earlier) + (1.0 - pi[src]) * p
                lik *= p
            like[t] = lik
        total += np.log((1.0 - prior) * like[0] + prior * like[1])
    # the strength-1e12 priors pin each logit rate at its mean: evaluate at z = 0
    assert float(evidence(point)) == pytest.approx(total, rel=0, abs=1e-8)


def test_gradient_is_finite_with_padded_groups(case):
    model, _ = model_for(case, copy_weight={"alpha": 1.0, "beta": 1.0})
    dlogp = model.compile_dlogp()
    point, _ = random_point(model, np.random.default_rng(3))
    grads = dlogp(point)
    assert np.all(np.isfinite(grads))


def test_extreme_evidence_is_stable():
    """Many agreeing reliable reports: P(true) saturates without NaN or overflow."""
    claims = [{"claim_id": "x", "group": "g"}, {"claim_id": "y", "group": "g"}]
    sources = [
        {"source_id": f"s{i}", "sensitivity": 0.99, "specificity": 0.99, "strength": 50}
        for i in range(200)
    ]
    reports = [{"claim_id": "x", "source_id": f"s{i}", "stance": "confirm"} for i in range(200)]
    case = case_from_records({"claims": claims, "sources": sources, "reports": reports})
    model, _ = model_for(case)
    point = model.initial_point()
    assert np.isfinite(model.compile_logp()(point))
    assert np.all(np.isfinite(model.compile_dlogp()(point)))
    p = p_true_fn(model)(point)
    assert p[0] == pytest.approx(1.0) and p[1] < 1e-100  # fmt: skip


# -- encoding -----------------------------------------------------------------------------------
def test_encoding_follows_copy_rules(case):
    exact = Config.from_case(case)
    data = encode_case(case, exact, keep_copies=True)
    rows = {
        (data.claim_ids[c], data.source_ids[s], bool(k), bool(y))
        for c, s, k, y in zip(data.r_claim, data.r_source, data.r_copy, data.r_confirm)
    }
    assert ("e", "s2", False, True) in rows  # stand-in: attributed to the original, full weight
    assert ("e", "s5", True, True) in rows  # second copy: copy weight
    assert ("a", "agg", True, True) in rows  # copy of an existing original
    assert not any(c == "d" and s == "s5" for c, s, _, _ in rows)  # neutral dropped
    dropped = encode_case(case, exact, keep_copies=False)
    assert not dropped.r_copy.any() and dropped.r_claim.size == data.r_claim.size - 2


def test_encoding_matches_the_exact_engines_counts_and_priors(case):
    exact = Config.from_case(case)
    data = encode_case(case, exact, keep_copies=False)
    ev = compile_case(case, exact)
    np.testing.assert_array_equal(data.n_reports, ev.n_reports)
    np.testing.assert_array_equal(data.n_independent, ev.n_independent)
    # with every learned signal effect at its prior centre, the prior log-odds are the exact's
    lo = data.lo_fixed + data.use_base * logit(exact.base_rate)
    np.add.at(lo, data.sig_claim, data.sig_dir * data.sig_center[data.sig_kind])
    np.testing.assert_allclose(lo, ev.prior_logodds)
    own = dict(zip(data.source_ids, data.own[0]))
    assert own == {"agg": False, "s1": False, "s2": False, "s3": True, "s4": True, "s5": False,
                   "s6": False}  # fmt: skip
    align = {(data.claim_ids[c], data.source_ids[s]): al
             for c, s, al in zip(data.r_claim, data.r_source, data.r_align)}  # fmt: skip
    assert align[("a", "s1")] == 1 and align[("a", "s2")] == -1 and align[("b", "s3")] == 0
    assert data.kinds == ("aggregator", "blog", "local", "media", "unknown")


@pytest.mark.parametrize(("a", "b"), [(2.0, 5.0), (0.8, 0.6), (19.0, 1.0)])
def test_logit_normal_matches_beta_logit_moments(a, b):
    x = stats.beta.rvs(a, b, size=400_000, random_state=np.random.default_rng(1))
    y = logit(np.clip(x, 1e-300, 1 - 1e-16))
    m, sd = logit_normal(BetaPrior(a, b))
    assert m == pytest.approx(y.mean(), abs=0.02)
    assert sd == pytest.approx(y.std(), rel=0.02)


def test_kind_skill_prior_is_the_truncated_normal(case):
    """The skill prior (a normal truncated at 0, its normalizing constant as data) draws and
    scores like scipy's truncnorm, for another kind_mean_sd than the default too."""
    import pymc as pm

    sd = 1.3
    model, resolved = model_for(case, kind_mean_sd=sd)
    prior = pm.sample_prior_predictive(4000, model=model, random_seed=3).prior["kind_skill"]
    draws = prior.values.reshape(-1, prior.shape[-1])
    assert (draws >= 0).all()
    data, _ = prepare(case, DEFAULT_MODEL_CONFIG | {"kind_mean_sd": sd})
    centre = np.abs(data.kind_m[0] + data.kind_m[1])
    scale = math.sqrt(2.0) * sd
    dist = stats.truncnorm(-centre / scale, np.inf, loc=centre, scale=scale)
    se = dist.std() / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - dist.mean()) < 4 * se)
    x = np.linspace(0.1, 3.0, len(centre))
    logp = pm.logp(model["kind_skill"], x).eval()
    np.testing.assert_allclose(logp, dist.logpdf(x), rtol=1e-10)
    assert np.all(pm.logp(model["kind_skill"], -x).eval() == -np.inf)
    with pytest.raises(ValueError, match="kind_mean_sd"):  # data encoded for another sd
        build_model(data, resolved | {"kind_mean_sd": 0.5})
