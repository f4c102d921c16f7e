"""Tests of :mod:`belief.evaluation.simulate`: generative story, reproducibility, repeats.

Statistical checks use fixed seeds and a 3-standard-error tolerance: they pin the story (rates,
alignment, groups, copies) rather than exact draws.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, logit

from belief.data.types import Case, Report
from belief.evaluation.simulate import (
    COPIER_KIND,
    DEFAULT_KINDS,
    KindSpec,
    SimulationTruth,
    simulate_case,
)
from belief.exceptions import ValidationError

P_NEUTRAL = 0.1


def _align(side: str | None, favors: str | None) -> int:
    if not side or not favors:
        return 0
    return 1 if side == favors else -1


def _within(observed: float, expected: float, se: float, k: float = 3.0) -> bool:
    return abs(observed - expected) <= k * se


@pytest.fixture(scope="module")
def big() -> tuple[Case, SimulationTruth]:
    """A large world with strong alignment effects and no signals."""
    return simulate_case(
        2500, 40, density=0.2, side_effect=1.5, signal_kinds={}, random_seed=11, return_truth=True
    )


def _informative(case: Case, truth: SimulationTruth) -> dict[str, np.ndarray]:
    """Original confirm/deny reports as arrays: truth, alignment, confirm, sens, spec."""
    favors = {c.claim_id: c.favors for c in case.claims}
    side = {s.source_id: s.side for s in case.sources}
    rows = [r for r in case.reports if r.derived_from is None and r.stance != "neutral"]
    return {
        "truth": np.array([truth.truth[r.claim_id] for r in rows]),
        "align": np.array([_align(side[r.source_id], favors[r.claim_id]) for r in rows]),
        "confirm": np.array([r.stance == "confirm" for r in rows]),
        "sens": np.array([truth.sensitivity[r.source_id] for r in rows]),
        "spec": np.array([truth.specificity[r.source_id] for r in rows]),
    }


# --- reproducibility and structure -------------------------------------------------------------


def test_same_seed_same_case_and_different_seed_different_case():
    kw = dict(n_copiers=2, group_size=3, random_seed=5, return_truth=True)
    case1, truth1 = simulate_case(**kw)
    case2, truth2 = simulate_case(**kw)
    assert case1 == case2 and truth1 == truth2
    case3, truth3 = simulate_case(**(kw | {"random_seed": np.random.default_rng(5)}))
    assert case3 == case1 and truth3 == truth1
    case4, truth4 = simulate_case(**(kw | {"random_seed": 6}))
    assert case4.reports != case1.reports and truth4.truth != truth1.truth


def test_structure_ids_kinds_and_hidden_reliability():
    case, truth = simulate_case(random_seed=1, n_copiers=2, return_truth=True)
    assert case.name == "simulated" and case.config == {}
    assert case.claim_ids[0] == "c0001" and case.claim_ids[-1] == "c0200"
    assert [s.source_id for s in case.sources[:2]] == ["s001", "s002"]
    assert [s.source_id for s in case.sources[-2:]] == ["agg01", "agg02"]
    assert all(s.kind == COPIER_KIND and s.side is None for s in case.sources[-2:])
    # shares 0.2/0.4/0.4 of 30 sources, exactly
    assert Counter(s.kind for s in case.sources[:30]) == {"wire": 6, "media": 12, "blog": 12}
    assert all(s.sensitivity is None and s.specificity is None for s in case.sources)
    assert all(c.prior is None and c.group is None and c.truth is not None for c in case.claims)
    assert set(truth.sensitivity) == {s.source_id for s in case.sources[:30]}
    assert truth.kind_means == {k: (v.sensitivity, v.specificity) for k, v in DEFAULT_KINDS.items()}
    assert [g.signal_id for g in case.signals[:2]] == ["g0001", "g0002"]
    assert truth.truth_array(case.claim_ids[:3]).tolist() == [int(c.truth) for c in case.claims[:3]]


def test_times_within_window_and_reports_sorted():
    start, days = "2024-03-01T06:00:00", 2.5
    case = simulate_case(100, 10, n_copiers=2, start=start, days=days, random_seed=2)
    t0 = datetime.fromisoformat(start)
    times = [r.time for r in case.reports] + [g.time for g in case.signals]
    assert all(t0 <= t <= t0 + timedelta(days=days) for t in times)
    assert [r.time for r in case.reports] == sorted(r.time for r in case.reports)
    assert {r.stance for r in case.reports} == {"confirm", "deny", "neutral"}


def test_kind_specs_accept_tuples_and_mappings_and_sd_zero_is_exact():
    kinds = {
        "a": (0.5, 0.7, 0.8, 0.0),
        "b": {"share": 0.5, "sensitivity": 0.6, "specificity": 0.9, "sd": 0.0},
        "c": KindSpec(0.0, 0.5, 0.5, 1.0),
    }
    case, truth = simulate_case(10, 8, kinds=kinds, random_seed=3, return_truth=True)
    by_kind = defaultdict(set)
    for s in case.sources:
        by_kind[s.kind].add((truth.sensitivity[s.source_id], truth.specificity[s.source_id]))
    assert {k: len(v) for k, v in by_kind.items()} == {"a": 1, "b": 1}  # share 0: no source
    (sens_a, spec_a), (sens_b, spec_b) = by_kind["a"].pop(), by_kind["b"].pop()
    assert (sens_a, spec_a) == pytest.approx((0.7, 0.8))
    assert (sens_b, spec_b) == pytest.approx((0.6, 0.9))


def test_logit_reliability_spread_across_sources():
    kinds = {"k": KindSpec(1.0, 0.8, 0.6, 0.5)}
    _, truth = simulate_case(1, 3000, kinds=kinds, density=0.0, random_seed=4, return_truth=True)
    for values, mean in ((truth.sensitivity, 0.8), (truth.specificity, 0.6)):
        z = logit(np.array(list(values.values())))
        assert _within(z.mean(), logit(mean), 0.5 / math.sqrt(z.size))
        assert abs(z.std() - 0.5) < 0.03
    z_sens = logit(list(truth.sensitivity.values()))
    z_spec = logit(list(truth.specificity.values()))
    assert abs(np.corrcoef(z_sens, z_spec)[0, 1]) < 3 / math.sqrt(z_sens.size)  # independent draws


def test_large_ids_widen():
    case = simulate_case(10000, 1, density=0.0, random_seed=0)
    assert case.claim_ids[0] == "c00001" and len(set(case.claim_ids)) == 10000


# --- the generative story ----------------------------------------------------------------------


def test_base_rate_without_signals():
    case, truth = simulate_case(
        5000, 1, density=0.0, signal_kinds={}, base_rate=0.4, random_seed=7, return_truth=True
    )
    y = truth.truth_array(case.claim_ids)
    assert _within(y.mean(), 0.4, math.sqrt(0.4 * 0.6 / y.size))
    assert case.signals == ()


def test_signals_shift_prior_log_odds_by_direction_times_effect():
    case, truth = simulate_case(
        6000,
        1,
        density=0.0,
        p_signal=1.0,
        signal_kinds={"x": 1.5},
        random_seed=8,
        return_truth=True,
    )
    assert len(case.signals) == 6000 and {g.kind for g in case.signals} == {"x"}
    for direction in (1, -1):
        ids = [g.claim_id for g in case.signals if g.direction == direction]
        y = truth.truth_array(ids)
        p = expit(logit(0.4) + 1.5 * direction)
        assert _within(y.mean(), p, math.sqrt(p * (1 - p) / y.size))


def test_sides_favors_density_and_neutral_rates(big):
    case, _ = big
    n_src = 40
    sided = np.mean([s.side is not None for s in case.sources])
    assert _within(sided, 0.5, math.sqrt(0.25 / n_src))
    favors = np.array([c.favors is not None for c in case.claims])
    assert _within(favors.mean(), 0.5, math.sqrt(0.25 / favors.size))
    n_cells = len(case.claims) * n_src
    assert _within(len(case.reports) / n_cells, 0.2, math.sqrt(0.2 * 0.8 / n_cells))
    neutral = np.mean([r.stance == "neutral" for r in case.reports])
    assert _within(neutral, P_NEUTRAL, math.sqrt(0.09 / len(case.reports)))


def test_sensitivity_and_specificity_at_alignment_zero(big):
    d = _informative(*big)
    true0 = d["truth"] & (d["align"] == 0)
    p = d["sens"][true0]  # P(confirm | true) per report
    assert _within(d["confirm"][true0].sum(), p.sum(), math.sqrt((p * (1 - p)).sum()))
    false0 = ~d["truth"] & (d["align"] == 0)
    q = d["spec"][false0]  # P(deny | false) per report
    assert _within((~d["confirm"][false0]).sum(), q.sum(), math.sqrt((q * (1 - q)).sum()))


@pytest.mark.parametrize("align", [1, -1])
def test_alignment_shifts_confirmation_as_documented(big, align):
    _, truth = big
    d = _informative(*big)
    a = truth.side_effect
    for is_true in (True, False):
        m = (d["truth"] == is_true) & (d["align"] == align)
        if is_true:
            p = expit(logit(d["sens"][m]) + a * align)
        else:
            p = 1 - expit(logit(d["spec"][m]) - a * align)  # P(confirm | false)
        assert _within(d["confirm"][m].sum(), p.sum(), math.sqrt((p * (1 - p)).sum()))


def test_alignment_raises_confirmation_of_favored_claims(big):
    d = _informative(*big)
    for is_true in (True, False):
        rate = [
            d["confirm"][(d["truth"] == is_true) & (d["align"] == al)].mean() for al in (1, 0, -1)
        ]
        assert rate[0] > rate[1] + 0.05 > rate[2] + 0.1


def test_groups_have_at_most_one_true_claim_and_none_true_rate():
    m, base = 3, 0.3
    case, truth = simulate_case(
        9000,
        1,
        density=0.0,
        signal_kinds={},
        group_size=m,
        base_rate=base,
        random_seed=9,
        return_truth=True,
    )
    n_true = Counter()
    for c in case.claims:
        n_true[c.group] += truth.truth[c.claim_id]
    assert len(n_true) == 3000 and max(n_true.values()) == 1
    odds = base / (1 - base)
    p_none = 1 / (m * odds + 1)
    none = np.mean([v == 0 for v in n_true.values()])
    assert _within(none, p_none, math.sqrt(p_none * (1 - p_none) / 3000))
    assert len({c.group for c in case.claims[:3]}) == 1


@pytest.mark.parametrize(
    ("n", "m", "expected"),
    [(10, 4, [4, 4, 2]), (9, 4, [4, 4]), (6, 3, [3, 3]), (5, 5, [5])],
)
def test_last_group_holds_the_remainder(n, m, expected):
    case = simulate_case(n, 2, group_size=m, random_seed=0)
    sizes = Counter(c.group for c in case.claims)
    assert sorted(v for k, v in sizes.items() if k is not None) == sorted(expected)
    assert sizes.get(None, 0) == n - sum(expected)
    assert all(sum(c.truth for c in case.claims if c.group == g) <= 1 for g in sizes if g)


def test_copies_repeat_an_existing_report():
    n_copiers, p_copy = 3, 0.6
    case = simulate_case(300, 20, density=0.2, n_copiers=n_copiers, p_copy=p_copy, random_seed=10)
    originals = {(r.claim_id, r.source_id): r for r in case.reports if r.derived_from is None}
    copies = [r for r in case.reports if r.derived_from is not None]
    kinds = {s.source_id: s.kind for s in case.sources}
    assert copies and all(kinds[r.source_id] == COPIER_KIND for r in copies)
    assert all(kinds[sid] != COPIER_KIND for _, sid in originals)
    for r in copies:
        orig = originals[(r.claim_id, r.derived_from)]
        assert orig.stance == r.stance != "neutral" and orig.time <= r.time
    n_inf = sum(r.stance != "neutral" for r in originals.values())
    trials, p = n_inf * n_copiers, p_copy / n_copiers
    assert _within(len(copies), trials * p, math.sqrt(trials * p * (1 - p)))
    assert len({(r.claim_id, r.source_id, r.derived_from) for r in copies}) == len(copies)


@pytest.mark.parametrize("p_repeat", [0.0, 0.5])
def test_copiers_copy_the_final_stance_of_every_report(p_repeat):
    case = simulate_case(
        200, 15, density=0.3, n_copiers=2, p_copy=0.8, p_repeat=p_repeat, random_seed=13
    )
    kinds = {s.source_id: s.kind for s in case.sources}
    reports = {
        (r.claim_id, r.source_id): r for r in case.reports if kinds[r.source_id] != COPIER_KIND
    }
    copies = [r for r in case.reports if kinds[r.source_id] == COPIER_KIND]
    assert copies and all(r.derived_from is not None for r in copies)
    for r in copies:  # the stance of the report copied, after it became a repeat or not
        assert reports[(r.claim_id, r.derived_from)].stance == r.stance


# --- unattributed repeats (circular reporting) ------------------------------------------------

#: sha256 prefixes of repr((claims, sources, reports, signals)) drawn before repeats existed
GOLDEN = [
    ({"n_claims": 60, "n_sources": 8, "n_copiers": 2, "group_size": 3}, 5, "5f7e40d6a878e6a7"),
    ({}, 0, "6f0ad3655c068187"),
]


@pytest.mark.parametrize(("kwargs", "seed", "digest"), GOLDEN)
def test_seeds_draw_the_same_cases_as_before_repeats(kwargs, seed, digest):
    case, truth = simulate_case(**kwargs, random_seed=seed, return_truth=True)
    parts = (case.claims, case.sources, case.reports, case.signals)
    assert hashlib.sha256(repr(parts).encode()).hexdigest()[:16] == digest
    assert truth.repeats == {} and truth.p_cited == 0.0
    assert set(truth.copy_propensity.values()) == {0.0}
    assert set(truth.copy_propensity) == set(truth.sensitivity)


REPEATS = {"media": 0.3, "blog": 0.7}
P_CITED = 0.4


@pytest.fixture(scope="module")
def repeating() -> tuple[Case, SimulationTruth]:
    """A dense world where media outlets and blogs repeat earlier reports."""
    return simulate_case(
        1500,
        30,
        density=0.25,
        p_repeat=REPEATS,
        p_cited=P_CITED,
        n_copiers=2,
        random_seed=17,
        return_truth=True,
    )


def _eligible(case: Case, truth: SimulationTruth) -> list[Report]:
    """Informative reports of non-copier sources that have an earlier one on their claim."""
    by_claim = defaultdict(list)
    for r in case.reports:
        if r.stance != "neutral" and r.source_id in truth.sensitivity:
            by_claim[r.claim_id].append(r)
    out = []
    for rows in by_claim.values():
        out += sorted(rows, key=lambda r: (r.time, r.source_id))[1:]
    return out


def test_propensities_are_per_kind(repeating):
    case, truth = repeating
    kinds = {s.source_id: s.kind for s in case.sources}
    assert truth.p_cited == P_CITED
    assert truth.copy_propensity == {s: REPEATS.get(kinds[s], 0.0) for s in truth.sensitivity}


def test_share_of_repeats_per_kind_is_the_propensity(repeating):
    case, truth = repeating
    kinds = {s.source_id: s.kind for s in case.sources}
    eligible = _eligible(case, truth)
    assert set(truth.repeats) <= {(r.claim_id, r.source_id) for r in eligible}
    for kind in ("wire", "media", "blog"):
        rows = [r for r in eligible if kinds[r.source_id] == kind]
        n, rho = len(rows), REPEATS.get(kind, 0.0)
        k = sum((r.claim_id, r.source_id) in truth.repeats for r in rows)
        assert n > 500 and _within(k, n * rho, math.sqrt(n * rho * (1 - rho))), (kind, k, n)


def test_share_of_cited_repeats_is_p_cited(repeating):
    case, truth = repeating
    mine = {(r.claim_id, r.source_id): r for r in case.reports if r.source_id in truth.sensitivity}
    n = len(truth.repeats)
    cited = sum(mine[key].derived_from is not None for key in truth.repeats)
    assert _within(cited, n * P_CITED, math.sqrt(n * P_CITED * (1 - P_CITED)))
    originals = [r for key, r in mine.items() if key not in truth.repeats]
    assert all(r.derived_from is None for r in originals)


def test_every_repeat_copies_an_earlier_report_of_the_named_source(repeating):
    case, truth = repeating
    mine = {(r.claim_id, r.source_id): r for r in case.reports if r.source_id in truth.sensitivity}
    for (claim_id, source_id), of in truth.repeats.items():
        rep, orig = mine[(claim_id, source_id)], mine[(claim_id, of)]
        assert rep.stance == orig.stance != "neutral"
        assert (orig.time, orig.source_id) < (rep.time, rep.source_id)
        assert rep.derived_from in (None, of)


def test_repeats_change_only_stances_and_citations():
    kw = {"n_claims": 300, "n_sources": 20, "density": 0.3, "n_copiers": 1, "random_seed": 4}
    (plain, t0), (rep, t1) = (
        simulate_case(**kw, p_repeat=p, p_cited=0.5, return_truth=True) for p in (0.0, 0.5)
    )
    assert plain.claims == rep.claims and plain.sources == rep.sources
    assert plain.signals == rep.signals and t0.truth == t1.truth
    assert t0.sensitivity == t1.sensitivity and t1.repeats
    key = lambda r: (r.claim_id, r.source_id, r.time)  # noqa: E731
    assert sorted(map(key, plain.reports)) == sorted(map(key, rep.reports))
    mine = {(r.claim_id, r.source_id): r for r in plain.reports if r.source_id in t0.sensitivity}
    for r in rep.reports:
        if r.source_id in t1.sensitivity and (r.claim_id, r.source_id) not in t1.repeats:
            assert r == mine[(r.claim_id, r.source_id)]


def test_repeat_propensity_one_makes_every_eligible_report_a_repeat():
    case, truth = simulate_case(
        100, 10, density=0.5, p_repeat=1.0, random_seed=6, return_truth=True
    )
    eligible = {(r.claim_id, r.source_id) for r in _eligible(case, truth)}
    assert set(truth.repeats) == eligible
    by_claim = defaultdict(set)
    for r in case.reports:
        if r.stance != "neutral":
            by_claim[r.claim_id].add(r.stance)
    assert all(len(stances) == 1 for stances in by_claim.values())  # the first report's stance


# --- argument validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_claims": 0}, r"n_claims should be an integer >= 1 but got 0"),
        ({"n_sources": 2.5}, r"n_sources should be an integer >= 1 but got 2.5"),
        ({"n_copiers": -1}, r"n_copiers should be an integer >= 0 but got -1"),
        ({"group_size": 0}, r"group_size should be an integer >= 1 but got 0"),
        ({"group_size": 201}, r"group_size should be in \[1, n_claims=200\] but got 201"),
        ({"density": 1.5}, r"density should be in \[0, 1\] but got 1.5"),
        ({"p_neutral": -0.1}, r"p_neutral should be in \[0, 1\] but got -0.1"),
        ({"p_copy": 2}, r"p_copy should be in \[0, 1\] but got 2"),
        ({"p_repeat": 1.5}, r"p_repeat should be in \[0, 1\] but got 1.5"),
        ({"p_repeat": {"blog": -0.1}}, r"p_repeat\['blog'\] should be in \[0, 1\] but got -0.1"),
        (
            {"p_repeat": {"tv": 0.5}},
            r"a p_repeat key should be one of the source kinds \['blog', 'media', 'wire'\] "
            r"but got 'tv'",
        ),
        ({"p_cited": 2}, r"p_cited should be in \[0, 1\] but got 2"),
        ({"base_rate": 1.0}, r"base_rate should be in the open interval \(0, 1\) but got 1.0"),
        ({"side_effect": float("nan")}, r"side_effect should be a finite number but got nan"),
        ({"days": 0}, r"days should be > 0 but got 0"),
        ({"start": "yesterday"}, r"start should be an ISO 8601 date or datetime but got 'yester"),
        ({"sides": ()}, r"sides should be distinct non-empty strings"),
        ({"sides": ("a", "a")}, r"sides should be distinct non-empty strings.*\('a', 'a'\)"),
        ({"signal_kinds": {"x": 0.0}}, r"signal_kinds\['x'\] should be a finite number > 0"),
        (
            {"kinds": {"a": KindSpec(0.5, 0.7, 0.7, 0.3)}},
            r"the sum of the kinds' shares should be 1 but got 0.5",
        ),
        (
            {"kinds": {"a": KindSpec(1.0, 1.0, 0.7, 0.3)}},
            r"kinds\['a'\].sensitivity should be in the open interval \(0, 1\) but got 1.0",
        ),
        ({"kinds": {"a": KindSpec(1.0, 0.7, 0.7, -1)}}, r"kinds\['a'\].sd should be >= 0"),
    ],
)
def test_invalid_arguments_name_value_and_range(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        simulate_case(**kwargs)


def test_no_sides_is_allowed_when_nobody_is_aligned():
    case = simulate_case(20, 5, sides=(), p_aligned=0.0, p_favors=0.0, random_seed=0)
    assert all(s.side is None for s in case.sources) and all(c.favors is None for c in case.claims)


def test_simulate_does_not_import_the_heavy_stack():
    code = (
        "import sys, belief.evaluation.simulate; "
        "print(sorted(m for m in ('pymc', 'arviz', 'matplotlib') if m in sys.modules))"
    )
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
