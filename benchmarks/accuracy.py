"""Accuracy benchmark: belief against majority vote and crowd-kit, on simulated and real data.

Every engine sees the same data and is scored on the same held-out claims:

* simulated worlds (:func:`belief.evaluation.simulate.simulate_case`; half the claims
  resolved): K-fold cross-validation over the resolved claims
  (:func:`belief.evaluation.crossval.cross_validate`); the Bayes oracle (the simulator's true
  parameters) shows the best achievable score;
* ``book_authors``: one claim group per book, gold labels, K-fold by book;
* ``rumoureval2017``: the given split (fit on train + dev, score the resolved test threads).

Engines: majority vote; crowd-kit DawidSkene (given the training truths), OneCoinDawidSkene
and GLAD (unsupervised); belief's exact engine with default priors; calibrated priors (EM on the
training claims, then the exact engine on the held-out ones); the EM plug-in posterior
(transductive, uses side alignment); the joint PyMC model (unsupervised, ADVI or MAP).
crowd-kit gets each informative report as a label (confirm -> "true", deny -> "false").

Run from the repository root (crowd-kit is a benchmark-only dependency)::

    pip install -e ".[bench]"
    python benchmarks/accuracy.py                 # everything, about 15 minutes on 2 cores
    python benchmarks/accuracy.py --only sim --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from belief.data.io import read_tables
from belief.data.types import Case
from belief.evaluation.crossval import cross_validate, fit_predictor
from belief.evaluation.scoring import accuracy, auc, brier, ece, log_score, macro_f1
from belief.evaluation.simulate import oracle_posterior, simulate_case

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
Predict = Callable[[Case, list[str]], dict[str, float]]

WORLDS = {  # name: simulate_case arguments (1000 claims; partisan sources, copiers, signals)
    "dense": {"n_sources": 30, "density": 0.3},
    "sparse": {"n_sources": 80, "density": 0.03},
}
#: source kinds (share, sensitivity, specificity, logit sd) named unlike belief's built-in kind
#: defaults, so "default priors" means the generic 0.65/0.65 prior, as for a new analyst's kinds
KINDS = {
    "agency": (0.2, 0.90, 0.85, 0.3),
    "outlet": (0.4, 0.70, 0.80, 0.4),
    "forum": (0.4, 0.55, 0.60, 0.5),
}
COMMON = {
    "kinds": KINDS,
    "n_copiers": 3,
    "p_copy": 0.5,
    "side_effect": 1.0,
    "p_aligned": 0.5,
    "p_signal": 0.3,
}


# -- engines ----------------------------------------------------------------------------------
def _labels(case: Case) -> pd.DataFrame:
    """crowd-kit's input: one row per informative report (copies included: it cannot tell)."""
    rows = [
        (r.source_id, r.claim_id, "true" if r.stance == "confirm" else "false")
        for r in case.reports
        if r.stance != "neutral"
    ]
    return pd.DataFrame(rows, columns=["worker", "task", "label"]).drop_duplicates(
        ["worker", "task"], keep="first"
    )


def _base_rate(case: Case) -> float:
    known = [c.truth for c in case.claims if c.truth is not None]
    return float(np.mean(known)) if known else 0.5


def _fill(p: pd.Series, case: Case, ids: list[str]) -> dict[str, float]:
    """Probabilities of ``ids``; claims the engine gave nothing for get the training base rate."""
    fallback = _base_rate(case)
    return {c: float(p.get(c, fallback)) for c in ids}


def majority_vote(case: Case, ids: list[str]) -> dict[str, float]:
    """Share of confirms among confirms and denies, Laplace-smoothed: (c + 1) / (c + d + 2)."""
    df = _labels(case)
    c = df.assign(t=df["label"] == "true").groupby("task")["t"].agg(["sum", "count"])
    return _fill((c["sum"] + 1) / (c["count"] + 2), case, ids)


def crowdkit(name: str) -> Predict:
    """A crowd-kit aggregator as a fit_predict; DawidSkene gets the training truths."""

    def predict(case: Case, ids: list[str]) -> dict[str, float]:
        from crowdkit import aggregation as agg

        df = _labels(case)
        if name == "DawidSkene":
            truths = pd.Series(
                {
                    c.claim_id: "true" if c.truth else "false"
                    for c in case.claims
                    if c.truth is not None
                }
            )
            truths = truths[truths.index.isin(df["task"])]
            probas = agg.DawidSkene(n_iter=100).fit_predict_proba(df, true_labels=truths)
        else:
            probas = getattr(agg, name)().fit_predict_proba(df)
        p = probas["true"] if "true" in probas else pd.Series(0.0, index=probas.index)
        return _fill(p, case, ids)

    return predict


