"""The Dask backend gives the in-memory fast engine's numbers (threads and a local cluster)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import random_records, write_records

pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed (extra 'dask')")

from belief.core.compiler import read_evidence
from belief.engines.dask import infer_dask
from belief.engines.fast import infer_fast
from belief.exceptions import ValidationError
from belief.priors.config import Config

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")


def split_reports(rec: dict, directory: Path, parts: int) -> list[Path]:
    """The reports table cut into ``parts`` files, in order."""
    reports = pd.DataFrame(rec["reports"])
    paths = []
    for k, rows in enumerate(np.array_split(np.arange(len(reports)), parts)):
        paths.append(directory / f"reports-{k}.csv")
        reports.iloc[rows].to_csv(paths[-1], index=False)
    return paths


def assert_same(a, b, atol: float = 1e-8) -> None:
    pa, pb = a.posterior, b.posterior
    assert pa.claim_id.tolist() == pb.claim_id.tolist()
    assert pa.verbal.tolist() == pb.verbal.tolist()
    for col in ("n_reports", "n_independent"):
        assert pa[col].tolist() == pb[col].tolist()
    for col in ("p_true", "p_low", "p_high"):
        np.testing.assert_allclose(pa[col], pb[col], atol=atol, err_msg=col)
    assert a.reliability.source_id.tolist() == b.reliability.source_id.tolist()
    np.testing.assert_allclose(
        a.reliability.drop(columns="source_id"), b.reliability.drop(columns="source_id"), atol=1e-6
    )


@pytest.mark.parametrize("seed", range(4))
def test_threads_scheduler_equals_in_memory(tmp_path, seed):
    rec = random_records(seed, n_reports=90)
    paths = write_records(rec, tmp_path)
    split_reports(rec, tmp_path, 3)
    config = Config(copy_weight=[0.0, 0.5][seed % 2], signal_effects={"a": 0.4})
    claims = paths["claims"] if seed % 2 else None
    tables = (claims, paths["sources"], paths["signals"])
    memory = infer_fast(read_evidence(paths["reports"], *tables, config=config), config)
    dask = infer_dask(str(tmp_path / "reports-*.csv"), *tables, config=config,
                      scheduler="threads")  # fmt: skip
    assert_same(memory, dask)
    assert dask.n_iter == memory.n_iter


OUT_OF_CORE_CONFIGS = [
    {"copy_weight": 0.5, "signal_effects": {"a": 0.4}, "default_copy_propensity": 0.2},
    {"side_effect": 1.0, "default_copy_propensity": 0.2, "learn_kind_priors": False},
]


@pytest.mark.parametrize("settings", OUT_OF_CORE_CONFIGS)
@pytest.mark.parametrize("seed", [1, 3])
def test_out_of_core_equals_in_memory_and_leaves_no_files(tmp_path, seed, settings):
    """Spilled partitions (written once, read back by each task, the base rate learned by
    shifting them) give the partitions-in-memory numbers exactly, with groups, signals, sides,
    copies and repeats; the files are removed."""
    rec = random_records(seed, n_reports=120)
    paths = write_records(rec, tmp_path)
    files = split_reports(rec, tmp_path, 3)
    config = Config(**settings)
    tables = (paths["claims"], paths["sources"], paths["signals"])
    kept = infer_dask(files, *tables, config=config, spill=False, scheduler="threads")
    where = tmp_path / "spill"
    where.mkdir()
    spilled = infer_dask(files, *tables, config=config, spill=where, scheduler="threads")
    assert list(where.iterdir()) == []
    for col in ("p_true", "p_low", "p_high", "n_reports", "n_independent"):
        assert kept.posterior[col].tolist() == spilled.posterior[col].tolist(), col
    assert kept.reliability.equals(spilled.reliability)
    assert kept.diagnostics["base_rate"] == spilled.diagnostics["base_rate"]
    memory = infer_fast(read_evidence(paths["reports"], *tables, config=config), config)
    assert_same(memory, spilled)


def test_spill_to_a_missing_directory_is_named(tmp_path):
    rec = random_records(2, n_reports=30)
    files = split_reports(rec, tmp_path, 2)
    missing = tmp_path / "nowhere"
    with pytest.raises(ValidationError, match=r"spill=.*nowhere.*: not a directory"):
        infer_dask(files, spill=missing, scheduler="synchronous")
    assert not missing.exists()


def test_local_cluster_equals_in_memory(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    rec = random_records(9, n_reports=80)
    paths = write_records(rec, tmp_path)
    files = split_reports(rec, tmp_path, 4)
    memory = infer_fast(read_evidence(paths["reports"], paths["claims"]))
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        dask = infer_dask(files, paths["claims"], client=client)
    assert_same(memory, dask)


def test_errors_name_the_partition_file_and_row(tmp_path):
    rec = random_records(2, n_reports=30)
    rec["reports"][25]["stance"] = "maybe"  # row 25 of the second file (15 rows each)
    files = split_reports(rec, tmp_path, 2)
    with pytest.raises(ValidationError, match=r"reports-1\.csv, row 12, column 'stance'"):
        infer_dask(files, scheduler="synchronous")
    rec = random_records(2, n_reports=30)
    rec["reports"][3]["claim_id"] = "nope"
    paths = write_records(rec, tmp_path)
    files = split_reports(rec, tmp_path, 2)
    with pytest.raises(ValidationError, match=r"reports-0\.csv, row 5, column 'claim_id'"):
        infer_dask(files, paths["claims"], scheduler="synchronous")
    with pytest.raises(ValidationError, match="no report files match"):
        infer_dask(str(tmp_path / "absent-*.csv"))
