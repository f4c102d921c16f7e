"""The joint model learns copy propensities (unattributed repeats): recovery on simulated worlds.

The worlds come from :func:`belief.evaluation.simulate.simulate_case` with known copy
propensities per kind (``p_repeat``) and half of the repeats cited (``derived_from``). A cited
repeat is a declared copy, so what the model can see is the share of repeats among the *uncited*
reports: ``pi (1 - c) / (1 - pi c)`` with ``c = p_cited`` (0.25, 0.43 and 0.82 for the outlets,
blogs and digests below). The truths are hidden from the model and used only to score it.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

pytest.importorskip("pymc")

from belief.evaluation.simulate import simulate_case
from belief.model.estimator import ClaimBeliefModel

KINDS = {
    "agency": (0.2, 0.90, 0.85, 0.3),
    "outlet": (0.4, 0.70, 0.80, 0.4),
    "blog": (0.25, 0.55, 0.60, 0.5),
    "digest": (0.15, 0.55, 0.60, 0.5),
}
REPEAT = {"outlet": 0.4, "blog": 0.6, "digest": 0.9}
CITED = 0.5


def uncited_share(pi: float) -> float:
    """The propensity the model sees: repeats among the uncited reports."""
    return pi * (1.0 - CITED) / (1.0 - pi * CITED)


def world(p_repeat, seed: int = 2, n_claims: int = 300, n_sources: int = 24):
    case, truth = simulate_case(
        n_claims, n_sources, density=0.3, kinds=KINDS, p_repeat=p_repeat, p_cited=CITED,
        random_seed=seed, return_truth=True,
    )  # fmt: skip
    y = np.array([truth.truth[c] for c in case.claim_ids], dtype=float)
    hidden = tuple(dataclasses.replace(c, truth=None) for c in case.claims)
    return case.replace(claims=hidden), y


def fit(case, method: str, mode: str = "learn", **sampler):
    model = ClaimBeliefModel({"copy_propensity": mode}, {"random_seed": 1, **sampler})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(case, method=method)


def kind_propensity(model) -> dict[str, float]:
    e = model.effects_
    rows = e[e["param"].str.startswith("copy_propensity[")]
    return dict(zip(rows["param"].str[len("copy_propensity[") : -1], rows["mean"], strict=True))


def brier(model, y) -> float:
    return float(np.mean((model.predict_proba()["p_true"].to_numpy() - y) ** 2))


def check_recovery(learned: dict[str, float], tol: float) -> None:
    truth = {k: uncited_share(REPEAT.get(k, 0.0)) for k in KINDS}
    for kind, value in truth.items():
        assert learned[kind] == pytest.approx(value, abs=tol), (kind, learned, truth)
    assert learned["digest"] > learned["blog"] > learned["agency"]


@pytest.fixture(scope="module")
def copy_world():
    return world(REPEAT)


@pytest.fixture(scope="module")
def quiet_world():
    return world(0.0)


def test_map_recovers_kind_propensities_and_beats_counting_repeats(copy_world):
    case, y = copy_world
    learned = fit(case, "map")
    check_recovery(kind_propensity(learned), tol=0.2)
    assert set(learned.reliability_.columns) >= {"copy_propensity", "copy_learned"}
    assert learned.reliability_["copy_learned"].all()
    counted = fit(case, "map", mode="fixed")  # every repeat counted as evidence
    assert "copy_propensity" not in counted.reliability_  # no propensity: no mixture at all
    assert brier(learned, y) < brier(counted, y) - 0.02  # measured 0.104 against 0.148


def test_map_learns_no_copying_in_a_world_without_it(quiet_world):
    case, y = quiet_world
    learned = fit(case, "map")
    assert max(kind_propensity(learned).values()) < 0.15  # measured at most 0.14 (blogs)
    assert brier(learned, y) < brier(fit(case, "map", mode="fixed"), y) + 0.005


@pytest.mark.slow
def test_nuts_recovers_kind_propensities(copy_world, quiet_world):
    case, y = copy_world
    learned = fit(case, "mcmc", draws=400, tune=400, chains=2)
    assert learned.diagnostics_.attrs["divergences"] == 0
    check_recovery(kind_propensity(learned), tol=0.15)
    assert brier(learned, y) < brier(fit(case, "map", mode="fixed"), y) - 0.02
    quiet = fit(quiet_world[0], "mcmc", draws=400, tune=400, chains=2)
    assert max(kind_propensity(quiet).values()) < 0.15
