"""Chunked report reading and array compilation against the batch path (read_tables + compile)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_evidence_equal, random_records, write_records

from belief.core.compiler import (
    compile_arrays,
    compile_case,
    read_evidence,
    report_arrays_from_case,
    resolve_copies,
)
from belief.data.arrays import NO_TIME
from belief.data.io import case_from_records, read_tables
from belief.data.streaming import normalize_chunk, read_reports
from belief.exceptions import ValidationError, ValidationWarning
from belief.priors.config import Config

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("with_claims", [True, False])
def test_read_evidence_equals_batch_compile(tmp_path, seed, with_claims):
    rec = random_records(seed)
    paths = write_records(rec, tmp_path)
    config = Config(copy_weight=[0.0, 0.3, 1.0][seed % 3], signal_effects={"a": 0.7})
    claims = paths["claims"] if with_claims else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)
        case = read_tables(claims, paths["sources"], paths["reports"], paths["signals"])
        batch = compile_case(case, config)
        for chunksize in (1, 7, 1000):
            got = read_evidence(paths["reports"], claims, paths["sources"], paths["signals"],
                                config=config, chunksize=chunksize)  # fmt: skip
            assert_evidence_equal(got, batch)


@pytest.mark.parametrize("seed", range(6))
def test_compile_arrays_of_a_case_equals_compile_case(seed):
    case = case_from_records(random_records(seed, n_reports=60))
    config = Config(copy_weight=0.5)
    arrays = report_arrays_from_case(case)
    got = compile_arrays(
        arrays, config, claims=case.claims, sources=case.sources, signals=case.signals
    )
    assert_evidence_equal(got, compile_case(case, config))


@pytest.mark.parametrize("seed", range(20))
def test_resolve_copies_matches_a_reference_loop(seed):
    """The vectorized copy rule (chains, stand-ins, cycles) against a per-claim Python loop."""
    rec = random_records(seed, n_claims=3, n_sources=3, n_reports=30)
    for r in rec["reports"]:
        r["derived_from"] = r["derived_from"] or ("s1" if seed % 2 else "")
    case = case_from_records(rec)
    ra = report_arrays_from_case(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attr, weight, stand_in = resolve_copies(ra, 0.25)
    ref = reference_copies(case, ra.source_ids, 0.25)
    assert [ra.source_ids[a] for a in attr] == [src for src, _ in ref]
    assert weight.tolist() == [w for _, w in ref]
    is_copy = ra.derived >= 0  # with copy_weight != 1, full-weight copies are the stand-ins
    assert stand_in.tolist() == np.flatnonzero(is_copy & (weight == 1.0)).tolist()


def reference_copies(case, source_ids, copy_weight):
    """``(attributed source, weight)`` per report by the documented rule, claim by claim."""
    from datetime import datetime

    code = {s: k for k, s in enumerate(source_ids)}
    out = [(r.source_id, 1.0) for r in case.reports]
    for claim in case.claim_ids:
        idx = [i for i, r in enumerate(case.reports) if r.claim_id == claim]
        reps = case.reports
        order = sorted(
            idx,
            key=lambda i: (
                reps[i].time is not None,
                reps[i].time or datetime.min,
                reps[i].source_id,
                reps[i].stance,
                i,
            ),
        )
        originals = {reps[i].source_id for i in idx if reps[i].derived_from is None}
        follows = {}
        for i in order:
            if reps[i].derived_from is not None:
                follows.setdefault(reps[i].source_id, reps[i].derived_from)

        def root(x, originals=originals, follows=follows):
            path = []
            while x not in originals and x in follows and x not in path:
                path.append(x)
                x = follows[x]
            if x in path:  # a cycle without an original: one of its sources
                return min(path[path.index(x) :], key=code.get)
            return x

        stood = set()
        for i in order:
            r = reps[i]
            if r.derived_from is None:
                continue
            top = root(r.derived_from)
            if top not in originals and top not in stood:
                stood.add(top)
                out[i] = (top, 1.0)
            else:
                out[i] = (r.source_id, copy_weight)
    return out


def test_read_reports_codes_in_order_of_appearance_across_chunks():
    df = pd.DataFrame({"claim_id": ["b", "a", "b", "c"], "source_id": ["x", "y", "x", "z"],
                       "stance": ["for", "refute", "query", "confirm"],
                       "derived_from": ["", "", "w", ""]})  # fmt: skip
    for chunksize in (1, 2, 10):
        ra = read_reports(df, chunksize=chunksize)
        assert ra.claim_ids == ["b", "a", "c"]
        assert ra.claim.tolist() == [0, 1, 0, 2]
        assert ra.stance.tolist() == [1, -1, 0, 1]
        assert [ra.source_ids[s] for s in ra.source] == ["x", "y", "x", "z"]
        assert [ra.source_ids[d] if d >= 0 else None for d in ra.derived] == [None] * 2 + [
            "w",
            None,
        ]
        assert (ra.time == NO_TIME).all()


def test_times_are_utc_like_parse_time():
    df = pd.DataFrame({"claim_id": ["c"] * 3, "source_id": ["s"] * 3, "stance": ["confirm"] * 3,
                       "time": ["2017-12-19T09:00:00+02:00", "2017-12-19", ""]})  # fmt: skip
    case = read_tables(reports=df)
    expected = np.array([r.time for r in case.reports], dtype="datetime64[us]").view(np.int64)
    np.testing.assert_array_equal(read_reports(df).time, expected)


def _batch_error(rec: dict, tmp_path: Path, claims: bool = False) -> str:
    paths = write_records(rec, tmp_path)
    with pytest.raises(ValidationError) as e:
        read_tables(paths["claims"] if claims else None, None, paths["reports"])
    return str(e.value)


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [(30, "stance", "maybe"), (23, "claim_id", ""), (41, "source_id", " "),
     (17, "time", "19/12/2017"), (2, "stance", "")],
)  # fmt: skip
def test_errors_name_file_row_column_like_read_tables(tmp_path, row, column, value):
    rec = random_records(3)
    rec["reports"][row - 2][column] = value
    expected = _batch_error(rec, tmp_path)
    assert f"row {row}, column '{column}'" in expected
    with pytest.raises(ValidationError) as e:
        read_evidence(tmp_path / "reports.csv", chunksize=4)
    assert str(e.value) == expected


def test_unknown_claim_and_missing_column_errors(tmp_path):
    rec = random_records(4)
    rec["reports"][20]["claim_id"] = "nope"
    expected = _batch_error(rec, tmp_path, claims=True)
    with pytest.raises(ValidationError) as e:
        read_evidence(tmp_path / "reports.csv", tmp_path / "claims.csv", chunksize=6)
    assert str(e.value) == expected and "row 22, column 'claim_id'" in expected
    pd.DataFrame({"claim_id": ["c"], "source_id": ["s"]}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(ValidationError, match=r"r\.csv: required column 'stance' missing"):
        read_reports(tmp_path / "r.csv")
    with pytest.raises(ValidationError, match="file not found"):
        read_reports(tmp_path / "absent.csv")


def test_unknown_sources_warn_like_read_tables(tmp_path):
    paths = write_records(random_records(5), tmp_path)
    with pytest.warns(ValidationWarning) as batch:
        read_tables(None, paths["sources"], paths["reports"])
    with pytest.warns(ValidationWarning) as got:
        read_evidence(paths["reports"], None, paths["sources"])

    def unknown(caught):
        return [str(w.message) for w in caught if "not in the sources table" in str(w.message)]

    assert len(unknown(batch)) == 1
    assert unknown(got) == unknown(batch)


def test_normalize_chunk_doctest_shape():
    df = pd.DataFrame({"claim_id": [" c1 "], "source_id": ["a"], "stance": ["AGAINST"]})
    out = normalize_chunk(df, "x.csv", first_row=5)
    assert out.to_dict("records")[0] | {"time": 0} == {
        "claim_id": "c1", "source_id": "a", "derived_from": None, "stance": -1, "time": 0,
        "row": 5,
    }  # fmt: skip


def test_header_only_file_gives_empty_evidence(tmp_path):
    (tmp_path / "r.csv").write_text("claim_id,source_id,stance\n")
    ev = read_evidence(tmp_path / "r.csv")
    assert ev.claim_ids == [] and len(ev.r_claim) == 0
