"""Kind-level reliability learned by empirical Bayes (issue 15): what it buys, and what it costs.

**Worlds.** Claims true with probability 0.4; sources of three kinds whose reliabilities differ
from belief's built-in values for those kinds (wire 0.80/0.85, media 0.70/0.65, blog
0.60/0.55): here wire (0.95, 0.90), media (0.80, 0.85) and blog (0.85, 0.80), each source's
logit jittered by N(0, 0.3). *sparse*: 600 sources reporting on each claim with probability
0.004 (about 8 reports per source, 2.4 per claim); *dense*: 30 sources with probability 0.2
(about 400 reports per source). One
report per (claim, source); no times, copies or signals. belief is given the sources' kinds
and nothing else.

Rows (same data, same run): the Bayes oracle that knows every source's reliability and the
base rate; belief's fast engine with the built-in kind values held (``learn_kind_priors:
false``, the behaviour before this issue), with them learned (the default), and the exact
engine with them learned where the claims are few enough (it enumerates each component; here
it falls back to mean-field, so it is skipped); crowd-kit ``DawidSkene`` (unsupervised).
Columns: Brier and log score over all claims with at least one report, seconds of the call.

Run from the repository root::

    python benchmarks/kinds.py            # both worlds, 2,000 claims, about a minute
    python benchmarks/kinds.py --claims 20000
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy.special import expit, logit

import belief

KINDS = {"wire": (0.95, 0.90), "media": (0.80, 0.85), "blog": (0.85, 0.80)}
WORLDS = {"sparse": (600, 0.004), "dense": (30, 0.2)}


def world(n_claims: int, n_sources: int, density: float, seed: int):
    rng = np.random.default_rng(seed)
    truth = rng.random(n_claims) < 0.4
    kind = rng.choice(list(KINDS), size=n_sources)
    mean = np.array([KINDS[k] for k in kind])
    se, sp = expit(logit(mean) + 0.3 * rng.standard_normal(mean.shape)).T
    claim, source = np.nonzero(rng.random((n_claims, n_sources)) < density)
    u = rng.random(len(claim))
    confirm = np.where(truth[claim], u < se[source], u >= sp[source])
    llr = np.where(confirm, np.log(se[source] / (1 - sp[source])),
                   np.log((1 - se[source]) / sp[source]))  # fmt: skip
    oracle = expit(logit(0.4) + np.bincount(claim, llr, n_claims))
    case = belief.case_from_records({
        "claims": [{"claim_id": f"c{i}"} for i in range(n_claims)],
        "sources": [{"source_id": f"s{j}", "kind": k} for j, k in enumerate(kind)],
        "reports": [{"claim_id": f"c{c}", "source_id": f"s{s}",
                     "stance": "confirm" if x else "deny"}
                    for c, s, x in zip(claim, source, confirm)],
    })  # fmt: skip
    has = np.bincount(claim, minlength=n_claims) > 0
    return case, truth, oracle, has, (claim, source, confirm)


def scores(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(np.mean((p - y) ** 2)), float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warm = belief.case_from_records({"reports": [{"claim_id": "c", "source_id": "s",
                                                  "stance": "confirm"}]})  # fmt: skip
    belief.infer(warm, "fast")  # first-call costs (imports) out of the timings
    print("| world | reports | method | Brier | log score | seconds | learned kind means |")
    print("|---|---|---|---|---|---|---|")
    for name, (n_sources, density) in WORLDS.items():
        case, truth, oracle, has, (claim, source, confirm) = world(
            args.claims, n_sources, density, args.seed
        )
        y = truth[has].astype(float)
        rows = [("Bayes oracle (true reliabilities)", oracle, 0.0, "")]
        for label, cfg in [("belief fast, built-in kind values held", {"learn_kind_priors": False}),
                           ("belief fast, kind values learned (default)", {})]:  # fmt: skip
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = belief.infer(case, "fast", cfg)
            dt = time.perf_counter() - t
            learned = res.diagnostics.get("kind_reliability", {})
            text = ", ".join(f"{k} {v['sensitivity']:.2f}/{v['specificity']:.2f}"
                             for k, v in sorted(learned.items()))  # fmt: skip
            rows.append((label, res.posterior["p_true"].to_numpy(), dt, text))
        try:
            from crowdkit.aggregation import DawidSkene

            data = pd.DataFrame({"task": claim, "worker": source, "label": confirm.astype(int)})
            t = time.perf_counter()
            proba = DawidSkene(n_iter=100).fit_predict_proba(data)
            dt = time.perf_counter() - t
            p = np.full(args.claims, 0.4)
            p[proba.index.to_numpy()] = proba[1].to_numpy()
            rows.append(("crowd-kit DawidSkene", p, dt, ""))
        except ImportError:
            pass
        for label, p, dt, text in rows:
            brier, logs = scores(p[has], y)
            print(f"| {name} | {len(claim):,} | {label} | {brier:.4f} | {logs:.4f} | "
                  f"{dt:.2f} | {text} |", flush=True)  # fmt: skip
    print("\ntrue kind means (sensitivity/specificity): "
          + ", ".join(f"{k} {v[0]:.2f}/{v[1]:.2f}" for k, v in sorted(KINDS.items())))  # fmt: skip


if __name__ == "__main__":
    main()
