"""priors.json: round trip, schema/version checks, atomic writes, and applying priors."""

from __future__ import annotations

import json
import math

import pytest

from belief.data.types import Case, Claim, Report, Signal, Source
from belief.engines.exact import infer_exact as infer
from belief.exceptions import ModelMismatchError, ValidationError
from belief.priors.config import Config
from belief.priors.file import SCHEMA, CalibratedPriors, apply_priors, read_priors, write_priors
from belief.priors.reliability import BetaPrior, SourcePrior, resolve_source_prior


def _sp(a: float, b: float, c: float, d: float) -> SourcePrior:
    return SourcePrior(BetaPrior(a, b), BetaPrior(c, d))


@pytest.fixture
def priors() -> CalibratedPriors:
    return CalibratedPriors(
        base_rate=0.3,
        default=_sp(3, 2, 3, 2),
        kinds={"wire": _sp(18, 2, 16, 4), "blog": _sp(6, 4, 5, 5)},
        sources={"s1": _sp(40, 10, 30, 3), "s2": _sp(2.5, 7.5, 9, 1)},
        source_kinds={"s1": "wire", "s2": None},
        side_effect=0.8,
        signal_effects={"hostile_rhetoric": 0.7},
        copy_propensity={"s2": 0.6},
        kind_copy_propensity={"blog": 0.4},
        default_copy_propensity=0.1,
        provenance={"belief_version": "test", "n_claims": 10},
    )


def test_round_trip_is_equal_and_versioned(priors, tmp_path):
    path = write_priors(priors, tmp_path / "priors.json")
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA == "belief.priors/1"
    assert data["reliability"]["sources"]["s1"] == {
        "kind": "wire",
        "sensitivity": {"alpha": 40.0, "beta": 10.0},
        "specificity": {"alpha": 30.0, "beta": 3.0},
    }
    back = read_priors(path)
    assert back == priors
    assert back.source_kinds == priors.source_kinds
    assert back.provenance == priors.provenance


def test_write_is_atomic(priors, tmp_path, monkeypatch):
    target = tmp_path / "priors.json"
    target.write_text("old content")

    def boom(self):
        raise RuntimeError("serialization failed")

    monkeypatch.setattr(CalibratedPriors, "to_dict", boom)
    with pytest.raises(RuntimeError):
        write_priors(priors, target)
    assert target.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["priors.json"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"claims": []}', "not a belief priors file"),
        ("[1, 2]", "not a belief priors file"),
        ("not json at all", "not a belief priors file"),
        ('{"schema": "other.tool/3"}', "not a belief priors file"),
        ('{"schema": "belief.priors/0"}', r"'belief.priors/0' is not supported.*belief.priors/1"),
        ('{"schema": "belief.priors/2"}', "Re-run `belief calibrate`"),
    ],
)
def test_foreign_or_other_version_is_a_model_mismatch(tmp_path, content, match):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ModelMismatchError, match=match) as info:
        read_priors(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.pop("reliability"), "field 'reliability': expected a value but it is missing"),
        (lambda d: d.update(base_rate=1.5), r"field 'base_rate': expected a number in \(0, 1\)"),
        (lambda d: d.update(side_effect="big"), "field 'side_effect': expected a finite number"),
        (
            lambda d: d["reliability"]["sources"]["s1"]["sensitivity"].update(alpha=-1),
            r"'reliability.sources.s1.sensitivity.alpha': expected a number in \(0, inf\)",
        ),
        (
            lambda d: d["reliability"]["kinds"]["wire"].pop("specificity"),
            "field 'reliability.kinds.wire.specificity': expected a value but it is missing",
        ),
        (
            lambda d: d["signal_effects"].update(hostile_rhetoric=None),
            "field 'signal_effects.hostile_rhetoric': expected a finite number",
        ),
        (
            lambda d: d["copying"]["sources"].update(s2=1.0),
            r"field 'copying.sources.s2': expected a number in \[0, 1\)",
        ),
        (
            lambda d: d["copying"].update(default=-0.1),
            r"field 'copying.default': expected a number in \[0, 1\)",
        ),
    ],
)
def test_malformed_fields_name_the_field(priors, tmp_path, edit, match):
    data = priors.to_dict()
    edit(data)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValidationError, match=match):
        read_priors(path)


def test_missing_file_is_a_validation_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot read priors file"):
        read_priors(tmp_path / "nope.json")