def belief_engine(method: str, **options) -> Predict:
    """belief's engines through :func:`belief.cli.calibrate.fit_predictor`."""
    inner = fit_predictor(method, **options)

    def predict(case: Case, ids: list[str]) -> dict[str, float]:
        return {c: float(v) for c, v in inner(case, ids).items()}

    return predict


def engines(joint: str, quick: bool, default: str = "exact") -> dict[str, tuple[Predict, bool]]:
    """name -> (fit_predict, uses training truths). Truth-free engines are fitted once.

    ``default``: the engine run with default priors, ``"exact"`` or ``"fast"`` (same model,
    mean-field; for book_authors, whose single huge component the exact engine cannot take).
    """
    sampler = {"random_seed": 1, "advi_iterations": 3000 if quick else 10000, "advi_draws": 300}
    out = {
        "majority vote": (majority_vote, False),
        "crowd-kit DawidSkene (given train truths)": (crowdkit("DawidSkene"), True),
        "crowd-kit OneCoinDawidSkene": (crowdkit("OneCoinDawidSkene"), False),
        "crowd-kit GLAD": (crowdkit("GLAD"), False),
        f"belief {default}, default priors": (belief_engine(default), False),
        "belief exact, calibrated priors": (belief_engine("calibrated"), True),
        "belief EM plug-in (calibrated, transductive)": (belief_engine("em"), True),
    }
    if joint != "none":
        out[f"belief joint model ({joint})"] = (
            belief_engine(joint, sampler_config=sampler),
            False,
        )
    return out


# -- running ----------------------------------------------------------------------------------
def _timed(predict: Predict, uses_truth: bool) -> tuple[Predict, list[float]]:
    """Wrap ``predict`` to record its time per fit; truth-free engines fit once per case."""
    times: list[float] = []
    memo: dict[str, dict[str, float]] = {}

    def run(case: Case, ids: list[str]) -> dict[str, float]:
        if not uses_truth and memo:
            return memo["all"]
        start = time.perf_counter()
        out = predict(case, ids if uses_truth else case.claim_ids)
        times.append(time.perf_counter() - start)
        if not uses_truth:
            memo["all"] = out
        return out

    return run, times


def _scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    out = {"brier": brier(y, p), "log_score": log_score(y, p), "accuracy": accuracy(y, p)}
    out["macro_f1"] = macro_f1(y, p)
    out["auc"] = auc(y, p) if 0 < y.sum() < len(y) else np.nan
    out["ece"] = ece(y, p)
    return out


