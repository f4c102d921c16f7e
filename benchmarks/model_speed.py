"""Speed of the joint model's NUTS fit (``method="mcmc"``): PyMC's sampler and nutpie side by
side, compilation and sampling apart. A table, not a timed test.

Cases
-----
``seed``
    ``seeds/khasham.yaml`` (6 claims, 13 sources, 20 reports). Target: under 10 s.
``large``
    A world from :func:`belief.evaluation.simulate.simulate_case` with 2,000 claims, 60 sources
    and about 10,000 reports (copies, signals, sides and groups of two competing claims).
    Target: under 30 s including compilation, no divergences.

Both NUTS with 4 chains x 1,000 draws after 1,000 tuning steps, on ``min(chains, 2)`` cores.

Rows
----
One row per case and back-end (``pymc``, ``nutpie`` and ``auto``, the default), each fitted in
a fresh Python process, so the first fit pays every compilation, as ``belief infer`` does:

``total s``
    Wall time of ``ClaimBeliefModel.fit`` (encoding, building, compiling, sampling, computing
    the deterministics, diagnostics).
``compile s``, ``sampling s``
    What the fit recorded (``idata_.attrs``): compilation done by this fit (nutpie's numba
    model or PyMC's NUTS step, and the deterministics function) and the sampler's wall time,
    tuning included. The rest of ``total`` is encoding, deterministics and diagnostics.
``copy``
    ``model_config["copy_propensity"]``: ``learn`` (the default: copy propensities learned
    wherever a report may repeat an earlier one) or ``fixed`` (``--copy learn,fixed`` times
    both).
``refit s``
    A second fit of a same-shape case (every stance flipped, claims renamed) in the same
    process: the model cache (:mod:`belief.model.cache`) skips the compilation.
``divergences``, ``max R-hat``, ``min ESS``
    Over the checked parameters (free variables and P(true)).

``--cli`` adds the end-to-end time of ``belief infer --method mcmc`` (CSV tables in, CSV out,
default back-end) per case. Closed-form engines are timed on the same data as the baseline.
PyTensor keeps compiled C code on disk, and nutpie's compiled numba model is cached on disk too
(:mod:`belief.model.numba_cache`, per model shape), so the first run of a case on a machine is
slower than the next ones (``compile s`` 15-25 s against about 2 s for nutpie). ``--cold`` gives
every process an empty PyTensor cache directory (a first run on a fresh machine).

Usage::

    python benchmarks/model_speed.py              # both cases, both back-ends
    python benchmarks/model_speed.py --cli        # and the command line end to end
    python benchmarks/model_speed.py --quick      # 2 chains x 200 draws
    python benchmarks/model_speed.py --samplers auto --copy learn,fixed  # copy learning's cost
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's belief, here and (PYTHONPATH) in the workers
SEED_CASE = ROOT / "seeds" / "khasham.yaml"
TARGETS = {"seed": 10.0, "large": 30.0}  # seconds, including compilation
COLD: list[bool] = []  # --cold: every child process gets an empty PyTensor cache directory


def child_env() -> dict[str, str]:
    """The environment of a worker or ``belief infer`` process: this checkout's belief first
    on the path and, with ``--cold``, a fresh PyTensor cache directory (C and numba code)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = os.environ | {"PYTHONPATH": path}
    if COLD:
        fresh = tempfile.mkdtemp(prefix="belief-cold-")
        atexit.register(shutil.rmtree, fresh, ignore_errors=True)
        flags = [env.get("PYTENSOR_FLAGS", ""), f"base_compiledir={fresh}"]
        env["PYTENSOR_FLAGS"] = ",".join(f for f in flags if f)
    return env


def large_case(random_seed: int = 0):
    """2,000 claims, 60 sources (2 copiers among them), about 10,000 reports."""
    from belief.evaluation.simulate import simulate_case

    return simulate_case(
        2000,
        58,
        density=0.078,
        p_neutral=0.1,
        n_copiers=2,
        p_copy=0.1,
        p_signal=0.3,
        group_size=2,
        random_seed=random_seed,
    )


def load(label: str):
    from belief.data.io import read_case

    return read_case(SEED_CASE) if label == "seed" else large_case()


def flipped(case):
    """Same shape, other data: every stance flipped, every claim renamed."""
    flip = {"confirm": "deny", "deny": "confirm", "neutral": "neutral"}
    new = {c.claim_id: "x_" + c.claim_id for c in case.claims}
    return case.replace(
        claims=tuple(dataclasses.replace(c, claim_id=new[c.claim_id]) for c in case.claims),
        reports=tuple(
            dataclasses.replace(r, claim_id=new[r.claim_id], stance=flip[r.stance])
            for r in case.reports
        ),
        signals=tuple(dataclasses.replace(s, claim_id=new[s.claim_id]) for s in case.signals),
    )


