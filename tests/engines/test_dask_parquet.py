"""The Dask backend over partitioned Parquet (and CSV) on a running ``dask.distributed`` cluster.

A :class:`distributed.LocalCluster` stands in for a real one: the command line is pointed at its
scheduler's TCP address exactly as at a cluster's (``--dask-scheduler tcp://HOST:8786``). Small
data, two in-process workers: a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import random_records, write_records

pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed (extra 'dask')")
distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
pytest.importorskip("pyarrow", reason="pyarrow is not installed")

from belief.cli import main  # noqa: E402
from belief.core.compiler import read_evidence  # noqa: E402
from belief.engines.dask import infer_dask  # noqa: E402
from belief.engines.fast import infer_fast  # noqa: E402
from belief.exceptions import ValidationError  # noqa: E402
from belief.priors.config import Config  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::belief.exceptions.ValidationWarning")


def partitions(rec: dict, directory: Path, parts: int, kinds: tuple[str, ...]) -> Path:
    """The reports cut into ``parts`` files (Parquet or CSV by turns) under ``directory``,
    with the marker files Spark and Dask writers leave (which must be skipped)."""
    directory.mkdir()
    reports = pd.DataFrame(rec["reports"])
    for k, rows in enumerate(np.array_split(np.arange(len(reports)), parts)):
        part = reports.iloc[rows]
        kind = kinds[k % len(kinds)]
        if kind == "parquet":
            part.to_parquet(directory / f"part-{k:02d}.parquet", index=False)
        else:
            part.to_csv(directory / f"part-{k:02d}.csv", index=False)
    (directory / "_SUCCESS").write_text("")
    (directory / ".part-00.parquet.crc").write_text("")
    return directory


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
        host="127.0.0.1", dashboard_address=None,
    ) as cluster:  # fmt: skip
        yield cluster


def assert_close(a: pd.DataFrame, b: pd.DataFrame, atol: float = 1e-8) -> None:
    assert a.claim_id.tolist() == b.claim_id.tolist()
    for col in ("verbal", "n_reports", "n_independent"):
        assert a[col].tolist() == b[col].tolist(), col
    for col in ("p_true", "p_low", "p_high"):
        np.testing.assert_allclose(a[col], b[col], rtol=0, atol=atol, err_msg=col)


@pytest.mark.parametrize("kinds", [("parquet",), ("parquet", "csv")], ids=["parquet", "mixed"])
def test_client_over_a_directory_of_partitions_equals_in_memory(cluster, tmp_path, kinds):
    rec = random_records(11, n_claims=40, n_sources=9, n_reports=400)
    paths = write_records(rec, tmp_path)
    parts = partitions(rec, tmp_path / "parts", 4, kinds)
    # a given base rate: the learned one (the command-line test below) takes more sweeps
    config = Config(base_rate=0.35, copy_weight=0.5, signal_effects={"a": 0.4})
    side = (paths["claims"], paths["sources"], paths["signals"])
    memory = infer_fast(read_evidence(paths["reports"], *side, config=config), config)
    with distributed.Client(cluster) as client:
        dask = infer_dask(str(parts), *side, config=config, client=client)
    assert_close(dask.posterior, memory.posterior)
    assert dask.reliability.source_id.tolist() == memory.reliability.source_id.tolist()


def test_cli_pointed_at_a_running_scheduler_equals_in_memory(cluster, tmp_path, capsys):
    rec = random_records(12, n_claims=30, n_sources=7, n_reports=300)
    paths = write_records(rec, tmp_path)
    parts = partitions(rec, tmp_path / "parts", 4, ("parquet",))
    side = [f"--{t}={paths[t]}" for t in ("claims", "sources", "signals")]
    memory, dask = tmp_path / "memory.parquet", tmp_path / "dask.parquet"
    (tmp_path / "config.yaml").write_text("base_rate: 0.35\ncopy_weight: 0.25\n")
    argv = ["infer", *side, "--config", str(tmp_path / "config.yaml"), "--method", "fast"]
    assert main([*argv, "--reports", str(paths["reports"]), "--out", str(memory)]) == 0
    cluster_args = ["--backend", "dask", "--dask-scheduler", cluster.scheduler_address]
    assert main([*argv, "--reports", f"{parts}/*.parquet", *cluster_args, "--out", str(dask)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert_close(pd.read_parquet(dask), pd.read_parquet(memory))


def test_a_bad_parquet_partition_is_named_with_its_row(cluster, tmp_path):
    rec = random_records(13, n_reports=40)
    rec["reports"][33]["stance"] = "maybe"  # the second of two files of 20 rows: its row 15
    parts = partitions(rec, tmp_path / "parts", 2, ("parquet",))
    with distributed.Client(cluster) as client:
        with pytest.raises(ValidationError, match=r"part-01\.parquet, row 15, column 'stance'"):
            infer_dask(str(parts), client=client)


def test_an_empty_directory_is_named(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "_SUCCESS").write_text("")
    with pytest.raises(ValidationError, match="no report files match"):
        infer_dask(str(tmp_path / "parts"), scheduler="synchronous")
