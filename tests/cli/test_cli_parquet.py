"""``belief infer`` and ``belief run`` with Parquet in and out: the CSV numbers, the CSV errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import random_records, write_records

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (extra 'parquet')")

from belief import read_case, write_tables  # noqa: E402
from belief.cli import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")
TABLES = ("claims", "sources", "reports", "signals")
COLUMNS = ["claim_id", "p_true", "p_low", "p_high", "verbal", "n_reports", "n_independent"]


def as_parquet(paths: dict[str, Path], directory: Path) -> dict[str, Path]:
    """The same tables as Parquet files of text columns (what the CSV files hold)."""
    directory.mkdir(exist_ok=True)
    out = {}
    for t, p in paths.items():
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        out[t] = directory / f"{t}.parquet"
        df.to_parquet(out[t], index=False)
    return out


def infer(capsys, tables: dict[str, Path], out: Path, *extra: str) -> pd.DataFrame:
    argv = ["infer", *[f"--{t}={p}" for t, p in tables.items()], "--out", str(out), *extra]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 0, err
    return pd.read_parquet(out) if out.suffix == ".parquet" else pd.read_csv(out)


def assert_posteriors_equal(a: pd.DataFrame, b: pd.DataFrame, atol: float = 1e-12) -> None:
    assert list(a.columns) == COLUMNS and list(b.columns) == COLUMNS
    assert a.claim_id.astype(str).tolist() == b.claim_id.astype(str).tolist()
    for col in ("verbal", "n_reports", "n_independent"):
        assert a[col].tolist() == b[col].tolist(), col
    for col in ("p_true", "p_low", "p_high"):
        np.testing.assert_allclose(a[col], b[col], rtol=0, atol=atol, err_msg=col)


@pytest.mark.parametrize("method", ["fast", "exact"])
def test_khasham_parquet_in_and_out_equals_csv(capsys, tmp_path, khasham_path, method):
    csv = write_tables(read_case(khasham_path), tmp_path / "csv")
    parquet = as_parquet(csv, tmp_path / "pq")
    want = infer(capsys, csv, tmp_path / "post.csv", "--method", method)
    got = infer(capsys, parquet, tmp_path / "post.parquet", "--method", method)
    assert_posteriors_equal(got, want)


@pytest.mark.parametrize("seed", range(3))
def test_random_tables_typed_parquet_equals_csv(capsys, tmp_path, seed):
    """Parquet written from the records (float priors, integer directions, nulls)."""
    rec = random_records(seed, n_claims=30, n_sources=8, n_reports=200)
    csv = write_records(rec, tmp_path)
    parquet = {}
    for t in TABLES:
        parquet[t] = tmp_path / f"{t}.parquet"
        pd.DataFrame(rec[t]).to_parquet(parquet[t], index=False)
    for method in ("fast", "exact"):
        want = infer(capsys, csv, tmp_path / f"{method}.csv", "--method", method)
        got = infer(capsys, parquet, tmp_path / f"{method}.parquet", "--method", method)
        assert_posteriors_equal(got, want)


def test_run_writes_parquet(capsys, tmp_path, khasham_path):
    assert main(["run", str(khasham_path), "--out", str(tmp_path / "p.csv")]) == 0
    assert main(["run", str(khasham_path), "--out", str(tmp_path / "p.parquet")]) == 0
    capsys.readouterr()
    csv, parquet = pd.read_csv(tmp_path / "p.csv"), pd.read_parquet(tmp_path / "p.parquet")
    assert_posteriors_equal(parquet, csv)


def test_bad_parquet_reports_give_a_one_line_error_naming_file_row_and_column(capsys, tmp_path):
    path = tmp_path / "reports.parquet"
    df = pd.DataFrame({"claim_id": ["c1", "c2", "c3"], "source_id": ["a", "b", "c"],
                       "stance": ["confirm", "deny", "perhaps"]})  # fmt: skip
    df.to_parquet(path, index=False)
    for method in ("fast", "exact"):
        out = tmp_path / f"{method}.csv"
        assert main(["infer", "--reports", str(path), "--method", method, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("belief: error: ") and err.count("\n") == 1, err
        assert "reports.parquet, row 4, column 'stance': invalid stance 'perhaps'" in err
        assert not out.exists()


def test_a_list_column_is_refused_naming_its_row(capsys, tmp_path):
    path = tmp_path / "sources.parquet"
    table = pa.table({"source_id": ["a", "b"], "kind": pa.array([None, ["media", "blog"]])})
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    reports = tmp_path / "reports.csv"
    reports.write_text("claim_id,source_id,stance\nc1,a,confirm\n")
    argv = ["infer", "--sources", str(path), "--reports", str(reports), "--method", "fast"]
    assert main([*argv, "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "sources.parquet, row 3, column 'kind': expected text, numbers or times" in err


def test_a_directory_of_reports_needs_the_dask_backend(capsys, tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "r.csv").write_text("claim_id,source_id,stance\nc1,a,confirm\n")
    argv = ["infer", "--reports", str(tmp_path / "parts"), "--method", "fast"]
    assert main([*argv, "--out", str(tmp_path / "o.csv")]) == 2
    assert "is read by --backend dask" in capsys.readouterr().err


@pytest.mark.parametrize("reports", ["parts", "parts/*.csv"])
def test_output_among_the_input_partitions_is_refused(capsys, tmp_path, reports):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "r.csv").write_text("claim_id,source_id,stance\nc1,a,confirm\n")
    argv = ["infer", "--reports", str(tmp_path / reports), "--method", "fast", "--backend", "dask"]
    assert main([*argv, "--out", str(tmp_path / "parts" / "post.csv")]) == 2
    assert "lies among the input files --reports" in capsys.readouterr().err
    assert not (tmp_path / "parts" / "post.csv").exists()
