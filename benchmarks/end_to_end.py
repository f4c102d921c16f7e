"""End-to-end benchmark: ``belief infer --method fast`` as a user runs it, against crowd-kit.

Run from the repository root::

    python benchmarks/end_to_end.py                 # 1M reports: CSV->CSV, Parquet->Parquet, DS
    python benchmarks/end_to_end.py --10m           # 10M reports
    python benchmarks/end_to_end.py --phases        # also read / engine / write, in one process
    python benchmarks/end_to_end.py --before DIR    # also belief from an earlier tree, same run
    python benchmarks/end_to_end.py --dask-check    # 10M: in-memory vs Dask partitions (1e-8)
    python benchmarks/end_to_end.py --dask-100m     # 100M reports from Parquet partitions

The world: ``reports / 10`` claims, each true with probability 0.35 (belief is given no base
rate, no priors, no settings at all); ``reports / 200`` sources of three kinds (wire, media,
blog) with logit-normal sensitivity and specificity and lognormal activity; each report is a
confirm or deny of a uniformly drawn claim by an activity-weighted source, drawn from the
source's sensitivity (claim true) or specificity (claim false). Reports are generated one
partition at a time (a (claim, source) pair is reported at most once within a partition), so the
100M world is written without ever being in memory.

Every method runs as a separate command in a fresh process, on the same files, in the same run:

* ``belief CSV->CSV``: ``belief infer --method fast --reports reports.csv --out post.csv``;
* ``belief Parquet->Parquet``: the same with ``reports.parquet`` and ``--out post.parquet``;
* ``crowd-kit DS``: a script that reads the same ``reports.csv`` with pandas, runs
  ``DawidSkene(n_iter=100).fit_predict_proba`` (crowd-kit's defaults) and writes the
  probabilities with ``DataFrame.to_csv``.

Seconds are wall time of the whole command (interpreter start, imports, reading, inference,
writing). Peak MB is the peak resident memory of the command's process tree, sampled every 20 ms
with psutil (the sum over the process and its children), and at least the ``ru_maxrss`` the
kernel reports for the process. Brier is scored on claims with at least one report against the
simulated truth, from the files the commands wrote. The machine's load average is printed:
other processes on a shared machine slow every method, so times are upper bounds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BASE_RATE = 0.35
KINDS = {"wire": (0.2, 0.9, 0.9), "media": (0.4, 0.75, 0.75), "blog": (0.4, 0.6, 0.55)}
ROOT = Path(__file__).resolve().parent.parent

DS_SCRIPT = """
import sys
import pandas as pd
from crowdkit.aggregation import DawidSkene

df = pd.read_csv(sys.argv[1])
data = pd.DataFrame({"task": df["claim_id"], "worker": df["source_id"],
                     "label": (df["stance"] == "confirm").astype(int)})
