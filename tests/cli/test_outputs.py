"""Outputs never clobber inputs or each other, and are checked before any work starts."""

from __future__ import annotations

import pytest

from belief.cli import main
from belief.data.io import read_case, write_tables

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")


@pytest.fixture
def tables(tmp_path, khasham_path):
    return {k: str(v) for k, v in write_tables(read_case(khasham_path), tmp_path).items()}


def test_run_refuses_to_overwrite_the_case_file(tmp_path, khasham_path, capsys):
    case = tmp_path / "case.yaml"
    case.write_bytes(khasham_path.read_bytes())
    before = case.read_bytes()
    assert main(["run", str(case), "--out", str(case)]) == 2
    assert "this is the input the case file" in capsys.readouterr().err
    assert case.read_bytes() == before


def test_infer_refuses_to_overwrite_its_reports(tables, capsys):
    reports = tables["reports"]
    before = open(reports, "rb").read()
    argv = ["infer", *[f"--{k}={v}" for k, v in tables.items()], "--out", reports]
    assert main(argv) == 2
    assert "this is the input --reports" in capsys.readouterr().err
    assert open(reports, "rb").read() == before


def test_two_outputs_on_one_path_are_refused(tmp_path, khasham_path, capsys):
    out = tmp_path / "x.html"
    assert main(["run", str(khasham_path), "--out", str(out), "--report", str(out)]) == 2
    assert "the same file as --out" in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_report_suffix_fails_before_any_output(tmp_path, khasham_path, capsys):
    """`--out post.csv --report out.pdf` wrote post.csv, then exited 2."""
    post, report = tmp_path / "post.csv", tmp_path / "out.pdf"
    assert main(["run", str(khasham_path), "--out", str(post), "--report", str(report)]) == 2
    assert "expected a file ending in .html" in capsys.readouterr().err
    assert not post.exists() and not report.exists()


def test_output_into_a_missing_directory_fails_first(tables, tmp_path, capsys):
    out = tmp_path / "missing" / "post.csv"
    argv = ["infer", *[f"--{k}={v}" for k, v in tables.items()], "--out", str(out)]
    assert main(argv) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["memory", "dask"])
def test_fast_path_reads_the_small_tables_once(tmp_path, capsys, backend):
    """`--method fast` read claims.csv twice: every warning about it was printed twice."""
    if backend == "dask":
        pytest.importorskip("dask.dataframe")
    claims, reports = tmp_path / "claims.csv", tmp_path / "reports.csv"
    claims.write_text("claim_id,favours\nc1,x\n")
    reports.write_text("claim_id,source_id,stance\nc1,s,confirm\n")
    extra = ["--backend", "dask", "--dask-scheduler", "synchronous"] if backend == "dask" else []
    argv = ["infer", "--claims", str(claims), "--reports", str(reports), "--method", "fast"]
    assert main([*argv, *extra, "--out", str(tmp_path / "post.csv")]) == 0
    assert capsys.readouterr().err.count("did you mean 'favors'") == 1
