"""The API a notebook user tries first: each call works as a user would guess."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import belief
from belief.exceptions import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")


@pytest.fixture
def case(khasham_path):
    return belief.read_case(khasham_path)


@pytest.fixture
def resolved():
    return belief.simulate_case(60, 6, density=0.5, random_seed=3)


def test_timeline_takes_one_id_or_a_list(case):
    one = belief.timeline(case, "handover")
    many = belief.timeline(case, ["handover"])
    assert one.equals(many) and set(one["claim_id"]) == {"handover"}


def test_calibrate_is_the_function(resolved):
    priors = belief.calibrate(resolved)
    assert isinstance(priors, belief.CalibratedPriors)
    assert 0 < priors.base_rate < 1


def test_short_reprs_and_jupyter_tables(case):
    assert repr(case) == "Case('khasham', claims=6, sources=13, reports=20, signals=5)"
    assert "<table" in case._repr_html_() and "handover" in case._repr_html_()
    res = belief.infer(case)
    assert repr(res) == "BeliefResult(method='exact', claims=6, interval='none')"
    assert len(repr(res)) < 100 and "<table" in res._repr_html_()


def test_unknown_ids_name_known_ones(case):
    res = belief.infer(case)
    with pytest.raises(ValidationError, match=r"unknown claim 'x'; known claims are 'handover'"):
        res.p("x")
    with pytest.raises(ValidationError, match=r"unknown claim 'x'"):
        case.claim("x")
    with pytest.raises(ValidationError, match=r"unknown claim 'x'"):
        belief.timeline(case, "x")


def test_every_plot_returns_a_figure(case):
    from belief import plots

    matrix = belief.ach_matrix(case, "khasham_control")
    made = [
        plots.plot_timeline(case, "handover"),
        plots.plot_contributions(case, "handover"),
        plots.plot_ach(matrix),
        plots.plot_what_if(case, ["handover"], kind="media", values=[0.6, 0.7]),
        plots.plot_reliability_diagram([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4]),
        plots.plot_reliability_forest(belief.explain.reliability_prior_table(case)),
    ]
    assert all(isinstance(fig, Figure) for fig in made)
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.plot_timeline(case, "handover", ax=ax) is fig


def test_apply_priors_takes_the_case_and_the_priors(resolved, tmp_path):
    priors = belief.calibrate(resolved)
    cfg = belief.apply_priors(resolved, priors)
    assert cfg.base_rate == pytest.approx(priors.base_rate)
    path = belief.write_priors(priors, tmp_path / "priors.json")
    assert belief.apply_priors(resolved, path) == cfg
    assert belief.infer(resolved, config=cfg).config == cfg


def test_evaluate_is_public_and_pools(resolved):
    res = belief.evaluate(resolved, "exact", k=3, by="claim")
    pooled = res.folds.set_index("fold").loc["pooled"]
    pred = res.predictions
    from belief.evaluation.scoring import brier

    assert pooled["brier"] == pytest.approx(brier(pred["truth"], pred["p_true"]))
    assert pooled["n"] == len(pred)


def test_scores_take_y_true_first():
    from belief.evaluation.scoring import brier, log_score

    assert brier([1, 0], [0.9, 0.2]) == pytest.approx(0.025)
    assert log_score(y_true=[1], y_prob=[0.5]) == pytest.approx(np.log(2))