def test_apply_priors_precedence(priors):
    case = Case(
        (Claim("c"),),
        (
            Source("s1", kind="blog"),  # seen: learned, whatever its kind now
            Source("n1", kind="wire"),  # unseen, calibrated kind
            Source("n2", kind="satellite"),  # unseen, kind not calibrated -> default
            Source("n3", kind="wire", admiralty="B"),  # unseen with its own grade: kept
            Source("n4", kind="wire", sensitivity=0.9),  # own sensitivity, kind fills the rest
        ),
        tuple(Report("c", s, "confirm") for s in ("s1", "n1", "n2", "n3", "n4", "anon")),
    )
    cfg = apply_priors(case, priors, Config(signal_effects={"other": 0.1}))
    assert cfg.base_rate == 0.3
    assert cfg.signal_effects == {"other": 0.1, "hostile_rhetoric": 0.7}
    assert cfg.source_priors["s1"] == priors.sources["s1"]
    assert cfg.source_priors["n1"] == priors.kinds["wire"]
    assert cfg.source_priors["n2"] == priors.default
    assert cfg.source_priors["anon"] == priors.default  # only seen in reports, no kind
    assert "n3" not in cfg.source_priors and "n4" not in cfg.source_priors
    b = resolve_source_prior(case.source_map()["n3"], cfg.kind_priors, cfg.default_prior)
    assert b.sensitivity.mean == pytest.approx(0.85)
    n4 = resolve_source_prior(case.source_map()["n4"], cfg.kind_priors, cfg.default_prior)
    assert n4.sensitivity.mean == pytest.approx(0.9)
    assert n4.specificity.mean == pytest.approx(0.8)  # the calibrated wire mean 16 / 20
    assert n4.sensitivity.strength == pytest.approx(20.0)  # min of the two wire strengths
    explicit = _sp(1, 1, 1, 1)
    cfg2 = apply_priors(case, priors, Config(source_priors={"s1": explicit}))
    assert cfg2.source_priors["s1"] == explicit


def test_applied_priors_give_the_closed_form_posterior(priors):
    # One claim, one report by a calibrated source: P(true) = pi m / (pi m + (1 - pi)(1 - s)),
    # with m, s the means of the source's Beta posteriors (reliability integrated out).
    case = Case((Claim("c"),), (Source("s1"),), (Report("c", "s1", "confirm"),))
    cfg = apply_priors(case, priors)
    m, s = 40 / 50, 30 / 33
    expected = 0.3 * m / (0.3 * m + 0.7 * (1 - s))
    assert infer(case, cfg).p("c") == pytest.approx(expected, rel=1e-9)


def test_applied_signal_effect_and_base_rate(priors):
    case = Case((Claim("c"),), signals=(Signal("g", "c", "hostile_rhetoric", direction=-1),))
    cfg = apply_priors(case, priors)
    lo = math.log(0.3 / 0.7) - 0.7
    assert infer(case, cfg).p("c") == pytest.approx(1 / (1 + math.exp(-lo)), rel=1e-12)


def test_invalid_values_rejected_on_construction():
    with pytest.raises(ValidationError, match="base_rate"):
        CalibratedPriors(0.0, _sp(1, 1, 1, 1))
    with pytest.raises(ValidationError, match="side_effect"):
        CalibratedPriors(0.5, _sp(1, 1, 1, 1), side_effect=math.nan)


def test_a_file_without_copying_loads_with_no_copy_propensity(priors, tmp_path):
    """priors.json written before circular reporting was modelled: nothing is a repeat."""
    data = priors.to_dict()
    del data["copying"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    old = read_priors(path)
    assert old.copy_propensity == {} and old.kind_copy_propensity == {}
    assert old.default_copy_propensity is None  # the file says nothing about copying
    assert "copying" not in old.to_dict()  # and writing it back does not invent a section
    case = Case((Claim("c"),), (Source("s2", kind="blog"),), (Report("c", "s2", "confirm"),))
    # nothing known: the configured propensity is kept (it was replaced by 0 before)
    assert apply_priors(case, old, {"default_copy_propensity": 0.3}).default_copy_propensity == 0.3
    assert apply_priors(case, old).default_copy_propensity == 0.0


def test_apply_priors_carries_the_copy_propensities(priors):
    case = Case((Claim("c"),), (Source("s2", kind="blog"),), (Report("c", "s2", "confirm"),))
    cfg = apply_priors(case, priors, {"source_copy_propensity": {"s2": 0.2}})
    assert cfg.default_copy_propensity == 0.1
    assert cfg.copy_propensity == {"blog": 0.4}
    assert cfg.source_copy_propensity == {"s2": 0.2}  # the caller's own setting wins
