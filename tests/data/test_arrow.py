"""The Arrow fast path reads and writes exactly what the validating pandas path does."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import random_records, write_records

pytest.importorskip("pyarrow", reason="pyarrow is not installed (extra 'parquet')")

from belief.data import _arrow
from belief.data._output import FAST_ROWS, escape_formulas, fast_csv
from belief.data.io import write_csv
from belief.data.streaming import read_partition, read_reports
from belief.exceptions import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")
HOSTILE = Path(__file__).resolve().parents[1] / "hostile"


def _outcome(read):
    try:
        return read()
    except ValidationError as e:
        return f"error: {e}"


def _labels(ra) -> dict:
    """What the codes mean, independent of the order codes were given in."""
    src = np.asarray([*ra.source_ids, None], dtype=object)
    return {"claims": ra.claim_ids, "claim": ra.claim.tolist(), "source": src[ra.source].tolist(),
            "derived": src[ra.derived].tolist(), "stance": ra.stance.tolist(),
            "time": ra.time.tolist()}  # fmt: skip


def both_paths(monkeypatch, path: Path, **kw) -> tuple[object, object, bool]:
    """read_reports through the fast path and through the validating reader only."""
    taken = []
    real = _arrow.report_arrays

    def spy(table, claim_ids=None):
        got = real(table, claim_ids)
        taken.append(got is not None)
        return got

    monkeypatch.setattr(_arrow, "report_arrays", spy)
    fast = _outcome(lambda: read_reports(path, **kw))
    monkeypatch.setattr(_arrow, "report_arrays", lambda table, claim_ids=None: None)
    slow = _outcome(lambda: read_reports(path, **kw))
    monkeypatch.setattr(_arrow, "report_arrays", real)
    return fast, slow, any(taken)


def _same(fast, slow) -> None:
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
    else:
        assert _labels(fast) == _labels(slow)


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.glob("reports__*.csv")))
def test_hostile_report_files_read_alike(monkeypatch, name):
    fast, slow, _ = both_paths(monkeypatch, HOSTILE / name)
    _same(fast, slow)


@pytest.mark.parametrize("seed", range(6))
def test_random_report_files_take_the_fast_path_and_read_alike(monkeypatch, tmp_path, seed):
    paths = write_records(random_records(seed, n_reports=200), tmp_path)
    fast, slow, taken = both_paths(monkeypatch, paths["reports"])
    assert taken and not isinstance(fast, str)
    _same(fast, slow)
    ids = pd.read_csv(paths["claims"], dtype=str)["claim_id"].tolist()
    fast, slow, _ = both_paths(monkeypatch, paths["reports"], claim_ids=ids)
    _same(fast, slow)
    assert fast.claim_ids == ids


ODD = [
    'claim_id,source_id,stance\n" c1 ",\u3000s1\x1c,CONFIRM \n"c,2",s2,against\n',
    'claim_id,source_id,stance,derived_from\nc1,s1,for,s9\nc1,s9,deny,\nc2,s1,query," "\n',
    "claim_id,source_id,stance,time\nc1,s1,for,2017-12-19T09:00:00+02:00\nc1,s2,deny,2017\n",
    "claim_id,source_id,stance,time\nc1,s1,for,2017-12-19\nc1,s2,deny,\n",
    "claim_id,source_id,stance\nc1,s1,for\n\nc1,s2,deny\n",
    "claim_id,source_id,stance\nc1,s1,for\n,,\n",
    "claim_id,source_id,stance\nc1,s1,maybe\nc1,,deny\n",
    "claim_id,source_id,stance\nc1,s1,for\nc1,s2\n",
    'claim_id,source_id,stance\n"c1\n2",s1,for\nc"1",s2,deny\n',
    "\ufeffclaim_id,source_id,stance\r\nc1,s1,for\r\n",
    "claim_id,source_id,stance,extra\nc1,s1,for,\xe9\n",
]


@pytest.mark.parametrize("text", ODD, ids=range(len(ODD)))
def test_odd_report_files_read_alike(monkeypatch, tmp_path, text):
    path = tmp_path / "reports.csv"
    path.write_text(text, encoding="utf-8")
    fast, slow, _ = both_paths(monkeypatch, path)
    _same(fast, slow)
    fast, slow, _ = both_paths(monkeypatch, path, claim_ids=["c1", "c2", "c\n2", "c,2"])
    _same(fast, slow)


def test_partition_frame_equals_the_validating_reader(monkeypatch, tmp_path):
    rec = random_records(3, n_reports=300)
    for r in rec["reports"][::7]:
        r["derived_from"] = "s1"
    path = write_records(rec, tmp_path)["reports"]
    fast = read_partition(path)
    monkeypatch.setattr(_arrow, "normalized", lambda table: None)
    slow = read_partition(path, chunksize=50)
    pd.testing.assert_frame_equal(fast, slow)


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    p = rng.random(n) ** 6
    special = [0.0, 1.0, math.nan, 1e-7, 3e-5, 1.5e-6, -0.0, 1e-300, 5e-324, 0.5, 2.0, -3e-5,
               9_999_999_999.0, math.inf, -math.inf, 1e-4, 0.1 + 0.2]  # fmt: skip
    p[: len(special)] = special
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    ids[:8] = ["=cmd", "-1.5", "+x", "@x", "\tt", "é日本", "-", "'q"]
    return pd.DataFrame({"claim_id": ids, "p_true": p, "p_low": p / 3,
                         "verbal": pd.Categorical(np.where(p < 0.5, "unlikely", "likely")),
                         "n_reports": rng.integers(0, 9, n),
                         "n_independent": rng.integers(-9, 9, n).astype(np.int32)})  # fmt: skip


def test_fast_csv_writes_what_pandas_writes(tmp_path):
    df = _frame(FAST_ROWS + 5)
    assert fast_csv(df, tmp_path / "fast.csv")
    escape_formulas(df).to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.assign(claim_id=df.claim_id.where(df.index != 3, "a,b")),
        lambda df: df.assign(claim_id=df.claim_id.where(df.index != 3, 'a"b')),
        lambda df: df.assign(p_true=df.p_true.where(df.index != 3, 1e10)),
        lambda df: df.assign(flag=df.index % 2 == 0),
        lambda df: df.assign(claim_id=df.claim_id.astype(object).where(df.index != 3, 7)),
        lambda df: df.head(FAST_ROWS - 1),
    ],
    ids=["comma", "quote", "large-float", "bool", "object-numbers", "small"],
)
def test_frames_arrow_cannot_write_alike_go_to_pandas(tmp_path, change):
    df = change(_frame(FAST_ROWS + 5))
    assert not fast_csv(df, tmp_path / "fast.csv")
    write_csv(df, tmp_path / "out.csv")
    escape_formulas(df).to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
