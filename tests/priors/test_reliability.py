"""Source reliability priors: precedence per field, Beta prior validation, mean/strength view."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from belief.data.types import Source
from belief.exceptions import ValidationError
from belief.priors.reliability import (
    ADMIRALTY_PRIORS,
    DEFAULT_PRIOR,
    KIND_PRIORS,
    BetaPrior,
    SourcePrior,
    resolve_source_prior,
)


def view(prior: SourcePrior) -> tuple[float, float, float, float]:
    """(sensitivity mean, specificity mean, sensitivity strength, specificity strength)."""
    se, sp = prior.sensitivity, prior.specificity
    return (
        round(se.mean, 12),
        round(sp.mean, 12),
        round(se.strength, 12),
        round(sp.strength, 12),
    )


# ------------------------------------------------------------------------------ precedence


def test_bare_source_gets_the_global_default():
    d = DEFAULT_PRIOR
    assert view(resolve_source_prior(Source("s"))) == (
        d["sensitivity"],
        d["specificity"],
        d["strength"],
        d["strength"],
    )


def test_explicit_values_beat_everything():
    kind_priors = {"media": {"sensitivity": 0.1, "specificity": 0.1, "strength": 1.0}}
    s = Source("s", kind="media", admiralty="A", sensitivity=0.3, specificity=0.4, strength=2.5)
    assert view(resolve_source_prior(s, kind_priors, {"strength": 99.0})) == (0.3, 0.4, 2.5, 2.5)


@pytest.mark.parametrize("grade", sorted(ADMIRALTY_PRIORS))
def test_admiralty_beats_kind_and_config(grade):
    mean, strength = ADMIRALTY_PRIORS[grade]
    kind_priors = {"media": {"sensitivity": 0.1, "specificity": 0.1, "strength": 1.0}}
    s = Source("s", kind="media", admiralty=grade)
    assert view(resolve_source_prior(s, kind_priors)) == (mean, mean, strength, strength)


def test_admiralty_table_is_the_documented_one():
    assert ADMIRALTY_PRIORS == {
        "A": (0.95, 20.0),
        "B": (0.85, 12.0),
        "C": (0.70, 8.0),
        "D": (0.60, 6.0),
        "E": (0.50, 6.0),
    }
    means = [ADMIRALTY_PRIORS[g][0] for g in "ABCDE"]
    assert means == sorted(means, reverse=True)


def test_admiralty_f_falls_through_to_kind_then_default():
    media = KIND_PRIORS["media"]
    got = view(resolve_source_prior(Source("s", kind="media", admiralty="F")))
    assert got == (media["sensitivity"], media["specificity"], media["strength"], media["strength"])
    assert view(resolve_source_prior(Source("s", admiralty="F"))) == view(
        resolve_source_prior(Source("s"))
    )


def test_kind_priors_config_beats_builtin_kind_per_field():
    media = KIND_PRIORS["media"]
    got = resolve_source_prior(Source("s", kind="media"), {"media": {"sensitivity": 0.9}})
    # sensitivity from the config; specificity and strength still from the built-in kind
    assert view(got) == (0.9, media["specificity"], media["strength"], media["strength"])


@pytest.mark.parametrize("kind", sorted(KIND_PRIORS))
def test_builtin_kind_beats_default(kind):
    k = KIND_PRIORS[kind]
    got = view(resolve_source_prior(Source("s", kind=kind)))
    assert got == (k["sensitivity"], k["specificity"], k["strength"], k["strength"])


def test_unknown_kind_uses_config_or_default():
    cfg = {"activist": {"sensitivity": 0.6, "specificity": 0.5, "strength": 4}}
    assert view(resolve_source_prior(Source("s", kind="activist"), cfg)) == (0.6, 0.5, 4, 4)
    partial = {"activist": {"strength": 10}}
    d = DEFAULT_PRIOR
    got = view(resolve_source_prior(Source("s", kind="activist"), partial))
    assert got == (d["sensitivity"], d["specificity"], 10, 10)
    assert view(resolve_source_prior(Source("s", kind="unheard_of"))) == view(
        resolve_source_prior(Source("s"))
    )


def test_default_argument_overrides_the_global_default_per_field():
    got = view(resolve_source_prior(Source("s"), default={"specificity": 0.8}))
    assert got == (
        DEFAULT_PRIOR["sensitivity"],
        0.8,
        DEFAULT_PRIOR["strength"],
        DEFAULT_PRIOR["strength"],
    )


def test_precedence_is_per_field_across_all_layers():
    # sensitivity explicit, specificity from the grade, strength explicit
    s = Source("s", kind="blog", admiralty="B", sensitivity=0.99, strength=3.0)
    assert view(resolve_source_prior(s)) == (0.99, 0.85, 3.0, 3.0)
    # sensitivity explicit, the rest from the config's kind, built-in kind below it
    s = Source("s", kind="blog", sensitivity=0.7)
    got = resolve_source_prior(s, {"blog": {"specificity": 0.75}})
    assert view(got) == (
        0.7,
        0.75,
        KIND_PRIORS["blog"]["strength"],
        KIND_PRIORS["blog"]["strength"],
    )


def test_khasham_kind_priors_reach_the_sources(khasham_path):
    from belief.data.io import read_case

    case = read_case(khasham_path)
    kp = case.config["kind_priors"]
    dmc = next(s for s in case.sources if s.source_id == "dmc_commander")
    assert view(resolve_source_prior(dmc, kp)) == (0.6, 0.8, 6, 6)


def test_invalid_kind_prior_values_are_validation_errors():
    with pytest.raises(ValidationError, match=r"mean: expected a number in \(0, 1\)"):
        resolve_source_prior(Source("s", kind="x"), {"x": {"sensitivity": 1.5}})
    with pytest.raises(ValidationError, match="strength: expected a number > 0"):
        resolve_source_prior(Source("s"), default={"strength": 0})


# ---------------------------------------------------------------------------------- BetaPrior


@pytest.mark.parametrize(
    ("alpha", "beta"), [(0, 1), (1, 0), (-1, 2), (2, -0.5), (math.nan, 1), (1, math.nan)]
)
def test_beta_prior_rejects_non_positive_parameters(alpha, beta):
    with pytest.raises(ValidationError, match="Beta prior parameters must be > 0"):
        BetaPrior(alpha, beta)


@pytest.mark.parametrize("mean", [0.0, 1.0, -0.1, 1.2, math.nan])
def test_from_mean_strength_rejects_bad_mean(mean):
    with pytest.raises(ValidationError, match=r"mean: expected a number in \(0, 1\)"):
        BetaPrior.from_mean_strength(mean, 4)


@pytest.mark.parametrize("strength", [0.0, -3.0, math.nan])
def test_from_mean_strength_rejects_bad_strength(strength):
    with pytest.raises(ValidationError, match="strength: expected a number > 0"):
        BetaPrior.from_mean_strength(0.5, strength)


def test_beta_prior_hand_values():
    assert BetaPrior.from_mean_strength(0.75, 8) == BetaPrior(6.0, 2.0)
    b = BetaPrior(8.0, 2.0)
    assert (b.mean, b.strength) == (0.8, 10.0)
    assert isinstance(BetaPrior.from_mean_strength(0.5, 4).alpha, float)


@given(
    mean=st.floats(min_value=1e-6, max_value=1 - 1e-6),
    strength=st.floats(min_value=1e-3, max_value=1e6),
)
def test_mean_strength_round_trip(mean, strength):
    b = BetaPrior.from_mean_strength(mean, strength)
    assert b.alpha > 0 and b.beta > 0
    assert b.mean == pytest.approx(mean, rel=1e-9, abs=1e-12)
    assert b.strength == pytest.approx(strength, rel=1e-9)


@given(
    alpha=st.floats(min_value=1e-3, max_value=1e6),
    beta=st.floats(min_value=1e-3, max_value=1e6),
)
def test_alpha_beta_round_trip(alpha, beta):
    b = BetaPrior(alpha, beta)
    back = BetaPrior.from_mean_strength(b.mean, b.strength)
    assert back.alpha == pytest.approx(alpha, rel=1e-9)
    assert back.beta == pytest.approx(beta, rel=1e-6)
