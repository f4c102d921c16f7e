"""Label switching (issue 15): without resolved claims the joint model has a mirror-image
solution (every claim flipped, the base rate 1 - base rate, every kind worse than chance). The
kind-skill constraint rules it out; :func:`check_orientation` names chains that landed there.

The mirror is reached here on purpose: one of four chains starts at the mirror image of the
posterior mode. Without the constraint it stays there (as on the news data set of issue 15:
base rate 0.66 against 0.33, correlation -0.99); with it, it comes back.
"""

from __future__ import annotations

import dataclasses
import warnings

import arviz as az
import numpy as np
import pytest

pm = pytest.importorskip("pymc")

from belief.evaluation.simulate import KindSpec, simulate_case  # noqa: E402
from belief.exceptions import ConvergenceWarning  # noqa: E402
from belief.model import ClaimBeliefModel  # noqa: E402
from belief.model.diagnostics import check_orientation  # noqa: E402
from belief.model.estimator import prepare  # noqa: E402
from belief.model.graph import build_model  # noqa: E402

KINDS = {"outlet": KindSpec(0.5, 0.75, 0.75, 0.4), "blog": KindSpec(0.5, 0.65, 0.6, 0.4)}


@pytest.fixture(scope="module")
def no_truths():
    """100 claims, 10 sources, about 700 reports; base rate 0.3; no claim resolved."""
    case = simulate_case(100, 10, kinds=KINDS, density=0.7, p_signal=0.3, base_rate=0.3,
                         random_seed=4)  # fmt: skip
    return case.replace(claims=tuple(dataclasses.replace(c, truth=None) for c in case.claims))


def mirror(point):
    """The mirror image of a point (untransformed values by name): same likelihood."""
    out = dict(point)
    out["base_rate"] = 1.0 - point["base_rate"]
    out["kind_skill"] = -point["kind_skill"]  # mu_sens, mu_spec -> -mu_spec, -mu_sens
    out["sigma"] = point["sigma"][::-1]
    out["z"] = -point["z"][::-1]
    out["signal_effect"] = -point["signal_effect"]
    return out  # kind_bias and alignment are unchanged


def sample_with_a_mirrored_chain(case, constrain, copy_propensity="learn"):
    settings = {"constrain_skill": constrain, "copy_propensity": copy_propensity}
    data, cfg = prepare(case, ClaimBeliefModel(settings).full_model_config)
    model = build_model(data, cfg)
    with model:
        mode = pm.find_MAP(progressbar=False, seed=0)
    start = {rv.name: np.asarray(mode[rv.name]) for rv in model.free_RVs}
    flipped = mirror(start)
    if constrain:  # the mirror's skill is not allowed: start as close to it as allowed
        flipped["kind_skill"] = np.full_like(start["kind_skill"], 0.05)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pm.sample(draws=300, tune=300, chains=4, cores=2, random_seed=1,
                         initvals=[start, start, start, flipped], progressbar=False,
                         compute_convergence_checks=False)  # fmt: skip


def test_without_the_constraint_a_mirrored_chain_is_named(no_truths):
    # Copy propensities fixed, as before copy learning. Learned, the chain started at the
    # mirror crossed to the prior's orientation within its first 15 tuning steps (measured on
    # this case: no warning, all four chains agree); probably because copying can also explain
    # agreement between sources, which lowers the barrier between the two solutions.
    idata = sample_with_a_mirrored_chain(no_truths, constrain=False, copy_propensity="fixed")
    with pytest.warns(ConvergenceWarning) as caught:
        table = check_orientation(idata)
    message = str(caught[0].message)
    assert message.startswith(
        "Chains landed in mirror-image solutions (labels switched): chain 3 against chains 0, 1, 2"
    )
    assert "base rate 0.6" in message and "against 0.3" in message
    assert table.attrs["mirrored_chains"] == [3]
    assert table["correlation"].iloc[3] < -0.9 and (table["correlation"].iloc[:3] > 0.9).all()
    assert table["skill"].iloc[3] < 0 < table["skill"].iloc[:3].min()
    # pooled, the mirrored chain pulls claims toward 0.5
    pooled = idata.posterior["p_true"].mean(("chain", "draw")).values
    good = idata.posterior["p_true"].sel(chain=[0, 1, 2]).mean(("chain", "draw")).values
    assert np.abs(pooled - 0.5).mean() < np.abs(good - 0.5).mean() - 0.1


def test_with_the_constraint_a_chain_started_at_the_mirror_comes_back(no_truths):
    idata = sample_with_a_mirrored_chain(no_truths, constrain=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        table = check_orientation(idata)
    assert table.attrs["mirrored_chains"] == []
    assert (table["skill"] > 0).all()
    assert np.ptp(table["base_rate"].astype(float)) < 0.1


def test_the_default_fit_is_oriented(no_truths):
    sampler = {"chains": 4, "draws": 300, "tune": 300, "random_seed": 2, "nuts_sampler": "pymc"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ClaimBeliefModel(sampler_config=sampler).fit(no_truths)
    assert model.diagnostics_.attrs["mirrored_chains"] == []
    assert (model.idata_.posterior["kind_skill"] > 0).all()
    assert float(model.idata_.posterior["base_rate"].mean()) < 0.45


def test_orientation_needs_chains_and_claims():
    one_chain = az.from_dict(posterior={"p_true": np.full((1, 50, 5), 0.3)})
    assert check_orientation(one_chain).empty
    two_claims = az.from_dict(posterior={"p_true": np.full((3, 50, 2), 0.3)})
    assert check_orientation(two_claims).attrs["mirrored_chains"] == []


def test_half_and_half_chains_name_the_worse_than_chance_half():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, size=(1, 80, 10)).repeat(4, axis=0)
    skill = np.full((4, 80, 3), 1.0)
    p[[1, 3]] = 1 - p[[1, 3]]
    skill[[1, 3]] = -1.0
    idata = az.from_dict(
        posterior={"p_true": p, "logit_sensitivity": skill / 2, "logit_specificity": skill / 2}
    )
    with pytest.warns(ConvergenceWarning, match="chains 1, 3 against chains 0, 2"):
        table = check_orientation(idata)
    assert table.attrs["mirrored_chains"] == [1, 3]