def worker(label: str, sampler: str, size: dict) -> dict:
    """Fit ``label`` with ``sampler`` (in this fresh process), then refit a same-shape case.
    ``size["copy"]`` is the model_config ``copy_propensity`` ("learn" or "fixed")."""
    from belief.exceptions import ConvergenceWarning
    from belief.model import ClaimBeliefModel

    case = load(label)
    size = dict(size)
    copy = size.pop("copy", "learn")
    config = {"random_seed": 1, "nuts_sampler": sampler} | size

    def fit(c):
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = ClaimBeliefModel({"copy_propensity": copy}, config).fit(c)
        seconds = time.perf_counter() - start
        failed = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
        return model, seconds, failed

    model, total, failed = fit(case)
    _, refit, _ = fit(flipped(case))
    diag, attrs = model.diagnostics_, model.idata_.attrs
    return {
        "case": label,
        "sampler": sampler,
        "copy": copy,
        "used": attrs["nuts_sampler"],
        "draws": f"{model.idata_.posterior.sizes['chain']}x{model.idata_.posterior.sizes['draw']}",
        "total s": round(total, 1),
        "compile s": round(attrs["compile_seconds"], 1),
        "sampling s": round(attrs["sampling_seconds"], 1),
        "refit s": round(refit, 1),
        "divergences": int(diag.attrs["divergences"]),
        "max R-hat": round(float(np.nanmax(diag["rhat"])), 3),
        "min ESS": int(np.nanmin(diag[["ess_bulk", "ess_tail"]].to_numpy())),
        "warnings": len(failed),
    }


def run_worker(label: str, sampler: str, size: dict) -> dict:
    """:func:`worker` in a fresh Python process (cold in-process caches)."""
    cmd = [sys.executable, __file__, "--worker", label, sampler, json.dumps(size)]
    # this checkout's belief: a script's own folder, not the cwd, starts sys.path, so without
    # PYTHONPATH the worker would import whichever belief the environment installed
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=child_env())
    if done.returncode:
        raise RuntimeError(f"{label}/{sampler} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cli(label: str, size: dict) -> dict:
    """``belief infer --method mcmc`` end to end on the case's CSV tables (default back-end)."""
    from belief.data.io import write_tables

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_tables(load(label), tmp)
        # the checkout's belief (cwd first on sys.path with -c), not whichever the console
        # script of the environment points at
        cli = [sys.executable, "-c", "import sys; from belief.cli import main; sys.exit(main())"]
        cmd = [*cli, "infer", "--method", "mcmc", "--seed", "1", "--out", f"{tmp}/post.csv"]
        cmd += [f"--{t}={p}" for t, p in paths.items()]
        cmd += ["--chains", str(size["chains"]), "--draws", str(size["draws"])]
        cmd += ["--tune", str(size["tune"])]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=child_env())
        seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"belief infer failed:\n{done.stderr[-3000:]}")
    row = {"case": label, "sampler": "belief infer (auto)", "total s": round(seconds, 1)}
    # what the command prints: "NUTS (pymc): compiled in 3.1 s, sampled in 5.4 s"
    for line in done.stdout.splitlines():
        if line.startswith("NUTS ("):
            row["used"] = line[len("NUTS (") : line.index(")")]
            row["compile s"] = float(line.split("compiled in ")[1].split(" s")[0])
            row["sampling s"] = float(line.split("sampled in ")[1].split(" s")[0])
    return row


def baseline(label: str) -> dict:
    """The closed-form engine on the same case (exact on the seed case, fast on the large)."""
    import belief

    case = load(label)
    method = "exact" if label == "seed" else "fast"
    start = time.perf_counter()
    belief.infer(case, method)
    return {"case": label, "sampler": f"{method} engine (baseline)",
            "total s": round(time.perf_counter() - start, 2)}  # fmt: skip


def with_targets(table: pd.DataFrame) -> pd.DataFrame:
    """Whether each NUTS row met its target: total time, and no divergences."""
    met = []
    for _, row in table.iterrows():
        if "baseline" in row["sampler"]:
            met.append("-")
            continue
        ok = row["total s"] < TARGETS[row["case"]]
        ok = ok and not (row.get("divergences", 0) or 0) > 0
        met.append("yes" if ok else "NO")
    table["target s"] = [TARGETS[c] for c in table["case"]]
    table["met"] = met
    return table


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run the benchmark and print the table (Markdown with ``--markdown``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 chains x 200 draws")
    parser.add_argument("--cli", action="store_true", help="also time belief infer end to end")
    parser.add_argument("--cases", default="seed,large")
    parser.add_argument("--samplers", default="pymc,nutpie,auto")
    parser.add_argument(
        "--copy", default="learn", help="copy_propensity modes to time: learn, fixed or both"
    )
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--cold", action="store_true", help="an empty PyTensor cache (C and numba) per process"
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold:
        COLD.append(True)
    if args.worker:
        label, sampler, size = args.worker
        print(json.dumps(worker(label, sampler, json.loads(size))))
        return pd.DataFrame()
    size = {"chains": 2, "draws": 200, "tune": 200} if args.quick else {}
    size = {"chains": 4, "draws": 1000, "tune": 1000} | size
    rows = []
    for label in args.cases.split(","):
        rows.append(baseline(label))
        for sampler in args.samplers.split(","):
            for copy in args.copy.split(","):
                rows.append(run_worker(label, sampler, size | {"copy": copy}))
                print(rows[-1], flush=True)
        if args.cli:
            rows.append(run_cli(label, size))
            print(rows[-1], flush=True)
    table = with_targets(pd.DataFrame(rows))
    print(table.to_markdown(index=False) if args.markdown else table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
