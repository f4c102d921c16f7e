"""``belief calibrate``, ``belief evaluate`` and ``belief infer --priors`` end to end."""

from __future__ import annotations

import dataclasses
import json
import warnings

import pandas as pd
import pytest

from belief.cli import main
from belief.data.io import read_tables, write_tables
from belief.engines.exact import infer_exact as infer
from belief.evaluation.simulate import simulate_case
from belief.exceptions import ApproximationWarning
from belief.priors.file import apply_priors, read_priors


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A simulated case as the contract's CSVs; a third of the truths left unresolved."""
    case = simulate_case(240, 20, density=0.15, n_copiers=1, random_seed=4)
    claims = tuple(
        dataclasses.replace(c, truth=None) if i % 3 == 0 else c for i, c in enumerate(case.claims)
    )
    d = tmp_path_factory.mktemp("case")
    write_tables(case.replace(claims=claims), d)
    return d


def _args(d, *names):
    out = []
    for name in names:
        out += [f"--{name}", str(d / f"{name}.csv")]
    return out


ALL = ("claims", "sources", "reports", "signals")


def test_calibrate_writes_a_checked_priors_file(tables, tmp_path, capsys):
    out = tmp_path / "priors.json"
    assert main(["calibrate", *_args(tables, *ALL), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Calibrated on 240 claims (160 resolved), method em" in text
    for kind in ("wire", "media", "blog", "(default)", "signal hostile_rhetoric"):
        assert kind in text
    priors = read_priors(out)
    assert set(priors.kinds) == {"wire", "media", "blog"}  # copies carry no weight
    inputs = priors.provenance["inputs"]
    assert set(inputs) == set(ALL) and len(inputs["reports"]["sha256"]) == 64
    assert priors.provenance["n_resolved"] == 160


def test_infer_with_priors_matches_the_python_api(tables, tmp_path, capsys):
    priors_path, post_path = tmp_path / "priors.json", tmp_path / "post.csv"
    main(["calibrate", *_args(tables, *ALL), "--out", str(priors_path)])
    args = [*_args(tables, *ALL), "--priors", str(priors_path), "--out", str(post_path)]
    assert main(["infer", *args]) == 0
    got = pd.read_csv(post_path).set_index("claim_id")["p_true"]
    case = read_tables(*(tables / f"{n}.csv" for n in ALL))
    cfg = apply_priors(case, priors_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        expected = infer(case, cfg).posterior.set_index("claim_id")["p_true"]
        default = infer(case).posterior.set_index("claim_id")["p_true"]
    pd.testing.assert_series_equal(got, expected, check_exact=False, rtol=1e-12)
    assert (got - default).abs().max() > 0.01  # the priors changed something


def test_evaluate_prints_and_writes_the_fold_table(tables, tmp_path, capsys):
    out, preds = tmp_path / "folds.csv", tmp_path / "pred.csv"
    argv = ["evaluate", *_args(tables, *ALL), "--folds", "4", "--out", str(out)]
    assert main([*argv, "--predictions", str(preds)]) == 0
    text = capsys.readouterr().out
    assert "4-fold cross-validation by group of method calibrated on 160 resolved claims" in text
    table = pd.read_csv(out)
    assert table["fold"].astype(str).tolist() == ["0", "1", "2", "3", "pooled"]
    assert "log_loss" in text and "Lower is better for brier, log_loss" in text
    assert {"brier", "log_score", "ece", "auc", "accuracy", "slope", "intercept"} <= set(table)
    assert table["brier"].iloc[-1] < 0.2
    assert len(pd.read_csv(preds)) == 160


@pytest.mark.parametrize("method", ["exact", "fast", "em"])
def test_evaluate_other_methods(tables, capsys, method):
    argv = ["evaluate", *_args(tables, *ALL), "--folds", "3", "--method", method, "--by", "claim"]
    assert main(argv) == 0
    assert f"method {method}" in capsys.readouterr().out


def test_evaluate_bad_folds_is_a_one_line_error(tables, capsys):
    assert main(["evaluate", *_args(tables, "claims", "reports"), "--folds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("belief: error: k must be an integer >= 2")


def test_calibrate_missing_file_is_an_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "priors.json"
    argv = ["calibrate", "--reports", str(tmp_path / "missing.csv"), "--out", str(out)]
    assert main(argv) == 2
    assert "missing.csv: file not found" in capsys.readouterr().err
    assert not out.exists()


def test_infer_with_a_foreign_priors_file_is_an_error(tables, tmp_path, capsys):
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"claims": []}))
    out = tmp_path / "post.csv"
    argv = ["infer", *_args(tables, "claims", "reports"), "--priors", str(foreign)]
    assert main([*argv, "--out", str(out)]) == 2
    assert "not a belief priors file" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_method_is_rejected_by_the_parser(tables, capsys):
    with pytest.raises(SystemExit) as info:
        main(["evaluate", *_args(tables, "reports"), "--method", "oracle"])
    assert info.value.code == 2
    assert "invalid choice: 'oracle'" in capsys.readouterr().err


def test_accuracy_benchmark_runs_on_a_small_world():
    """Smoke test of benchmarks/accuracy.py (crowd-kit engines left out: bench-only extra)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"
    spec = importlib.util.spec_from_file_location("accuracy_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    case = simulate_case(120, 10, density=0.3, random_seed=2)
    eng = {k: v for k, v in bench.engines("none", quick=True).items() if "crowd-kit" not in k}
    table = bench.run_cv(case, eng, k=3)
    assert table["engine"].tolist() == list(eng)
    assert (table["brier"] < 0.25).all() and (table["seconds_per_fit"] > 0).all()
    assert "| majority vote |" in bench.markdown(table)


def test_calibrate_prints_and_writes_the_learned_copy_propensities(tmp_path, capsys):
    case = simulate_case(300, 20, density=0.3, p_repeat={"blog": 0.8}, p_cited=0.0,
                         side_effect=0.0, random_seed=2)  # fmt: skip
    write_tables(case, tmp_path)
    out = tmp_path / "priors.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["calibrate", *_args(tmp_path, *ALL), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "copy propensity (unattributed repeats)" in printed
    priors = read_priors(out)
    assert priors.kind_copy_propensity["blog"] > 0.5 > priors.kind_copy_propensity.get("wire", 0)
    saved = json.loads(out.read_text())["copying"]
    assert saved["kinds"]["blog"] == pytest.approx(priors.kind_copy_propensity["blog"])
    # applied to a case, the propensities reach the engines
    cfg = apply_priors(read_tables(**{k: tmp_path / f"{k}.csv" for k in ALL}), priors)
    assert cfg.copy_propensity["blog"] == pytest.approx(priors.kind_copy_propensity["blog"])
