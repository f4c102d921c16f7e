"""Tests of belief.plots: each figure shows the numbers it claims to, and leaves no global state."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from belief import plots
from belief.core.verbal import ICD203_TERMS
from belief.data.io import case_from_records, read_case
from belief.engines.exact import infer_exact as infer
from belief.evaluation import scoring
from belief.exceptions import ValidationError
from belief.explain.sensitivity import reliability_prior_table, what_if_table
from belief.explain.timeline import contributions, timeline
from belief.priors.config import Config
from belief.priors.reliability import BetaPrior, SourcePrior

SEED = Path(__file__).resolve().parents[2] / "seeds" / "khasham.yaml"
SMALL = {
    "sources": [
        {"source_id": "s1", "kind": "media"},
        {"source_id": "s2", "kind": "local", "admiralty": "B"},
        {"source_id": "s3", "sensitivity": 0.9, "specificity": 0.8, "strength": 10},
    ],
    "reports": [
        {"claim_id": "a", "source_id": "s1", "stance": "confirm"},
        {"claim_id": "a", "source_id": "s2", "stance": "deny"},
        {"claim_id": "b", "source_id": "s3", "stance": "confirm", "derived_from": "s1"},
    ],
}


@pytest.fixture
def small_case():
    return case_from_records(SMALL)


@pytest.fixture
def khasham():
    return read_case(SEED)


@pytest.fixture
def simple_case():
    return case_from_records(
        {
            "sources": [
                {"source_id": "a", "kind": "media"},
                {"source_id": "b", "kind": "blog"},
                {"source_id": "c", "kind": "blog", "sensitivity": 0.9, "specificity": 0.9},
            ],
            "reports": [
                {"claim_id": "x", "source_id": "a", "stance": "confirm", "time": "2020-01-01"},
                {"claim_id": "x", "source_id": "b", "stance": "deny", "time": "2020-01-02"},
                {"claim_id": "y", "source_id": "c", "stance": "confirm", "time": "2020-01-02"},
            ],
            "config": {"base_rate": 0.5},
            "signals": [
                {"signal_id": "s", "claim_id": "x", "kind": "k", "time": "2020-01-03"},
            ],
        }
    )


def _marker_lines(ax):
    return [ln for ln in ax.lines if ln.get_marker() not in (None, "None", "") and ln.get_xdata()]


def test_timeline_steps_match_belief_timeline(khasham):
    ids = ["handover", "army_holds_khasham"]
    ax = plots.plot_timeline(khasham, ids).axes[0]
    tl = timeline(khasham, ids)
    for line, cid in zip(ax.lines[:2], ids):
        p = tl.loc[tl.claim_id == cid, "p_true"].to_numpy()
        assert line.get_label() == cid
        np.testing.assert_allclose(line.get_ydata(), [*p, p[-1]])
    texts = {t.get_text() for t in ax.texts}
    assert set(ICD203_TERMS) <= texts
    assert ax.get_ylim() == (0.0, 1.0)


def test_timeline_marks_every_item_once_per_linked_curve(simple_case):
    ax = plots.plot_timeline(simple_case, ["x", "y"]).axes[0]
    marks = _marker_lines(ax)
    # x's 2 reports and 1 signal on x's curve (filled); y's report on y's curve; x and y are
    # not linked (no shared source, no group), so no hollow markers
    assert len(marks) == 4
    assert all(m.get_markerfacecolor() != "white" for m in marks)
    colours = sorted(m.get_markeredgecolor() for m in marks)
    expected = ["confirm", "confirm", "deny", "signal +1"]
    assert colours == sorted(plots.STANCE_COLORS[c] for c in expected)
    kinds = {m.get_marker() for m in marks}
    assert kinds == {plots.KIND_MARKERS[k] for k in ("media", "blog", "signal")}


def test_timeline_hollow_markers_for_linked_claims(khasham):
    ax = plots.plot_timeline(khasham, "handover").axes[0]
    marks = _marker_lines(ax)
    filled = [m for m in marks if m.get_markerfacecolor() != "white"]
    on_handover = sum(r.claim_id == "handover" for r in khasham.reports) + sum(
        s.claim_id == "handover" for s in khasham.signals
    )
    assert len(filled) == on_handover
    assert len(marks) > len(filled)  # army_holds_khasham and clashes items, hollow


def test_timeline_without_times_uses_steps():
    case = case_from_records(
        {
            "reports": [{"claim_id": "c", "source_id": "a", "stance": "confirm"}],
            "config": {"base_rate": 0.5},
        }
    )
    ax = plots.plot_timeline(case).axes[0]
    assert ax.get_xlabel() == "step"
    assert [round(float(v), 3) for v in ax.lines[0].get_ydata()] == [0.5, 0.65, 0.65]


def test_plots_draw_on_given_axes_and_leave_no_global_state(khasham, tmp_path):
    before = dict(matplotlib.rcParams)
    fig, ax = plt.subplots()
    try:
        assert plots.plot_timeline(khasham, "clashes", ax=ax) is ax.figure
    finally:
        plt.close(fig)
    plots.plot_contributions(khasham, "clashes")
    plots.plot_reliability_diagram([0, 1], [0.2, 0.8])
    assert plt.get_fignums() == []  # own figures are not registered with pyplot
    assert dict(matplotlib.rcParams) == before
    out = tmp_path / "t.png"
    plots.plot_timeline(khasham, "clashes").savefig(out)
    assert mpimg.imread(out).shape[2] in (3, 4)


def test_contributions_waterfall_chains_prior_to_posterior(khasham):
    ax = plots.plot_contributions(khasham, "handover").axes[0]
    df = contributions(khasham, "handover")
    bars = ax.patches
    assert len(bars) == len(df) + 2
    widths = np.array([b.get_width() for b in bars[: len(df)]])
    np.testing.assert_allclose(widths, df["sequential"], atol=1e-12)
    assert bars[-1].get_width() == pytest.approx(df.attrs["posterior_logodds"])
    last = bars[len(df) - 1]
    assert last.get_x() + last.get_width() == pytest.approx(df.attrs["posterior_logodds"])
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("copy: adds nothing") == int((df["is_copy"] & (df.sequential == 0)).sum())
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[0] == "prior" and ticks[-1] == "posterior"
    assert "progov_outlet_1 confirms handover" in ticks[3]


def test_contributions_loo_and_bad_value(khasham):
    ax = plots.plot_contributions(khasham, "handover", value="loo").axes[0]
    df = contributions(khasham, "handover")
    assert len(ax.patches) == len(df)
    assert all(b.get_x() == 0 for b in ax.patches)
    with pytest.raises(ValidationError, match="sequential"):
        plots.plot_contributions(khasham, "handover", value="total")


def test_reliability_prior_table_is_beta_quantiles(small_case):
    t = reliability_prior_table(small_case, level=0.8).set_index("source_id")
    assert set(t.index) == {"s1", "s2", "s3"}
    # s3 has its own values: mean 0.9, strength 10 -> Beta(9, 1)
    assert t.loc["s3", "sens_mean"] == pytest.approx(0.9)
    assert t.loc["s3", "sens_low"] == pytest.approx(beta.ppf(0.1, 9, 1))
    assert t.loc["s3", "spec_high"] == pytest.approx(beta.ppf(0.9, 8, 2))
    # s2 is Admiralty B: mean 0.85, strength 12
    assert t.loc["s2", "spec_mean"] == pytest.approx(0.85)
    calibrated = SourcePrior(BetaPrior(30, 10), BetaPrior(5, 5))
    cfg = Config.from_case(small_case, source_priors={"s1": calibrated})
    t2 = reliability_prior_table(small_case, cfg).set_index("source_id")
    assert t2.loc["s1", "sens_mean"] == pytest.approx(0.75)
    assert t2.loc["s1", "strength"] == pytest.approx(40)


def test_reliability_forest(khasham):
    table = reliability_prior_table(khasham)
    fig = plots.plot_reliability_forest(table)
    sens, _spec = fig.axes
    labels = [t.get_text() for t in sens.get_yticklabels()]
    assert len(labels) == len(table)
    assert "dmc_commander  [party]" in labels
    kinds = [lab.split("[")[1] for lab in labels]
    assert kinds == sorted(kinds)  # grouped by kind
    assert sens.get_xlim() == (0.0, 1.0)
    with pytest.raises(ValidationError, match="spec_high"):
        plots.plot_reliability_forest(table.drop(columns="spec_high"))
    fig2, axes = plt.subplots(1, 2)
    try:
        assert plots.plot_reliability_forest(table, ax=axes) is fig2
    finally:
        plt.close(fig2)


def test_reliability_diagram_uses_scoring():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=200)
    y = (rng.uniform(size=200) < p).astype(int)
    ax = plots.plot_reliability_diagram(y, p, n_bins=5).axes[0]
    title = ax.get_title()
    assert f"Brier {scoring.brier(y, p):.3f}" in title
    assert f"ECE {scoring.ece(y, p, 5):.3f}" in title
    assert "n = 200" in title
    table = scoring.reliability_table(y, p, 5)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), table["observed_frequency"])
    twin = next(a for a in ax.figure.axes if a is not ax)
    assert [b.get_height() for b in twin.patches] == table["count"].tolist()


def test_what_if_table(simple_case):
    t = what_if_table(simple_case, "x", source="a", values=[0.5, 0.7, 0.9])
    assert t["p_true"].is_monotonic_increasing  # a confirms x: more sensitive, more belief
    assert t.attrs["current"] == pytest.approx({"sensitivity": 0.7, "specificity": 0.65})
    sens = what_if_table(simple_case, "x", kind="blog", param="specificity",
                               values=[0.5, 0.9])  # fmt: skip
    assert sens["p_true"].is_monotonic_decreasing  # blog b denies x
    assert list(sens.attrs["current"]) == ["specificity"]
    # c has its own reliability, so the blog kind default does not move y
    y = what_if_table(simple_case, "y", kind="blog", values=[0.3, 0.9])
    assert y["p_true"].nunique() == 1
    assert what_if_table(simple_case, "y", source="c", values=[0.3, 0.9])[
        "p_true"
    ].is_monotonic_increasing


def test_what_if_matches_edited_case(simple_case):
    t = what_if_table(simple_case, ["x", "y"], source="a", param="sensitivity",
                            values=[0.8])  # fmt: skip
    edited = case_from_records(
        {
            "sources": [
                {"source_id": "a", "kind": "media", "sensitivity": 0.8, "strength": 6},
                {"source_id": "b", "kind": "blog"},
                {"source_id": "c", "kind": "blog", "sensitivity": 0.9, "specificity": 0.9},
            ],
            "reports": [
                {"claim_id": "x", "source_id": "a", "stance": "confirm", "time": "2020-01-01"},
                {"claim_id": "x", "source_id": "b", "stance": "deny", "time": "2020-01-02"},
                {"claim_id": "y", "source_id": "c", "stance": "confirm", "time": "2020-01-02"},
            ],
            "signals": [{"signal_id": "s", "claim_id": "x", "kind": "k", "time": "2020-01-03"}],
            "config": {"base_rate": 0.5},
        }
    )
    assert t.set_index("claim_id")["p_true"]["x"] == pytest.approx(infer(edited).p("x"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source": "a", "kind": "blog"}, "exactly one"),
        ({}, "exactly one"),
        ({"source": "nobody"}, "unknown source 'nobody'"),
        ({"kind": "wire"}, "unknown kind 'wire'; kinds in the case: blog, media"),
        ({"source": "a", "param": "both_ways"}, "param"),
    ],
)
def test_what_if_errors(simple_case, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        what_if_table(simple_case, "x", **kwargs)


def test_plot_what_if_marks_current_prior(khasham):
    ax = plots.plot_what_if(khasham, ["handover"], kind="media", values=[0.5, 0.6, 0.7]).axes[0]
    assert ax.lines[0].get_label() == "handover"
    current = {ln.get_label(): float(ln.get_xdata()[0]) for ln in ax.lines[1:]}
    assert current == pytest.approx({"current sensitivity": 0.65, "current specificity": 0.55})
    assert "kind 'media'" in ax.get_xlabel()


def test_plot_ach_cells_and_footer(khasham):
    from belief.explain.ach import ach_matrix

    m = ach_matrix(khasham, "khasham_control")
    ax = plots.plot_ach(m).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == m.attrs["hypotheses"]
    ylabels = [t.get_text() for t in ax.get_yticklabels()]
    assert ylabels[:-1] == m["label"].iloc[:-1].tolist()
    texts = [t.get_text() for t in ax.texts]
    post = m.loc["posterior", m.attrs["hypotheses"]]
    assert all(f"{p:.1%}" in texts for p in post)
    assert f"{m.iloc[0, 1]:.2f}" in texts


def test_empty_case_evidence_is_drawable():
    case = case_from_records({"claims": [{"claim_id": "q"}], "reports": []})
    ax = plots.plot_timeline(case).axes[0]
    assert len(ax.lines[0].get_ydata()) == 2
    ax = plots.plot_contributions(case, "q").axes[0]
    assert len(ax.patches) == 2
    assert isinstance(reliability_prior_table(case), pd.DataFrame)


def test_reliability_forest_accepts_the_joint_models_columns():
    model_style = pd.DataFrame(
        {
            "source_id": ["a", "b"],
            "kind": ["media", ""],
            "sensitivity": [0.7, 0.6],
            "sensitivity_low": [0.5, 0.4],
            "sensitivity_high": [0.8, 0.7],
            "specificity": [0.6, 0.5],
            "specificity_low": [0.4, 0.3],
            "specificity_high": [0.7, 0.6],
        }
    )
    fig = plots.plot_reliability_forest(model_style, title="Posterior reliability")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["b  [(no kind)]", "a  [media]"]
    assert fig.get_suptitle() == "Posterior reliability"
    np.testing.assert_allclose(fig.axes[1].collections[1].get_offsets()[:, 0], [0.5, 0.6])
