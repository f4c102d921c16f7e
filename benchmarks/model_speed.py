"""Speed of the joint model (``belief.model.ClaimBeliefModel``): a table, not a timed test.

Cases
-----
``seed``
    ``seeds/khasham.yaml`` (6 claims, 13 sources, 20 reports), NUTS with 4 chains x 1000 draws.
    Target: under 60 s on 2 cores including compilation.
``large``
    A world from :func:`belief.evaluation.simulate.simulate_case` with 2,000 claims, 60 sources
    and about
    10,000 reports (copies, signals, sides and groups of competing claims included), fitted with
    ADVI (target: under 60 s) and NUTS 4 x 1000 (target: under 10 minutes, no divergences).

Each case also times the closed-form engines on the same data in the same run, as the baseline
(``belief.infer`` on the seed case, ``belief.infer(method="fast")`` on the large one), and
every row is checked against its target (``target`` / ``met`` columns).

Seconds are wall-clock time of ``fit`` (encoding, graph building, compilation, sampling and
diagnostics). PyTensor caches compiled code on disk, so a first run on a machine is slower.

Usage::

    python benchmarks/model_speed.py            # the full benchmark
    python benchmarks/model_speed.py --quick    # large case: ADVI 5,000 steps, NUTS 2 x 200
    python benchmarks/model_speed.py --nuts-sampler nutpie   # if nutpie is installed
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from belief.data.io import read_case
from belief.evaluation.simulate import simulate_case
from belief.exceptions import ConvergenceWarning
from belief.model.estimator import ClaimBeliefModel

SEED_CASE = Path(__file__).resolve().parent.parent / "seeds" / "khasham.yaml"


def large_case(random_seed: int = 0):
    """2,000 claims, 60 sources (2 copiers among them), about 10,000 reports."""
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


def run(case, label: str, method: str, sampler: dict) -> dict:
    """Fit once and return one row of the table."""
    model = ClaimBeliefModel(sampler_config={"random_seed": 1} | sampler)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(case, method=method)
    seconds = time.perf_counter() - start
    post = model.idata_.posterior
    if method == "mcmc":
        draws = f"{post.sizes['chain']}x{post.sizes['draw']}"
        diag = model.diagnostics_
        divergences = diag.attrs["divergences"]
        max_rhat = float(np.nanmax(diag["rhat"])) if diag["rhat"].notna().any() else np.nan
    else:
        draws = f"{sampler.get('advi_iterations', '')} steps" if method == "advi" else "-"
        divergences, max_rhat = np.nan, np.nan
    return {
        "case": label,
        "method": method,
        "draws": draws,
        "seconds": round(seconds, 1),
        "divergences": divergences,
        "max R-hat": round(max_rhat, 3) if np.isfinite(max_rhat) else np.nan,
        "convergence warnings": sum(issubclass(w.category, ConvergenceWarning) for w in caught),
    }


TARGETS = {("seed", "mcmc"): 60.0, ("large", "advi"): 60.0, ("large", "mcmc"): 600.0}


def baseline(case, label: str, engine: str) -> dict:
    """Time a closed-form engine on the same case (the baseline row)."""
    if engine == "exact":
        from belief.engines.exact import infer as fit
    else:
        from belief.engines.fast import infer_fast as fit
    start = time.perf_counter()
    fit(case)
    seconds = time.perf_counter() - start
    return {"case": label, "method": f"{engine} (baseline)", "draws": "-",
            "seconds": round(seconds, 3)}  # fmt: skip


def with_targets(table: pd.DataFrame) -> pd.DataFrame:
    """Add the target (seconds) of each joint-model row and whether it was met."""
    target = [TARGETS.get((c, m)) for c, m in zip(table["case"], table["method"])]
    table["target s"] = target
    ok = [
        "-" if t is None else ("yes" if s < t and not (m == "mcmc" and d > 0) else "NO")
        for s, t, m, d in zip(table["seconds"], target, table["method"],
                              table["divergences"].fillna(0))
    ]  # fmt: skip
    table["met"] = ok
    return table


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs on the large case")
    parser.add_argument("--nuts-sampler", default="pymc", help="pymc (default), nutpie, ...")
    parser.add_argument("--skip-large-nuts", action="store_true")
    args = parser.parse_args(argv)
    nuts = {"nuts_sampler": args.nuts_sampler}
    seed = read_case(SEED_CASE)
    big = large_case()
    n_reports = len(big.reports)
    n_sources = len(big.source_map())
    print(f"large case: {len(big.claims)} claims, {n_sources} sources, {n_reports} reports")
    rows = [baseline(seed, "seed", "exact"), baseline(big, "large", "fast")]
    rows.append(run(seed, "seed", "mcmc", nuts | {"chains": 4, "draws": 1000, "tune": 1000}))
    advi_steps = 5000 if args.quick else 20000
    rows.append(run(big, "large", "advi", {"advi_iterations": advi_steps, "advi_draws": 1000}))
    if not args.skip_large_nuts:
        size = {"chains": 2, "draws": 200, "tune": 200} if args.quick else {}
        rows.append(run(big, "large", "mcmc", nuts | {"chains": 4, "draws": 1000} | size))
    table = with_targets(pd.DataFrame(rows))
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
