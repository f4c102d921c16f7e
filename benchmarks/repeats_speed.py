"""Copy propensities at scale: compiling 1M reports and incremental updates, old vs new code.

Run from the repository root::

    python benchmarks/repeats_speed.py                         # this checkout only
    git archive <old commit> belief | tar -x -C /tmp/old       # a baseline checkout
    python benchmarks/repeats_speed.py --baseline /tmp/old     # both, in the same run

Every measurement runs in a fresh process whose ``PYTHONPATH`` starts with the checkout being
measured (this one, or ``--baseline``), on the same data:

* ``compile``: :func:`belief.core.compiler.compile_arrays` on 1,000,000 reports of
  ``benchmarks/scale.py``'s world (100,000 claims, 5,000 sources, no times), without copy
  propensities and with ``default_copy_propensity = 0.2``; ``giant claim``: the same reports with
  38.2% of them moved to one claim (382k reports on it). Best of ``--repeat`` runs.
* ``incremental``: :class:`belief.engines.incremental.Belief` built on all but the last 1,000
  reports of the 1M world, then those added one by one (each on a claim with about 10 reports);
  median and p99 wall time per update, and the p99 of CPU time (which preemption by other
  processes does not inflate).
* ``one claim``: 2,000 reports on one claim from 40 sources, times in order, added one by one
  to an empty ``Belief`` (the per-update cost of a growing claim).

Timings are wall clock on whatever else the machine runs; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import _arrays, simulate

N = 1_000_000
N_UPDATES = 1000
ONE_CLAIM = 2000
PI = 0.2


def _world(giant: bool):
    ra = _arrays(simulate(N, 0))
    if giant:
        moved = np.random.default_rng(1).random(len(ra.claim)) < 0.382
        ra = replace(ra, claim=np.where(moved, 0, ra.claim))
    return ra


def _config(pi: float):
    from belief.priors.config import Config

    return Config(base_rate=0.3, default_copy_propensity=pi)


def _compile(giant: bool, pi: float, repeat: int) -> dict:
    from belief.core.compiler import compile_arrays

    ra, cfg, best = _world(giant), _config(pi), np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        compile_arrays(ra, cfg)
        best = min(best, time.perf_counter() - t0)
    return {"seconds": best}


def _times(belief, reports) -> dict:
    us, cpu = [], []
    for r in reports:
        t0, c0 = time.perf_counter_ns(), time.process_time_ns()
        belief.update(r)
        us.append((time.perf_counter_ns() - t0) / 1e3)
        cpu.append((time.process_time_ns() - c0) / 1e3)
    a = np.asarray(us)
    return {"median_us": float(np.median(a)), "p99_us": float(np.percentile(a, 99)),
            "p99_cpu_us": float(np.percentile(cpu, 99)), "max_us": float(a.max())}  # fmt: skip


def _incremental(pi: float) -> dict:
    from belief.data.types import Report
    from belief.engines.incremental import Belief

    ra = _world(False)
    k = len(ra) - N_UPDATES
    head = replace(ra, **{f: getattr(ra, f)[:k] for f in
                          ("claim", "source", "stance", "derived", "time")})  # fmt: skip
    reports = [Report(f"c{c}", f"s{s}", "confirm" if st > 0 else "deny")
               for c, s, st in zip(ra.claim[k:], ra.source[k:], ra.stance[k:])]  # fmt: skip
    t0 = time.perf_counter()
    belief = Belief.from_arrays(head, _config(pi))
    return {"build_s": time.perf_counter() - t0, **_times(belief, reports)}


def _one_claim(pi: float) -> dict:
    from datetime import datetime, timedelta

    from belief.data.types import Report
    from belief.engines.incremental import Belief

    rng = np.random.default_rng(2)
    t0 = datetime(2024, 1, 1)
    reports = [Report("c", f"s{rng.integers(40)}", "confirm" if rng.random() < 0.6 else "deny",
                      t0 + timedelta(minutes=k)) for k in range(ONE_CLAIM)]  # fmt: skip
    return _times(Belief(config=_config(pi)), reports)


CASES = {
    "compile, no propensity": lambda r: _compile(False, 0.0, r),
    "compile, propensity": lambda r: _compile(False, PI, r),
    "compile, giant claim, propensity": lambda r: _compile(True, PI, r),
    "incremental 1M, no propensity": lambda r: _incremental(0.0),
    "incremental 1M, propensity": lambda r: _incremental(PI),
    "one claim 2,000, no propensity": lambda r: _one_claim(0.0),
    "one claim 2,000, propensity": lambda r: _one_claim(PI),
}


def run(root: str, case: str, repeat: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, __file__, "--child", case, "--repeat", str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return dict(json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a checkout of the old code (its belief/ directory)")
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CASES[args.child](args.repeat)))
        return
    roots = {"new": str(Path(__file__).resolve().parent.parent)}
    if args.baseline:
        roots = {"old": str(Path(args.baseline).resolve()), **roots}
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}\n")
    print("| case | code | seconds | build s | update median µs | update p99 µs | p99 CPU µs "
          "| max µs |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for case in args.only:
        for name, root in roots.items():
            r = run(root, case, args.repeat)
            if "error" in r:
                print(f"| {case} | {name} | error: {r['error']} | | | | | |", flush=True)
                continue
            cells = [
                r.get(k)
                for k in ("seconds", "build_s", "median_us", "p99_us", "p99_cpu_us", "max_us")
            ]
            text = ["" if v is None else f"{v:.2f}" if i < 2 else f"{v:,.0f}"
                    for i, v in enumerate(cells)]  # fmt: skip
            print(f"| {case} | {name} | {' | '.join(text)} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
