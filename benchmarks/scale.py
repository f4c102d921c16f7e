"""Scale benchmark: the fast engine, incremental updates and Dask against crowd-kit DawidSkene.

Run from the repository root::

    python benchmarks/scale.py                      # 10k, 100k and 1M reports
    python benchmarks/scale.py --sizes 10000 --dask # one size, with the Dask backend
    python benchmarks/scale.py --crowdkit-python /tmp/ck-venv/bin/python

Data follow the generative story of :mod:`belief.evaluation.simulate`, drawn with vectorized
numpy (the simulator builds Report objects, too slow for a million): source kinds (wire, media,
blog) with logit-normal sensitivity/specificity, claim truth with a base rate, sources of lognormal
activity reporting on uniformly drawn claims (one report per claim and source), each report a
confirm or deny from the source's sensitivity/specificity. ``claims = reports / 10`` and
``sources = reports / 200``, so the largest size is 1,000,000 reports over 100,000 claims and
5,000 sources.

Every method runs in a fresh process on the same data (written once to a temporary
directory), so "peak MB" is that process's peak resident memory (interpreter, imports and the
loaded data included; "base MB" is the resident memory just before the timed call). Seconds are
wall time of the timed call only (per-update wall times are also shown as CPU time, which a
busy machine's preemption does not inflate):

* ``fast``: :func:`belief.engines.fast.infer_fast` on coded arrays (compilation, sweeps,
  intervals and the posterior table);
* ``fast-meanfield``: the same with ``exact_states=0`` (no enumeration of small coupled
  components): the baseline that shows what the components pass costs;
* ``fast-repeats``: the same world with every tenth report repeated three more times (cells of
  several reports take the exact Beta-Binomial ratio instead of one log): the cost of the
  per-cell fix for repeated reports;
* ``fast-csv``: the same from reports.csv (:func:`belief.core.compiler.read_evidence` + engine);
* ``dask`` (``--dask``): :func:`belief.engines.dask.infer_dask` on the reports split into 4
  files, threads scheduler;
* ``crowd-kit DS``: ``DawidSkene(n_iter=100).fit_predict_proba`` (crowd-kit's defaults) on the
  (task, worker, label) table; with ``--crowdkit-python`` it runs in that interpreter (e.g. a
  separate venv), reading the same data file;
* ``incremental``: :class:`belief.engines.incremental.Belief` built on all but the last 1,000
  reports (seconds = construction), then those 1,000 added one by one (median and p99 per update).

Brier is scored on claims with at least one report, against the simulated truth. belief uses
the calibrated base rate (``Config(base_rate=...)``, what ``belief calibrate`` learns from
resolved claims) and its default reliability prior; DawidSkene learns class priors itself.
Other processes on the machine slow both sides alike; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASE_RATE = 0.3
N_UPDATES = 1000
KINDS = {"wire": (0.2, 0.9, 0.9), "media": (0.4, 0.75, 0.75), "blog": (0.4, 0.6, 0.55)}


def simulate(n_reports: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Vectorized draw of a world with ``n_reports`` reports (see the module doc)."""
    from scipy.special import expit, logit

    rng = np.random.default_rng(seed)
    n_claims, n_sources = max(n_reports // 10, 1), max(n_reports // 200, 2)
    truth = rng.random(n_claims) < BASE_RATE
    share, sens, spec = (np.array(v) for v in zip(*KINDS.values()))
    kind = rng.choice(len(share), size=n_sources, p=share)
    lo = logit(np.column_stack([sens, spec]))[kind] + 0.5 * rng.standard_normal((n_sources, 2))
    se, sp = expit(lo).T
    activity = rng.lognormal(0.0, 1.0, n_sources)
    m = int(n_reports * 1.5) + 100
    claim = rng.integers(n_claims, size=m)
    source = rng.choice(n_sources, size=m, p=activity / activity.sum())
    _, first = np.unique(claim.astype(np.int64) * n_sources + source, return_index=True)
    keep = np.sort(first)[:n_reports]  # one report per (claim, source), in draw order
    claim, source = claim[keep], source[keep]
    u = rng.random(len(claim))
    confirm = np.where(truth[claim], u < se[source], u >= sp[source])
    return {"claim": claim, "source": source, "confirm": confirm, "truth": truth}


def write_data(data: dict[str, np.ndarray], directory: Path) -> None:
    """The arrays (``data.npz``) and the same reports as CSV: one file and 4 parts."""
    import pandas as pd

    np.savez(directory / "data.npz", **data)
    frame = pd.DataFrame(
        {
            "claim_id": np.char.add("c", data["claim"].astype(str)),
            "source_id": np.char.add("s", data["source"].astype(str)),
            "stance": np.where(data["confirm"], "confirm", "deny"),
        }
    )
    frame.to_csv(directory / "reports.csv", index=False)
    for k, rows in enumerate(np.array_split(np.arange(len(frame)), 4)):
        frame.iloc[rows].to_csv(directory / f"part-{k}.csv", index=False)


def _rss_mb(field: str = "VmRSS") -> float:
    """Resident (``VmRSS``) or peak resident (``VmHWM``) memory of this process, in MB.

    ``VmHWM`` belongs to this process image: unlike ``ru_maxrss`` it does not carry over the
    parent's memory through fork and exec.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) / 1024 for x in f if x.startswith(field))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _brier(p: np.ndarray, data: dict[str, np.ndarray]) -> float:
    has = np.bincount(data["claim"], minlength=len(data["truth"])) > 0
    return float(np.mean((p[has] - data["truth"][has]) ** 2))


def _arrays(data: dict[str, np.ndarray]):
    from belief.data.arrays import NO_TIME, ReportArrays

    n, n_claims = len(data["claim"]), len(data["truth"])
    n_sources = int(data["source"].max()) + 1
    return ReportArrays(
        [f"c{i}" for i in range(n_claims)],
        [f"s{i}" for i in range(n_sources)],
        data["claim"].astype(np.int64),
        data["source"].astype(np.int64),
        np.where(data["confirm"], 1, -1).astype(np.int8),
        np.full(n, -1, dtype=np.int64),
        np.full(n, NO_TIME, dtype=np.int64),
    )


def _child_belief(method: str, directory: Path, data: dict[str, np.ndarray]) -> dict:
    from belief.engines.fast import infer_fast
    from belief.priors.config import Config

    config = Config(base_rate=BASE_RATE)
    out: dict = {}
    if method in ("fast", "fast-meanfield"):
        arrays = _arrays(data)
        out["base_mb"] = _rss_mb()
        t0 = time.perf_counter()
        result = infer_fast(arrays, config, exact_states=0 if method == "fast-meanfield" else 4096)
    elif method == "fast-repeats":
        idx = np.arange(len(data["claim"]))
        idx = np.sort(np.r_[idx, np.repeat(idx[::10], 3)])
        data = {**data, **{k: data[k][idx] for k in ("claim", "source", "confirm")}}
        arrays = _arrays(data)
        out["base_mb"] = _rss_mb()
        t0 = time.perf_counter()
        result = infer_fast(arrays, config)
    elif method == "fast-csv":
        from belief.core.compiler import read_evidence

        out["base_mb"] = _rss_mb()
        t0 = time.perf_counter()
        result = infer_fast(read_evidence(directory / "reports.csv", config=config), config)
    elif method == "dask":
        from belief.engines.dask import infer_dask

        out["base_mb"] = _rss_mb()
        t0 = time.perf_counter()
        parts = sorted(str(p) for p in directory.glob("part-*.csv"))
        result = infer_dask(parts, config=config, scheduler="threads")
    else:
        return _child_incremental(data, config)
    out["seconds"] = time.perf_counter() - t0
    post = result.posterior.set_index("claim_id").p_true
    p = post.reindex([f"c{i}" for i in range(len(data["truth"]))]).fillna(BASE_RATE)
    out.update(brier=_brier(p.to_numpy(), data), sweeps=result.n_iter)
    return out


def _child_incremental(data: dict[str, np.ndarray], config) -> dict:
    from dataclasses import replace

    from belief.data.types import Report
    from belief.engines.incremental import Belief

    arrays = _arrays(data)
    k = max(len(arrays) - N_UPDATES, 1)
    head = replace(arrays, **{f: getattr(arrays, f)[:k] for f in
                              ("claim", "source", "stance", "derived", "time")})  # fmt: skip
    stances = np.where(data["confirm"][k:], "confirm", "deny")
    reports = [Report(f"c{c}", f"s{s}", str(st))
               for c, s, st in zip(data["claim"][k:], data["source"][k:], stances)]  # fmt: skip
    base = _rss_mb()
    t0 = time.perf_counter()
    belief = Belief.from_arrays(head, config)
    seconds = time.perf_counter() - t0
    wall, cpu = [], []
    for r in reports:
        t, c = time.perf_counter_ns(), time.process_time_ns()
        belief.update(r)
        wall.append(time.perf_counter_ns() - t)
        cpu.append(time.process_time_ns() - c)
    us, cpu_us = np.asarray(wall) / 1e3, np.asarray(cpu) / 1e3
    return {"seconds": seconds, "base_mb": base, "update_median_us": float(np.median(us)),
            "update_p99_us": float(np.percentile(us, 99)),
            "update_p99_cpu_us": float(np.percentile(cpu_us, 99))}  # fmt: skip


def _child_crowdkit(data: dict[str, np.ndarray]) -> dict:
    import pandas as pd

    try:
        from crowdkit.aggregation import DawidSkene
    except ImportError as e:
        return {"error": f"crowd-kit not importable: {e}"}
    df = pd.DataFrame(
        {"task": data["claim"], "worker": data["source"], "label": data["confirm"].astype(int)}
    )
    base = _rss_mb()
    t0 = time.perf_counter()
    proba = DawidSkene(n_iter=100).fit_predict_proba(df)
    seconds = time.perf_counter() - t0
    p = proba[1].reindex(np.arange(len(data["truth"]))).fillna(BASE_RATE).to_numpy()
    return {"seconds": seconds, "base_mb": base, "brier": _brier(p, data)}


def child(method: str, directory: Path) -> None:
    """Run one method in this (fresh) process and print its measurements as JSON."""
    with np.load(directory / "data.npz") as f:
        data = {k: f[k] for k in f.files}
    out = _child_crowdkit(data) if method == "crowd-kit DS" else _child_belief(
        method, directory, data)  # fmt: skip
    out["peak_mb"] = _rss_mb("VmHWM")
    print(json.dumps(out))


def run_child(python: str, method: str, directory: Path) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--child", method, str(directory)]
    root = str(Path(__file__).resolve().parent.parent)  # this checkout, not an installed copy
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(lines[-1])


def _fmt(x: object, spec: str) -> str:
    return "" if x is None or x != x else format(x, spec)  # x != x: NaN


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dask", action="store_true", help="also time the Dask backend")
    parser.add_argument("--no-crowdkit", action="store_true")
    parser.add_argument("--crowdkit-python", default=sys.executable)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    methods = ["fast", "fast-meanfield", "fast-repeats", "fast-csv",
               *(["dask"] if args.dask else []), "incremental"]  # fmt: skip
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}\n")
    head = "| reports | claims | sources | method | seconds | peak MB | base MB | Brier | sweeps "
    print(head + "| × faster than crowd-kit | update median µs | update p99 µs | p99 CPU µs |")
    print("|" + "---|" * 13)
    for n in args.sizes:
        data = simulate(n, args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            write_data(data, Path(tmp))
            rows = {m: run_child(sys.executable, m, Path(tmp)) for m in methods}
            if not args.no_crowdkit:
                rows["crowd-kit DS"] = run_child(args.crowdkit_python, "crowd-kit DS", Path(tmp))
        ck = rows.get("crowd-kit DS", {}).get("seconds")
        for method, r in rows.items():
            size = (f"{len(data['claim']):,}", f"{len(data['truth']):,}",
                    f"{int(data['source'].max()) + 1:,}")  # fmt: skip
            if "error" in r:
                print(f"| {' | '.join(size)} | {method} | error: {r['error']} |" + " |" * 9)
                continue
            speed = (
                ck / r["seconds"] if ck and method not in ("crowd-kit DS", "incremental") else None
            )
            cells = [_fmt(r.get("seconds"), ".2f"), _fmt(r.get("peak_mb"), ".0f"),
                     _fmt(r.get("base_mb"), ".0f"), _fmt(r.get("brier"), ".4f"),
                     _fmt(r.get("sweeps"), "d"), _fmt(speed, ".1f"),
                     _fmt(r.get("update_median_us"), ".0f"), _fmt(r.get("update_p99_us"), ".0f"),
                     _fmt(r.get("update_p99_cpu_us"), ".0f")]  # fmt: skip
            print(f"| {' | '.join(size)} | {method} | {' | '.join(cells)} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
