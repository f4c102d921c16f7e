"""NUTS back-ends and the model cache: nutpie and PyMC's sampler agree in distribution, the
fallback when nutpie is missing says so, and a second fit of a same-shape case reuses what the
first compiled while answering for its own data.

The fits share one cached model (the seed case's shape): nutpie is compiled once per module.
The tests that need nutpie are skipped when it is not installed (``pip install -e ".[test]"``
installs it).
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from belief.data.io import read_case
from belief.engines.exact import infer_exact
from belief.exceptions import BeliefWarning, ConvergenceWarning
from belief.model import ClaimBeliefModel, cache_info
from belief.model.estimator import prepare
from belief.model.graph import build_model
from belief.model.nuts import NUTPIE_MIN_WORK, choose_sampler, nutpie_installed

SAMPLER = {"chains": 4, "draws": 1000, "tune": 1000, "random_seed": 3}


@pytest.fixture(scope="module")
def seed_case():
    return read_case(Path(__file__).resolve().parents[2] / "seeds" / "khasham.yaml")


def mirror_stances(case, prefix="b_"):
    """The same shape as ``case`` with other data: claims renamed, every stance flipped."""
    flip = {"confirm": "deny", "deny": "confirm", "neutral": "neutral"}
    rename = {c.claim_id: prefix + c.claim_id for c in case.claims}
    return case.replace(
        claims=tuple(dataclasses.replace(c, claim_id=rename[c.claim_id]) for c in case.claims),
        reports=tuple(
            dataclasses.replace(r, claim_id=rename[r.claim_id], stance=flip[r.stance])
            for r in case.reports
        ),
        signals=tuple(dataclasses.replace(s, claim_id=rename[s.claim_id]) for s in case.signals),
    )


def flip_one(case, index=9):
    """``case`` with one stance flipped: the seed case's report 9 flipped leaves 6 distinct
    (cell, repeat share) units of the copy mixture where there were 7 (a resized unit_data)."""
    flip = {"confirm": "deny", "deny": "confirm"}
    reports = list(case.reports)
    reports[index] = dataclasses.replace(reports[index], stance=flip[reports[index].stance])
    return case.replace(reports=tuple(reports))


def fit(case, sampler, **extra):
    model = ClaimBeliefModel(sampler_config=SAMPLER | {"nuts_sampler": sampler} | extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(case)


@pytest.fixture(scope="module")
def both(seed_case):
    pytest.importorskip("nutpie")
    return fit(seed_case, "nutpie"), fit(seed_case, "pymc")


def summary(model, q=(0.05, 0.95)):
    """Per claim: posterior mean and quantiles of P(true), each with its Monte Carlo error."""
    p = model.idata_.posterior["p_true"]
    out = {"mean": (p.mean(("chain", "draw")).values, az.mcse(p, method="mean")["p_true"].values)}
    for prob in q:
        value = p.quantile(prob, dim=("chain", "draw")).values
        out[prob] = (value, az.mcse(p, method="quantile", prob=prob)["p_true"].values)
    return out


def disagreement(a, b):
    """Largest |difference| / (4 x combined MCSE + 0.005) over claims and statistics."""
    worst = 0.0
    for key in a:
        (va, ea), (vb, eb) = a[key], b[key]
        tol = 4.0 * np.sqrt(ea**2 + eb**2) + 0.005
        worst = max(worst, float(np.max(np.abs(va - vb) / tol)))
    return worst


def test_nutpie_and_pymc_agree_within_monte_carlo_error(both, seed_case):
    nutpie_fit, pymc_fit = both
    assert nutpie_fit.idata_.attrs["nuts_sampler"] == "nutpie"
    assert pymc_fit.idata_.attrs["nuts_sampler"] == "pymc"
    a, b = summary(nutpie_fit), summary(pymc_fit)
    assert disagreement(a, b) < 1.0, (a, b)
    # the tolerance has power: the exact engine (reliabilities integrated differently) is
    # outside it, and the Monte Carlo errors are small
    exact = infer_exact(seed_case).posterior["p_true"].to_numpy()
    assert disagreement({"mean": a["mean"]}, {"mean": (exact, np.zeros_like(exact))}) > 1.0
    assert a["mean"][1].max() < 0.015 and b["mean"][1].max() < 0.015
    for m in both:
        assert m.diagnostics_.attrs["divergences"] == 0
        assert m.diagnostics_["ok"].all()
        assert m.diagnostics_.attrs["mirrored_chains"] == []


def test_fits_record_the_back_end_and_its_timings(both):
    for m in both:
        attrs = m.idata_.attrs
        assert attrs["compile_seconds"] >= 0 and attrs["sampling_seconds"] > 0
        assert attrs["nuts_sampler_reason"] == "requested"
        assert set(m.idata_.posterior["rate"].values) == {"sensitivity", "specificity"}
        assert m.idata_.posterior.sizes["chain"] == 4


def test_second_fit_of_the_same_shape_reuses_the_cache(both, seed_case):
    before = cache_info()
    other = mirror_stances(seed_case)
    a_nutpie, _ = both
    b_nutpie, b_pymc = fit(other, "nutpie"), fit(other, "pymc")
    after = cache_info()
    assert after.hits == before.hits + 2 and after.misses == before.misses
    assert after.compilations == before.compilations  # nothing compiled again
    assert b_nutpie.idata_.attrs["compile_seconds"] == 0.0
    # the second case's labels and data, not the first's
    assert b_nutpie.predict_proba()["claim_id"].tolist() == [c.claim_id for c in other.claims]
    sb, sn = summary(b_pymc), summary(b_nutpie)
    assert disagreement(sb, sn) < 1.0
    assert disagreement(sn, summary(a_nutpie)) > 3.0
    assert (
        b_nutpie.reliability_["source_id"].tolist() == a_nutpie.reliability_["source_id"].tolist()
    )


def test_a_fit_with_another_number_of_repeat_units_reuses_the_cache(both, seed_case):
    other = flip_one(seed_case)
    before = cache_info()
    b_nutpie, b_pymc = fit(other, "nutpie"), fit(other, "pymc")
    after = cache_info()
    assert after.hits == before.hits + 2 and after.compilations == before.compilations
    assert b_nutpie.idata_.attrs["compile_seconds"] == 0.0
    assert disagreement(summary(b_pymc), summary(b_nutpie)) < 1.0
    assert disagreement(summary(b_nutpie), summary(both[0])) > 3.0  # the flip changed it


@pytest.mark.parametrize("change", [mirror_stances, flip_one])
def test_a_refilled_model_has_the_log_density_of_a_fresh_one(seed_case, change):
    other = change(seed_case)
    data_a, cfg = prepare(seed_case, ClaimBeliefModel().full_model_config)
    data_b, _ = prepare(other, ClaimBeliefModel().full_model_config)
    from belief.model.graph import data_values, set_data, shape_key

    assert shape_key(data_a) == shape_key(data_b)
    if change is flip_one:  # the premise: another number of units of the copy mixture
        assert data_values(data_a)["u_cell"].size == 7 and data_values(data_b)["u_cell"].size == 6
    refilled, fresh = build_model(data_a, cfg), build_model(data_b, cfg)
    set_data(refilled, data_b)
    point = fresh.initial_point(random_seed=1)
    for name in point:
        point[name] = point[name] + np.random.default_rng(2).normal(0, 0.3, np.shape(point[name]))
    assert refilled.compile_logp()(point) == pytest.approx(fresh.compile_logp()(point), abs=1e-9)
    assert refilled.compile_logp()(point) != pytest.approx(
        build_model(data_a, cfg).compile_logp()(point), abs=1e-3
    )


def test_fallback_to_pymc_says_nutpie_is_missing(seed_case, monkeypatch):
    monkeypatch.setitem(sys.modules, "nutpie", None)  # import nutpie raises ImportError
    assert not nutpie_installed()
    quick = {"draws": 100, "tune": 100, "chains": 2}
    with pytest.warns(BeliefWarning, match=r"nutpie is not installed.*pip install"):
        model = fit(seed_case, "nutpie", **quick)
    assert model.idata_.attrs["nuts_sampler"] == "pymc"
    assert "nutpie not installed" in model.idata_.attrs["nuts_sampler_reason"]


def test_auto_chooses_by_work_and_cache(seed_case):
    data, _ = prepare(seed_case, ClaimBeliefModel().full_model_config)

    class Entry:
        has_nutpie = False
        nutpie_on_disk = False

    small = {"chains": 4, "draws": 1000, "tune": 1000}
    assert choose_sampler("auto", Entry(), data, small)[0] == "pymc"
    large = {"chains": 4, "draws": NUTPIE_MIN_WORK, "tune": 0}
    assert choose_sampler("auto", Entry(), data, large)[0] == "nutpie"
    Entry.has_nutpie = True
    name, reason = choose_sampler("auto", Entry(), data, small)
    assert name == "nutpie" and "cached" in reason
    assert choose_sampler("pymc", Entry(), data, small)[0] == "pymc"
