"""The ``belief`` command line, in-process (``belief.cli.main``) and once as the console script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from belief import __version__, read_case, verbal, write_tables
from belief.cli import main
from belief.data.types import POSTERIOR_COLUMNS

CONTRACT_COLUMNS = ["claim_id", "p_true", "p_low", "p_high", "verbal", "n_reports", "n_independent"]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def table_p(out: str, claim_id: str) -> float:
    """P(true) of ``claim_id`` in the printed table."""
    m = re.search(rf"^{re.escape(claim_id)}\s+([01]\.\d{{3}})\s", out, flags=re.MULTILINE)
    assert m, f"{claim_id} not in the table:\n{out}"
    return float(m.group(1))


def assert_one_line_error(err: str, *parts: str) -> None:
    assert err.startswith("belief: error: "), err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    for part in parts:
        assert part in err, (part, err)


@pytest.fixture
def khasham_tables(khasham_path, tmp_path) -> dict[str, Path]:
    return write_tables(read_case(khasham_path), tmp_path / "in")


def infer_args(tables: dict[str, Path], out: Path, *tables_used: str) -> list[str]:
    args = ["infer"]
    for t in tables_used or ("claims", "sources", "reports", "signals"):
        args += [f"--{t}", str(tables[t])]
    return [*args, "--out", str(out)]


# ----------------------------------------------------------------------------------- belief run


def test_run_khasham_prints_table_timeline_and_contributions(capsys, khasham_path):
    code, out, err = run(capsys, "run", khasham_path)
    assert code == 0, err
    case = read_case(khasham_path)
    assert out.startswith("Case khasham: 6 claims, 20 reports, 5 signals (method: exact)")
    assert re.search(r"^claim\s+P\(true\)\s+verbal\s+reports", out, flags=re.MULTILINE)
    for claim in case.claims:
        p = table_p(out, claim.claim_id)
        assert 0 <= p <= 1
        assert claim.text in out
    assert "Timeline of 'handover':" in out
    assert "Evidence contributions to 'handover'" in out
    assert "dmc_commander denies handover" in out
    # the analyst's reading of the seed case: the handover ends unlikely, the army still holds
    assert table_p(out, "handover") < 0.2
    assert table_p(out, "army_holds_khasham") > 0.5
    assert re.search(r"^handover\s+0\.\d{3}\s+(almost no chance|very unlikely)", out, re.M)


def test_run_timeline_is_in_time_order_and_ends_at_the_table_value(capsys, khasham_path):
    code, out, _ = run(capsys, "run", khasham_path)
    assert code == 0
    block = out.split("Timeline of 'handover':\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[0].split()[0] == "start"
    stamps = [line.split("P=")[0].strip() for line in block[1:]]
    assert stamps == sorted(stamps)
    assert float(block[-1].split("P=")[1].split()[0]) == pytest.approx(
        table_p(out, "handover"), abs=1e-3
    )


def test_run_with_claim_and_out(capsys, khasham_path, tmp_path):
    out_csv = tmp_path / "post.csv"
    code, out, err = run(capsys, "run", khasham_path, "--claim", "clashes", "--out", out_csv)
    assert code == 0, err
    assert "Timeline of 'clashes':" in out and "Evidence contributions to 'clashes'" in out
    post = pd.read_csv(out_csv)
    assert list(post.columns) == CONTRACT_COLUMNS
    assert post.set_index("claim_id").loc["handover", "p_true"] == pytest.approx(
        table_p(out, "handover"), abs=5e-4
    )


def test_run_unknown_claim_is_an_error_and_writes_nothing(capsys, khasham_path, tmp_path):
    out_csv = tmp_path / "post.csv"
    code, out, err = run(capsys, "run", khasham_path, "--claim", "nope", "--out", out_csv)
    assert code == 2
    assert_one_line_error(err, "--claim: unknown claim 'nope'", "handover")
    assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("claims:\n  - {claim_id: a\n", ["not valid YAML", "line"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        (
            "reports:\n  - {claim_id: a, source_id: s, stance: maybe}\n",
            ["reports entry 1", "stance"],
        ),
        ("name: empty\n", ["the case has no claims"]),
        ("config: {bogus: 1}\nreports: [{claim_id: a, source_id: s, stance: for}]\n", ["bogus"]),
    ],
)
def test_run_bad_case_file(capsys, tmp_path, text, parts):
    case = tmp_path / "case.yaml"
    case.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "run", case, "--out", tmp_path / "post.csv")
    assert code == 2
    assert_one_line_error(err, str(case), *parts)
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.yaml"]


def test_run_missing_and_binary_files(capsys, tmp_path):
    code, _, err = run(capsys, "run", tmp_path / "missing.yaml")
    assert code == 2
    assert_one_line_error(err, "missing.yaml", "cannot read case file")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(128, 256)))
    code, _, err = run(capsys, "run", binary)
    assert code == 2
    assert_one_line_error(err, "bin.yaml", "not UTF-8")


def test_run_json_case(capsys, khasham_path, tmp_path):
    from belief import write_case

    path = write_case(read_case(khasham_path), tmp_path / "k.json")
    code, out, err = run(capsys, "run", path)
    assert code == 0, err
    assert table_p(out, "handover") < 0.2


# --------------------------------------------------------------------------------- belief infer


def test_infer_writes_posterior_with_exactly_the_contract_columns(capsys, khasham_tables, tmp_path):
    out_csv = tmp_path / "posterior.csv"
    code, out, err = run(capsys, *infer_args(khasham_tables, out_csv))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == f"wrote {out_csv} (6 claims, method exact)"
    # the tables carry no settings: what is learned from the data is said (belief.core.hyper)
    assert lines[1].startswith("learned from the data: base rate 0.")
    assert lines[2].startswith("learned from the data: mean sensitivity/specificity by kind:")
    assert " media 0." in lines[2] and len(lines) == 3
    assert out_csv.read_text(encoding="utf-8").splitlines()[0] == ",".join(CONTRACT_COLUMNS)
    assert list(POSTERIOR_COLUMNS) == CONTRACT_COLUMNS
    post = pd.read_csv(out_csv)
    assert list(post.columns) == CONTRACT_COLUMNS
    assert not post.isna().any().any()
    assert post.claim_id.tolist() == pd.read_csv(khasham_tables["claims"]).claim_id.tolist()
    assert ((post.p_low <= post.p_true + 1e-12) & (post.p_true <= post.p_high + 1e-12)).all()
    assert post.p_true.between(0, 1).all()
    assert post.verbal.tolist() == [verbal(p) for p in post.p_true]
    assert (post.n_independent <= post.n_reports).all()
    assert post.set_index("claim_id").loc["handover", "n_reports"] == 8
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_infer_with_reports_only_creates_claims(capsys, tmp_path):
    reports = tmp_path / "reports.csv"
    reports.write_text("claim_id,source_id,stance\nx,s1,support\ny,s2,refute\n", encoding="utf-8")
    code, _, err = run(capsys, "infer", "--reports", reports, "--out", tmp_path / "p.csv")
    assert code == 0, err
    post = pd.read_csv(tmp_path / "p.csv")
    assert post.claim_id.tolist() == ["x", "y"]
    assert post.p_true[0] > 0.5 > post.p_true[1]


def test_infer_unknown_sources_warn_but_succeed(capsys, khasham_tables, tmp_path):
    reports = pd.read_csv(khasham_tables["reports"], dtype=str, keep_default_na=False)
    reports.loc[0, "source_id"] = "mystery_outlet"
    reports.to_csv(khasham_tables["reports"], index=False)
    code, _, err = run(capsys, *infer_args(khasham_tables, tmp_path / "p.csv"))
    assert code == 0
    assert err.startswith("belief: warning: ") and "mystery_outlet" in err
    assert (tmp_path / "p.csv").exists()


BAD_INPUTS = [
    # (table, csv text, parts of the error message)
    ("reports", "claim_id,source_id,stance\nhandover,smart,confirm\nhandover,smart,perhaps\n",
     ["reports.csv", "row 3", "column 'stance'", "invalid stance 'perhaps'", "confirm, deny"]),
    ("reports", "claim_id,source_id,stance\nhandover,smart,confirm\nghost_claim,smart,deny\n",
     ["reports.csv", "row 3", "column 'claim_id'", "unknown claim 'ghost_claim'"]),
    ("reports", "claim_id,source,stance\nhandover,smart,confirm\n",
     ["reports.csv", "required column 'source_id' missing"]),
    ("claims", "claim_id,prior\nhandover,0.5\nclashes,1.5\n",
     ["claims.csv", "row 3", "column 'prior'", "(0, 1)", "'1.5'"]),
    ("claims", "claim_id\nhandover\nhandover\n",
     ["claims.csv", "row 3", "duplicate id 'handover'", "row 2"]),
    ("sources", "source_id,admiralty\nsmart,Z\n",
     ["sources.csv", "row 2", "column 'admiralty'", "A, B, C, D, E, F"]),
    ("signals", "signal_id,claim_id,kind,direction\ng1,handover,k,sideways\n",
     ["signals.csv", "row 2", "column 'direction'", "+1 or -1"]),
    ("signals", "signal_id,claim_id,kind,time\ng1,handover,k,19/12/2017\n",
     ["signals.csv", "row 2", "column 'time'", "ISO 8601"]),
    ("claims", "claim_id,text\nhandover,Smith, John said\n",
     ["claims.csv", "row 2", "more fields than the header"]),
    ("reports", "", ["reports.csv", "cannot parse as CSV"]),
]  # fmt: skip


@pytest.mark.parametrize(("table", "text", "parts"), BAD_INPUTS)
def test_infer_bad_input_exits_2_with_one_line_and_writes_nothing(
    capsys, khasham_tables, tmp_path, table, text, parts
):
    khasham_tables[table].write_text(text, encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run(capsys, *infer_args(khasham_tables, out_dir / "posterior.csv"))
    assert code == 2
    assert_one_line_error(err, *parts)
    assert out == ""
    assert list(out_dir.iterdir()) == []  # no output, no leftover temp file


def test_infer_bad_input_leaves_an_existing_output_untouched(capsys, khasham_tables, tmp_path):
    out_csv = tmp_path / "posterior.csv"
    out_csv.write_text("old results\n", encoding="utf-8")
    khasham_tables["reports"].write_text("claim_id,source_id,stance\nx,y,z\n", encoding="utf-8")
    code, _, err = run(capsys, *infer_args(khasham_tables, out_csv))
    assert code == 2 and err.startswith("belief: error: ")
    assert out_csv.read_text(encoding="utf-8") == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "posterior.csv"]


def test_infer_missing_input_file(capsys, tmp_path):
    code, _, err = run(
        capsys, "infer", "--reports", tmp_path / "nope.csv", "--out", tmp_path / "p.csv"
    )
    assert code == 2
    assert_one_line_error(err, "nope.csv", "file not found")
    assert list(tmp_path.iterdir()) == []


def test_infer_unwritable_output_directory(capsys, khasham_tables, tmp_path):
    code, _, err = run(capsys, *infer_args(khasham_tables, tmp_path / "no" / "such" / "p.csv"))
    assert code == 2
    assert_one_line_error(err, "does not exist")


def test_infer_requires_reports_and_out(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["infer", "--out", str(tmp_path / "p.csv")])
    assert info.value.code == 2
    assert "--reports" in capsys.readouterr().err


# ---------------------------------------------------------------------------- parser and script


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"belief {__version__}"


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: belief" in capsys.readouterr().err


def test_unknown_method_is_a_usage_error(capsys, khasham_path):
    with pytest.raises(SystemExit) as info:
        main(["run", str(khasham_path), "--method", "magic"])
    assert info.value.code == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err


def test_console_script_runs_the_seed_case(khasham_path, tmp_path):
    exe = shutil.which("belief") or str(Path(sys.executable).with_name("belief"))
    assert Path(exe).exists(), "the `belief` console script is not installed"
    done = subprocess.run(
        [exe, "run", str(khasham_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert table_p(done.stdout, "handover") < 0.2
    assert "Timeline of 'handover':" in done.stdout


def test_infer_fast_memory_and_dask_backends_agree(tmp_path, khasham_path):
    pytest.importorskip("dask.dataframe")
    tables = write_tables(read_case(khasham_path), tmp_path)
    args = [f"--{t}={p}" for t, p in tables.items()]
    outs = {}
    for backend in ("memory", "dask"):
        out = tmp_path / f"{backend}.csv"
        extra = ["--dask-scheduler", "synchronous"] if backend == "dask" else []
        assert (
            main(
                [
                    "infer",
                    *args,
                    "--method",
                    "fast",
                    "--backend",
                    backend,
                    *extra,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        outs[backend] = pd.read_csv(out)
    assert list(outs["memory"].columns) == list(POSTERIOR_COLUMNS)
    np.testing.assert_allclose(outs["memory"].p_true, outs["dask"].p_true, atol=1e-8)


def test_dask_backend_requires_fast_method(tmp_path, khasham_path, capsys):
    tables = write_tables(read_case(khasham_path), tmp_path)
    args = [f"--{t}={p}" for t, p in tables.items()]
    out = tmp_path / "post.csv"
    assert main(["infer", *args, "--backend", "dask", "--out", str(out)]) == 2
    assert "--backend dask: needs --method fast" in capsys.readouterr().err
    assert not out.exists()


def test_infer_with_the_joint_model_writes_the_contract_columns(tmp_path, khasham_path, capsys):
    pytest.importorskip("pymc")
    tables = write_tables(read_case(khasham_path), tmp_path)
    args = [f"--{t}={p}" for t, p in tables.items()]
    out, saved = tmp_path / "post.csv", tmp_path / "model.nc"
    code = main(["infer", *args, "--method", "map", "--seed", "3", "--save-model", str(saved),
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and saved.exists()
    printed = capsys.readouterr().out
    assert "copy propensity (unattributed repeats" in printed  # learned by the joint model
    post = pd.read_csv(out)
    assert list(post.columns) == list(POSTERIOR_COLUMNS)
    assert post.notna().all().all() and post.p_true.between(0, 1).all()
    assert (post.p_low <= post.p_true + 1e-12).all() and (post.p_true <= post.p_high + 1e-12).all()


def test_infer_with_nuts_says_where_the_time_went(tmp_path, khasham_path, capsys):
    pytest.importorskip("pymc")
    tables = write_tables(read_case(khasham_path), tmp_path)
    args = [f"--{t}={p}" for t, p in tables.items()]
    out = tmp_path / "post.csv"
    nuts = ["--chains", "2", "--draws", "50", "--tune", "50", "--nuts-sampler", "pymc"]
    code = main(["infer", *args, "--method", "mcmc", "--seed", "3", *nuts, "--out", str(out)])
    assert code == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("NUTS ("))
    assert line.startswith("NUTS (pymc): compiled in ") and line.endswith(" s")
    post = pd.read_csv(out)
    assert list(post.columns) == list(POSTERIOR_COLUMNS) and post.p_true.between(0, 1).all()


def test_infer_config_file_gives_the_case_file_answer(tmp_path, khasham_path):
    import yaml

    case = read_case(khasham_path)
    tables = write_tables(case, tmp_path)
    args = [f"--{t}={p}" for t, p in tables.items()]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"config": case.config}))
    for method in ("exact", "fast"):
        out = tmp_path / f"{method}.csv"
        assert main(["infer", *args, "--config", str(cfg), "--method", method,
                     "--out", str(out)]) == 0  # fmt: skip
        got = pd.read_csv(out).set_index("claim_id").p_true
        if method == "exact":
            from belief.engines.exact import infer_exact as infer

            want = infer(case).posterior.set_index("claim_id").p_true
            np.testing.assert_allclose(got, want.loc[got.index], atol=1e-12)


def test_infer_bad_config_file_names_it(tmp_path, khasham_path, capsys):
    tables = write_tables(read_case(khasham_path), tmp_path)
    args = [f"--{t}={p}" for t, p in tables.items()]
    cfg = tmp_path / "config.yaml"
    cfg.write_text("base_rate: 2\n")
    out = tmp_path / "post.csv"
    assert main(["infer", *args, "--config", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "config.yaml: config base_rate: expected a number in (0, 1)" in err
    assert not out.exists()


def test_dask_spill_writes_where_asked_and_names_a_bad_directory(tmp_path, khasham_path, capsys):
    """``--dask-spill DIR`` and ``--dask-spill memory`` give the same posterior; the spill
    directory is left empty; a directory that does not exist is named, with the valid values."""
    pytest.importorskip("dask.dataframe")
    tables = write_tables(read_case(khasham_path), tmp_path)
    args = [f"--{t}={p}" for t, p in tables.items()]
    base = ["infer", *args, "--method", "fast", "--backend", "dask"]
    where = tmp_path / "spill"
    where.mkdir()
    assert main([*base, "--dask-spill", str(where), "--out", str(tmp_path / "a.csv")]) == 0
    assert list(where.iterdir()) == []
    assert main([*base, "--dask-spill", "memory", "--out", str(tmp_path / "b.csv")]) == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert a.equals(b)
    out = tmp_path / "c.csv"
    missing = tmp_path / "nowhere"
    assert main([*base, "--dask-spill", str(missing), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--dask-spill {missing}: not a directory" in err and "'memory'" in err
    assert not out.exists()
    assert (
        main(["infer", *args, "--method", "fast", "--dask-spill", "memory", "--out", str(out)]) == 2
    )
    assert "--dask-spill: only used with --backend dask" in capsys.readouterr().err