def run_cv(case: Case, eng: dict, k: int, oracle: dict[str, float] | None = None) -> pd.DataFrame:
    """K-fold CV of every engine on the same folds; rows = engines, columns = scores, time."""
    rows = []
    for name, (predict, uses_truth) in eng.items():
        run, times = _timed(predict, uses_truth)
        print(f"  {name} ...", file=sys.stderr, flush=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = cross_validate(case, run, k=k, seed=0, by="group")
        except Exception as e:  # an engine failing is a result too: report it, go on
            print(f"    failed: {type(e).__name__}: {e}", file=sys.stderr)
            rows.append({"engine": name, "error": f"{type(e).__name__}"})
            continue
        pred = res.predictions
        y = pred["truth"].astype(float).to_numpy()
        rows.append(
            {
                "engine": name,
                **_scores(pred["p_true"].to_numpy(), y),
                "seconds_per_fit": float(np.mean(times)),
                "fits": len(times),
            }
        )
    if oracle is not None:  # the folds, hence the scored claims, are the same for every engine
        p = np.array([oracle[c] for c in pred["claim_id"]])
        rows.append({"engine": "Bayes oracle (true parameters)", **_scores(p, y)})
    return _finish(pd.DataFrame(rows))


def run_split(case: Case, test_ids: list[str], eng: dict) -> pd.DataFrame:
    """One given split: engines see ``case`` with the test truths hidden; score ``test_ids``."""
    held = set(test_ids)
    train = case.replace(
        claims=tuple(
            dataclasses.replace(c, truth=None) if c.claim_id in held else c for c in case.claims
        )
    )
    y = np.array([float(case.claim(c).truth) for c in test_ids])
    rows = []
    for name, (predict, uses_truth) in eng.items():
        run, times = _timed(predict, uses_truth)
        print(f"  {name} ...", file=sys.stderr, flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = run(train, test_ids)
        rows.append(
            {
                "engine": name,
                **_scores(np.array([p[c] for c in test_ids]), y),
                "seconds_per_fit": times[0],
                "fits": 1,
            }
        )
    return _finish(pd.DataFrame(rows))


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    ds = df.loc[df["engine"].str.startswith("crowd-kit DawidSkene"), "seconds_per_fit"]
    if "seconds_per_fit" in df and len(ds) and ds.iloc[0] > 0:
        df["time_vs_DS"] = df["seconds_per_fit"] / ds.iloc[0]
    return df


# -- data -------------------------------------------------------------------------------------
def _hide_half(case: Case, seed: int) -> Case:
    hide = np.random.default_rng(seed).random(len(case.claims)) < 0.5
    return case.replace(
        claims=tuple(
            dataclasses.replace(c, truth=None) if h else c for c, h in zip(case.claims, hide)
        )
    )


def simulated(name: str, quick: bool) -> tuple[Case, dict[str, float]]:
    """A simulated world with half its claims resolved, and the Bayes-oracle posterior."""
    n = 400 if quick else 1000
    case, truth = simulate_case(n, **WORLDS[name], **COMMON, random_seed=7, return_truth=True)
    return _hide_half(case, 7), oracle_posterior(case, truth)


def book_authors() -> Case:
    """book_authors with one group per book (``isbn``); gold ``truth`` only."""
    d = DATA / "book_authors"
    claims = pd.read_csv(d / "claims.csv", dtype=str, keep_default_na=False)
    claims["group"] = claims["isbn"]
    reports = pd.read_csv(d / "reports.csv", dtype=str, keep_default_na=False)
    return read_tables(claims=claims, reports=reports, name="book_authors")


def rumoureval() -> tuple[Case, list[str]]:
    """rumoureval2017 and its resolved test threads."""
    d = DATA / "rumoureval2017"
    claims = pd.read_csv(d / "claims.csv", dtype=str, keep_default_na=False)
    case = read_tables(claims=claims, reports=d / "reports.csv", name="rumoureval2017")
    test = claims.loc[(claims["split"] == "test") & claims["truth"].isin(["true", "false"])]
    return case, test["claim_id"].tolist()


# -- output -----------------------------------------------------------------------------------
def markdown(df: pd.DataFrame) -> str:
    cols = [
        "engine",
        "brier",
        "log_score",
        "accuracy",
        "macro_f1",
        "auc",
        "ece",
        "seconds_per_fit",
        "time_vs_DS",
    ]
    cols = [c for c in cols if c in df]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df[cols].itertuples(index=False):
        cells = [
            v
            if isinstance(v, str)
            else ("–" if pd.isna(v) else f"{v:.3f}" if c != "time_vs_DS" else f"{v:.2f}×")
            for c, v in zip(cols, row)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sim", "books", "rumours"), action="append")
    parser.add_argument("--quick", action="store_true", help="smaller worlds, shorter ADVI")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--joint", choices=("advi", "map", "none"), default="advi")
    parser.add_argument("--out", type=Path, help="also write the tables (markdown) here")
    args = parser.parse_args(argv)
    only = set(args.only or ("sim", "books", "rumours"))
    sections = []
    if "sim" in only:
        for world in WORLDS:
            case, oracle = simulated(world, args.quick)
            print(f"simulated world: {world}", file=sys.stderr)
            eng = engines(args.joint, args.quick)
            sections.append((f"Simulated, {world}", run_cv(case, eng, args.folds, oracle)))
    if "books" in only:
        print("book_authors", file=sys.stderr)
        eng = engines("map" if args.joint != "none" else "none", args.quick, default="fast")
        sections.append(
            ("book_authors (gold, K-fold by book)", run_cv(book_authors(), eng, args.folds))
        )
    if "rumours" in only:
        print("rumoureval2017", file=sys.stderr)
        case, test_ids = rumoureval()
        sections.append(
            (
                "rumoureval2017 (train+dev -> test)",
                run_split(case, test_ids, engines(args.joint, args.quick)),
            )
        )
    text = "\n\n".join(f"### {title}\n\n{markdown(df)}" for title, df in sections)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