proba = DawidSkene(n_iter=100).fit_predict_proba(data)
proba[1].rename("p_true").rename_axis("claim_id").reset_index().to_csv(sys.argv[2], index=False)
"""


# ---------------------------------------------------------------------------- the world


class World:
    """Claims' truth, sources' reliability and activity (small: drawn up front)."""

    def __init__(self, n_reports: int, n_claims: int, n_sources: int, seed: int) -> None:
        from scipy.special import expit, logit

        rng = np.random.default_rng(seed)
        self.n_reports, self.seed = n_reports, seed
        self.truth = rng.random(n_claims) < BASE_RATE
        share, sens, spec = (np.array(v) for v in zip(*KINDS.values()))
        kind = rng.choice(len(share), size=n_sources, p=share)
        lo = logit(np.column_stack([sens, spec]))[kind] + 0.5 * rng.standard_normal((n_sources, 2))
        self.se, self.sp = expit(lo).T
        activity = rng.lognormal(0.0, 1.0, n_sources)
        self.cum = np.cumsum(activity / activity.sum())

    def partitions(self, parts: int) -> Iterator[dict[str, np.ndarray]]:
        """The reports, ``parts`` partitions of about equal size, one at a time."""
        n_claims, n_sources = len(self.truth), len(self.se)
        sizes = np.diff(np.linspace(0, self.n_reports, parts + 1).astype(np.int64))
        for k, m in enumerate(sizes):
            rng = np.random.default_rng([self.seed, k])
            draw = int(m * 1.05) + 100
            claim = rng.integers(n_claims, size=draw)
            source = np.minimum(np.searchsorted(self.cum, rng.random(draw)), n_sources - 1)
            _, first = np.unique(claim * n_sources + source, return_index=True)
            keep = np.sort(first)[:m]  # one report per (claim, source) in a partition
            claim, source = claim[keep], source[keep]
            u = rng.random(len(claim))
            confirm = np.where(self.truth[claim], u < self.se[source], u >= self.sp[source])
            yield {"claim": claim, "source": source, "confirm": confirm}


def _table(rep: dict[str, np.ndarray]):
    import pyarrow as pa
    import pyarrow.compute as pc

    def ids(prefix: str, codes: np.ndarray):
        return pc.binary_join_element_wise(prefix, pa.array(codes).cast(pa.string()), "")

    stance = pa.DictionaryArray.from_arrays(
        pa.array(rep["confirm"].astype(np.int8)), pa.array(["deny", "confirm"])
    ).cast(pa.string())
    return pa.table(
        {"claim_id": ids("c", rep["claim"]), "source_id": ids("s", rep["source"]), "stance": stance}
    )


def write_world(world: World, directory: Path, parts: int, single: bool) -> dict[str, Path]:
    """Reports as one CSV and one Parquet file (``single``) and/or Parquet partitions."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out: dict[str, Path] = {}
    pq_writer = None
    if single:
        out["csv"], out["parquet"] = directory / "reports.csv", directory / "reports.parquet"
        csv_file = open(out["csv"], "wb")
        csv_file.write(b"claim_id,source_id,stance\n")
    if parts > 1:
        out["parts"] = directory / "parts"
        out["parts"].mkdir()
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    for k, rep in enumerate(world.partitions(parts)):
        table = _table(rep)
        if single:
            pcsv.write_csv(table, csv_file, options)
            if pq_writer is None:
                pq_writer = pq.ParquetWriter(out["parquet"], table.schema)
            pq_writer.write_table(table)
        if parts > 1:
            pq.write_table(table, out["parts"] / f"part-{k:04d}.parquet")
    if single:
        csv_file.close()
        assert pq_writer is not None
        pq_writer.close()
    return out


# ------------------------------------------------------------------------- measuring


TIME = "/usr/bin/time"


def measure(cmd: list[str], max_mb: float | None = None, root: Path = ROOT) -> dict:
    """Run ``cmd``; wall seconds and peak resident MB of its process tree.

    The tree is sampled every 20 ms with psutil (the sum over all its processes: Dask workers
    included); GNU time's ``%M`` (the kernel's ``ru_maxrss`` of the command's process) is the
    floor, and the figure when psutil is missing.
    """
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    )
    if os.path.exists(TIME):
        cmd = [TIME, "-f", "MAXRSS_KB %M", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(  # in root: ``python -c`` imports from the working directory first
        cmd, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = [0.0]
    stopped: list[float] = []
    done = threading.Event()

    def sample() -> None:
        try:
            import psutil
        except ImportError:
            return
        try:
            root = psutil.Process(proc.pid)
            while not done.is_set():
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total / 2**20)
                if max_mb and peak[0] > max_mb:  # stop before the machine runs out of memory
                    stopped.append(time.perf_counter() - t0)
                    for p in [*root.children(recursive=True), root]:
                        with contextlib.suppress(psutil.Error):
                            p.kill()
                    return
                done.wait(0.02)
        except psutil.Error:
            return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    lines = err.decode(errors="replace").strip().splitlines()
    maxrss = [int(x.split()[1]) / 1024 for x in lines if x.startswith("MAXRSS_KB ")]
    lines = [x for x in lines if not x.startswith("MAXRSS_KB ")]
    result = {"seconds": seconds, "peak_mb": max([peak[0], *maxrss]),
              "maxrss_mb": maxrss[0] if maxrss else None, "code": proc.returncode}  # fmt: skip
    if stopped:
        result["error"] = f"stopped at {peak[0]:.0f} MB (over --max-mb) after {stopped[0]:.0f} s"
    elif proc.returncode != 0:
        result["error"] = (lines or ["failed"])[-1]
    return result


def belief_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from belief.cli import main; sys.exit(main())",
            "infer", *args]  # fmt: skip


