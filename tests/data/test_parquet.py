"""Parquet wherever CSV is accepted: the same tables, the same codes, the same errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_evidence_equal, random_records, write_records

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (extra 'parquet')")
import pyarrow.parquet as pq  # noqa: E402

from belief.core.compiler import compile_case, read_evidence  # noqa: E402
from belief.data.io import read_tables, write_parquet, write_table  # noqa: E402
from belief.data.streaming import read_partition, read_reports  # noqa: E402
from belief.exceptions import ValidationError, ValidationWarning  # noqa: E402
from belief.priors.config import Config  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")
TABLES = ("claims", "sources", "reports", "signals")


def write_parquet_records(rec: dict, directory: Path) -> dict[str, Path]:
    """The four tables as Parquet files, with the column types pandas gives the records."""
    paths = {}
    for table in TABLES:
        paths[table] = directory / f"{table}.parquet"
        pd.DataFrame(rec[table]).to_parquet(paths[table], index=False)
    return paths


def both(rec: dict, tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    (tmp_path / "csv").mkdir()
    (tmp_path / "pq").mkdir()
    return write_records(rec, tmp_path / "csv"), write_parquet_records(rec, tmp_path / "pq")


@pytest.mark.parametrize("seed", range(6))
def test_parquet_tables_read_as_the_csv_tables(tmp_path, seed):
    csv, parquet = both(random_records(seed), tmp_path)
    assert read_tables(**parquet) == read_tables(**csv)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("with_claims", [True, False])
def test_parquet_reports_give_the_csv_evidence(tmp_path, seed, with_claims):
    csv, parquet = both(random_records(seed), tmp_path)
    config = Config(copy_weight=0.3, signal_effects={"a": 0.7})
    got = read_evidence(parquet["reports"], parquet["claims"] if with_claims else None,
                        parquet["sources"], parquet["signals"], config=config)  # fmt: skip
    want = read_evidence(csv["reports"], csv["claims"] if with_claims else None, csv["sources"],
                         csv["signals"], config=config)  # fmt: skip
    assert_evidence_equal(got, want)
    case = read_tables(None if not with_claims else csv["claims"], csv["sources"],
                       csv["reports"], csv["signals"])  # fmt: skip
    assert_evidence_equal(got, compile_case(case, config))


def test_typed_parquet_columns_become_the_text_a_csv_would_hold(tmp_path):
    """Integer ids, float numbers, timestamps with a zone, dictionary (categorical) text."""
    times = pd.to_datetime(["2017-12-19T09:00:00+02:00", None, "2017-12-19T08:30:00Z"], utc=True)
    df = pd.DataFrame({"claim_id": [17, 17, 4], "source_id": pd.Categorical(["a", "b", "a"]),
                       "stance": ["confirm", "deny", "for"], "time": times})  # fmt: skip
    df.to_parquet(tmp_path / "r.parquet", index=False)
    text = pd.DataFrame({"claim_id": ["17", "17", "4"], "source_id": ["a", "b", "a"],
                         "stance": ["confirm", "deny", "for"],
                         "time": ["2017-12-19T07:00:00", "", "2017-12-19T08:30:00"]})  # fmt: skip
    text.to_csv(tmp_path / "r.csv", index=False)
    got, want = read_reports(tmp_path / "r.parquet"), read_reports(tmp_path / "r.csv")
    assert (got.claim_ids, got.source_ids) == (want.claim_ids, want.source_ids)
    for f in ("claim", "source", "stance", "derived", "time"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)
    assert got.claim_ids == ["17", "4"] and got.time[0] < got.time[2]
    assert read_tables(reports=tmp_path / "r.parquet") == read_tables(reports=tmp_path / "r.csv")


def _bad(tmp_path: Path, name: str, **columns) -> Path:
    base = {"claim_id": ["c1", "c1", "c2"], "source_id": ["a", "b", "a"],
            "stance": ["confirm", "deny", "neutral"]}  # fmt: skip
    path = tmp_path / name
    pq.write_table(pa.table({**base, **columns}), path)
    return path


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"stance": ["confirm", "maybe", "deny"]},
            r"row 3, column 'stance': invalid stance 'maybe'",
        ),
        ({"stance": pa.array([1, -1, 0])}, r"row 2, column 'stance': invalid stance '1'"),
        ({"claim_id": pa.array(["c1", None, "c2"])}, r"row 3, column 'claim_id': required value"),
        ({"source_id": ["a", "b\0", "a"]}, r"row 3, column 'source_id': expected text without NUL"),
        ({"time": ["", "", "19/12/2017"]}, r"row 4, column 'time': expected an ISO 8601 time"),
        ({"source_id": pa.array([None, ["x"], None])}, r"row 3, column 'source_id': expected text"),
        ({"time": pa.array([None, None, {"a": 1}])}, r"row 4, column 'time': expected text"),
    ],
    ids=["bad-stance", "stance-as-numbers", "missing-id", "nul", "bad-time", "list", "struct"],
)
def test_bad_parquet_values_name_file_row_and_column(tmp_path, columns, message):
    path = _bad(tmp_path, "reports.parquet", **columns)
    for read in (
        lambda: read_tables(reports=path),
        lambda: read_evidence(path),
        lambda: read_reports(path, chunksize=2),
        lambda: read_partition(path),
    ):
        with pytest.raises(ValidationError, match=r"reports\.parquet, " + message):
            read()


def test_unknown_claim_in_parquet_reports_names_the_row(tmp_path):
    pd.DataFrame({"claim_id": ["c1", "c2"]}).to_parquet(tmp_path / "claims.parquet")
    path = _bad(tmp_path, "reports.parquet", claim_id=["c1", "c1", "c9"])
    for read in (
        lambda: read_tables(tmp_path / "claims.parquet", reports=path),
        lambda: read_evidence(path, tmp_path / "claims.parquet"),
    ):
        with pytest.raises(ValidationError, match=r"row 4, column 'claim_id': unknown claim 'c9'"):
            read()


def test_files_that_are_not_parquet_are_named(tmp_path):
    (tmp_path / "r.parquet").write_text("claim_id,source_id,stance\nc1,a,confirm\n")
    (tmp_path / "d.parquet").mkdir()
    cases = [(tmp_path / "r.parquet", "cannot read as Parquet"),
             (tmp_path / "absent.parquet", "file not found"),
             (tmp_path / "d.parquet", "is a directory")]  # fmt: skip
    for path, message in cases:
        for read in (lambda p=path: read_tables(reports=p), lambda p=path: read_evidence(p)):
            with pytest.raises(ValidationError, match=f"{path.name}: {message}"):
                read()


def test_missing_and_misspelled_parquet_columns(tmp_path):
    pq.write_table(pa.table({"claim_id": ["c"], "source_id": ["s"]}), tmp_path / "r.parquet")
    for read in (read_evidence, lambda p: read_tables(reports=p)):
        with pytest.raises(ValidationError, match=r"r\.parquet: required column 'stance' missing"):
            read(tmp_path / "r.parquet")
    path = _bad(tmp_path, "m.parquet", derived_form=["", "", "a"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ValidationWarning)
        read_evidence(path)
    assert [str(w.message).count("did you mean 'derived_from'") for w in caught] == [1]


def test_empty_parquet_table_gives_empty_evidence(tmp_path):
    schema = pa.schema([(c, pa.string()) for c in ("claim_id", "source_id", "stance")])
    pq.write_table(schema.empty_table(), tmp_path / "r.parquet")
    ev = read_evidence(tmp_path / "r.parquet")
    assert ev.claim_ids == [] and len(ev.r_claim) == 0


def test_write_table_writes_parquet_by_suffix(tmp_path):
    df = pd.DataFrame({"claim_id": ["=x", "b"], "p_true": [0.25, 1e-7], "n_reports": [1, 2]})
    back = pd.read_parquet(write_table(df, tmp_path / "p.parquet"))
    pd.testing.assert_frame_equal(back, df, check_dtype=False)  # no formula escaping in Parquet
    assert write_parquet(df, tmp_path / "q.pq").read_bytes()[:4] == b"PAR1"
    assert (write_table(df, tmp_path / "p.csv")).read_text().startswith("claim_id,")