def brier(path: Path, truth: np.ndarray, has: np.ndarray) -> float:
    import pandas as pd

    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    p = np.full(len(truth), np.nan)
    p[df["claim_id"].astype(str).str[1:].astype(np.int64).to_numpy()] = df["p_true"].to_numpy()
    return float(np.mean((p[has] - truth[has]) ** 2))


def _fmt(x: object, spec: str) -> str:
    return "" if x is None or x != x else format(x, spec)  # x != x: NaN


def _median(runs: list[dict]) -> dict:
    """The run of median time (the first error, if any), with the range of times."""
    bad = [r for r in runs if "error" in r]
    if bad:
        return bad[0]
    runs = sorted(runs, key=lambda r: r["seconds"])
    r = dict(runs[(len(runs) - 1) // 2])
    if len(runs) > 1:
        r["range"] = f" ({runs[0]['seconds']:.2f}–{runs[-1]['seconds']:.2f})"
        r["peak_mb"] = max(x["peak_mb"] for x in runs)
    return r


def _row(label: str, size: str, r: dict, ds: float | None) -> str:
    if "error" in r:
        return f"| {size} | {label} | error: {r['error']} | | | |"
    peak = max(r.get("peak_mb") or 0.0, 0.0)
    speed = ds / r["seconds"] if ds and not label.startswith("crowd-kit") else None
    cells = [_fmt(r["seconds"], ".2f") + r.get("range", ""), _fmt(peak, ".0f"),
             _fmt(r.get("brier"), ".4f"), _fmt(speed, ".1f")]  # fmt: skip
    return f"| {size} | {label} | {' | '.join(cells)} |"


# ------------------------------------------------------------------------------ modes


def run_io(n: int, seed: int) -> None:
    """Only reading and writing (no engine): the phases table at a size the engine makes slow."""
    world = World(n, max(n // 10, 1), max(n // 200, 2), seed)
    with tempfile.TemporaryDirectory() as tmp:
        files = write_world(world, Path(tmp), parts=max(n // 1_000_000, 1), single=True)
        print(f"{n:,} reports ({len(world.truth):,} claims), reading and writing only\n")
        run_phases(files, engine=False)


def run_compare(
    n: int, seed: int, crowdkit: bool, phases: bool, before: Path | None = None, repeat: int = 1
) -> None:
    world = World(n, max(n // 10, 1), max(n // 200, 2), seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        files = write_world(world, d, parts=max(n // 1_000_000, 1), single=True)
        print(f"generated and wrote {n:,} reports in {time.perf_counter() - t0:.1f} s "
              f"(CSV {files['csv'].stat().st_size / 2**20:.0f} MB, Parquet "
              f"{files['parquet'].stat().st_size / 2**20:.0f} MB)\n", flush=True)  # fmt: skip
        has = _has(files["parquet"], len(world.truth))
        runs = {
            "belief CSV->CSV": (belief_cmd("--method", "fast", "--reports", str(files["csv"]),
                                           "--out", str(d / "post.csv")), d / "post.csv"),
            "belief Parquet->Parquet": (belief_cmd(
                "--method", "fast", "--reports", str(files["parquet"]),
                "--out", str(d / "post.parquet")), d / "post.parquet"),
        }  # fmt: skip
        roots = dict.fromkeys(runs, ROOT)
        if before is not None:  # the same commands on an earlier tree (git archive of a commit)
            for label, (cmd, out) in list(runs.items()):
                old = out.with_name(f"before-{out.name}")
                runs[f"{label} (before)"] = ([*cmd[:-1], str(old)], old)
                roots[f"{label} (before)"] = before
        if crowdkit:
            ds_cmd = [sys.executable, "-c", DS_SCRIPT, str(files["csv"]), str(d / "ds.csv")]
            runs["crowd-kit DS (same CSV)"] = (ds_cmd, d / "ds.csv")
        every: dict[str, list[dict]] = {label: [] for label in runs}
        for _ in range(repeat):  # rounds of every command in turn: load spikes hit all alike
            for label, (cmd, out) in runs.items():
                r = measure(cmd, root=roots.get(label, ROOT))
                if "error" not in r:
                    r["brier"] = brier(out, world.truth, has)
                every[label].append(r)
                print(f"  {label}: {r}", file=sys.stderr, flush=True)
        results = {label: _median(rs) for label, rs in every.items()}
        size = f"{n:,} ({len(world.truth):,} / {len(world.se):,})"
        ds = results.get("crowd-kit DS (same CSV)", {}).get("seconds")
        print(
            "| reports (claims / sources) | method | seconds | peak MB | Brier | × faster than DS |"
        )
        print("|---|---|---|---|---|---|")
        for label, r in results.items():
            print(_row(label, size, r, ds))
        if phases:
            print()
            run_phases(files)


def _has(parquet: Path, n_claims: int) -> np.ndarray:
    import pyarrow.parquet as pq

    claim = pq.read_table(parquet, columns=["claim_id"]).column(0).to_pandas()
    idx = claim.str[1:].astype(np.int64).to_numpy()
    return np.bincount(idx, minlength=n_claims) > 0


PHASES = """
import sys, time, json
import numpy as np
t0 = time.perf_counter()
from belief.core.compiler import compile_arrays
from belief.data import _arrow
from belief.data._output import escape_formulas
from belief.data.io import write_table
from belief.data.streaming import read_reports
from belief.engines.fast import infer_fast
from belief.engines.result import posterior_frame
from belief.priors.config import Config
src, out, engine = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
t = {"imports": time.perf_counter() - t0}
t0 = time.perf_counter()
arrays = read_reports(src)
t["read + code"] = time.perf_counter() - t0
if engine:
    t0 = time.perf_counter()
    ev = compile_arrays(arrays, Config())
    t["compile"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    post = infer_fast(ev, Config()).posterior
    t["engine"] = time.perf_counter() - t0
else:  # a posterior table of the right size, for the writers
    n = len(arrays.claim_ids)
    p = np.random.default_rng(0).random(n)
    post = posterior_frame(arrays.claim_ids, np.log(p / (1 - p)), (p / 2, (1 + p) / 2),
                           np.ones(n, np.int64), np.ones(n, np.int64))
t0 = time.perf_counter()
write_table(post, out)
t["write"] = time.perf_counter() - t0
del arrays
real = _arrow.report_arrays
_arrow.report_arrays = lambda table, claim_ids=None: None  # the validating pandas reader only
t0 = time.perf_counter()
read_reports(src)
t["read (pandas reader)"] = time.perf_counter() - t0
if out.endswith(".csv"):
    t0 = time.perf_counter()
    escape_formulas(post).to_csv(out, index=False)
    t["write (pandas to_csv)"] = time.perf_counter() - t0
print(json.dumps(t))
"""
_PHASE_COLUMNS = ("imports", "read + code", "compile", "engine", "write", "read (pandas reader)",
                  "write (pandas to_csv)")  # fmt: skip


def run_phases(files: dict[str, Path], engine: bool = True) -> None:
    """Where the time of one command goes (one process per format, the phases timed inside),
    with the pandas reader and writer of before issue 14 timed on the same file as baselines."""
    import json

    print(f"| input -> output | {' | '.join(_PHASE_COLUMNS)} |")
    print("|---|" + "---|" * len(_PHASE_COLUMNS))
    for kind in ("csv", "parquet"):
        src = files[kind]
        out = src.with_name(f"phases.{kind}")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, "-c", PHASES, str(src), str(out), "1" if engine else "0"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"| {kind} | error: {done.stderr.strip().splitlines()[-1]} |")
            continue
        t = json.loads(done.stdout.strip().splitlines()[-1])
        cells = " | ".join(_fmt(t.get(k), ".2f") for k in _PHASE_COLUMNS)
        print(f"| {kind} -> {kind} | {cells} |", flush=True)


def run_dask_check(n: int, seed: int, parts: int) -> None:
    """In-memory (one Parquet file) against Dask (the same reports in partitions): max gap."""
    import pandas as pd

    world = World(n, max(n // 10, 1), max(n // 200, 2), seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = write_world(world, d, parts=parts, single=True)
        mem = measure(belief_cmd("--method", "fast", "--reports", str(files["parquet"]),
                                 "--out", str(d / "memory.parquet")))  # fmt: skip
        dask_args = ["--backend", "dask", "--reports", str(files["parts"])]
        dsk = measure(belief_cmd("--method", "fast", *dask_args, "--out", str(d / "dask.parquet")))
        print("| reports | run | seconds | peak MB |")
        print("|---|---|---|---|")
        for label, r in (("in memory, one Parquet file", mem), (f"Dask, {parts} partitions", dsk)):
            extra = r.get("error", "")
            print(f"| {n:,} | {label} | {_fmt(r['seconds'], '.1f')} | {_fmt(r['peak_mb'], '.0f')} "
                  f"{extra} |")  # fmt: skip
        if "error" in mem or "error" in dsk:
            return
        a, b = pd.read_parquet(d / "memory.parquet"), pd.read_parquet(d / "dask.parquet")
        same = a.claim_id.tolist() == b.claim_id.tolist()
        gap = max(float(np.abs(a[c] - b[c]).max()) for c in ("p_true", "p_low", "p_high"))
        counts = all(a[c].tolist() == b[c].tolist() for c in ("n_reports", "n_independent"))
        print(
            f"\nsame claims in the same order: {same}; same counts: {counts}; "
            f"max |difference| of p_true/p_low/p_high: {gap:.3g} (target 1e-8)"
        )


def run_dask_100m(
    n: int, seed: int, parts: int, workdir: Path | None, scheduler: str, max_mb: float
) -> None:
    """``n`` reports (n/10 claims, n/200 sources) as Parquet partitions, through Dask."""
    world = World(n, n // 10, n // 200, seed)
    tmp = tempfile.TemporaryDirectory(dir=workdir)
    d = Path(tmp.name)
    t0 = time.perf_counter()
    files = write_world(world, d, parts=parts, single=False)
    size = sum(f.stat().st_size for f in files["parts"].iterdir()) / 2**20
    print(f"generated and wrote {n:,} reports as {parts} Parquet partitions ({size:.0f} MB) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    args = ["--method", "fast", "--backend", "dask", "--reports", str(files["parts"]),
            "--out", str(d / "post.parquet")]  # fmt: skip
    if scheduler:
        args += ["--dask-scheduler", scheduler]
    r = measure(belief_cmd(*args), max_mb)
    if "error" not in r:
        has = np.zeros(len(world.truth), bool)
        for rep in world.partitions(parts):
            has[rep["claim"]] = True
        r["brier"] = brier(d / "post.parquet", world.truth, has)
    print("| reports (claims / sources) | method | seconds | peak MB | Brier |")
    print("|---|---|---|---|---|")
    label = f"belief Dask, {parts} Parquet partitions ({scheduler or 'default'} scheduler)"
    cells = f"error: {r.get('error')} | |"
    if "error" not in r:
        cells = " | ".join(
            [_fmt(r["seconds"], ".0f"), _fmt(r["peak_mb"], ".0f"), _fmt(r["brier"], ".4f")]
        )
    print(f"| {n:,} ({n // 10:,} / {n // 200:,}) | {label} | {cells} |", flush=True)
    tmp.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reports",
        type=int,
        help="number of reports (default 1M; 10M for --dask-check, 100M for --dask-100m)",
    )
    parser.add_argument("--10m", dest="ten", action="store_true", help="10,000,000 reports")
    parser.add_argument("--no-crowdkit", action="store_true")
    parser.add_argument("--phases", action="store_true", help="also time the phases of one run")
    parser.add_argument(
        "--dask-check", action="store_true", help="in-memory vs Dask (10M unless --reports)"
    )
    parser.add_argument("--dask-100m", action="store_true", help="100M reports through Dask")
    parser.add_argument("--io-only", action="store_true", help="only the phases, no engine")
    parser.add_argument("--parts", type=int, default=100, help="partitions for the Dask modes")
    parser.add_argument("--scheduler", default="", help="--dask-scheduler for --dask-100m")
    parser.add_argument("--workdir", type=Path, help="where to write the 100M partitions")
    parser.add_argument(
        "--max-mb",
        type=float,
        default=12_000,
        help="--dask-100m: stop the run if its process tree passes this",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="also run belief from this source tree (e.g. `git archive COMMIT | tar -x -C DIR`)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every command: the median time (and the range; peak MB the largest)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}\n", flush=True)
    if args.dask_100m:
        n = args.reports or 100_000_000
        run_dask_100m(n, args.seed, args.parts, args.workdir, args.scheduler, args.max_mb)
    elif args.io_only:
        run_io(10_000_000 if args.ten else args.reports or 1_000_000, args.seed)
    elif args.dask_check:
        n = args.reports or 10_000_000
        run_dask_check(n, args.seed, min(args.parts, 10))
    else:
        n = 10_000_000 if args.ten else args.reports or 1_000_000
        run_compare(n, args.seed, not args.no_crowdkit, args.phases, args.before, args.repeat)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
