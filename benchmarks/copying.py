"""Circular-reporting benchmark (issue 15): unattributed copying, simulated and on book_authors.

**Simulated worlds.** :func:`belief.evaluation.simulate.simulate_case` with unattributed
repeats: outlets, partisan blogs and digests repeat an earlier report on the same claim with
copy propensity 0.4, 0.6 and 0.9 (wire agencies never do), and half of the repeats are cited
(``derived_from``); the uncited half looks like independent evidence, as it does to belief.
Half the claims are resolved (training); the other half are scored. Rows:

* the Bayes oracle (true parameters) that knows every copy (``copies="known"``); the one that
  knows the true copy propensities but not which reports are repeats (``"propensity"``: the
  best possible from what the case shows); and the one without copy knowledge, which counts
  every uncited repeat as independent evidence (``"declared"``);
* belief without copy learning: ``belief.infer(test, method="fast")`` with the default priors
  (``"exact"`` falls back to the same mean-field here: the test claims form one component);
* belief calibrated on the training claims, then ``belief.apply_priors`` and the exact engine
  on the test claims: without copy learning (the EM alone,
  ``belief.calibration.calibrate.fit_em``, which is what ``belief.calibrate`` did before issue
  15) and with it (``belief.calibrate``, which learns copy propensities per source and kind);
* the joint PyMC model (``method="mcmc"``, 2 chains x 300 draws, unsupervised on the test
  claims), without copy learning (``model_config={"copy_propensity": "fixed"}``: every
  uncited repeat counted in full) and with it (the default: copy propensities learned with the
  rest, pooled by kind); ``--joint none`` skips them;
* majority vote and crowd-kit ``DawidSkene`` (task = claim, worker = source, label = stance,
  unsupervised on the test claims; P(true) = P("confirm")).

**book_authors** (``../shared/data/book_authors``; one group per book, exactly one candidate
author list true; no times): majority vote, crowd-kit DawidSkene (unsupervised, all reports),
belief fast with default priors, and belief calibrated without and with copy learning, scored
on the 405 gold claims two ways: 5-fold cross-validation by book over the gold books (the folds of
``benchmarks/accuracy.py``), and calibrated once on the silver truths of the 1,163 other books.

Columns: Brier, log score (mean log loss, lower is better), and ``confident wrong``: of the
claims given P < 1e-6 or P > 1 - 1e-6, how many are wrong.

Run from the repository root (crowd-kit is a benchmark-only dependency)::

    pip install -e ".[bench]"
    python benchmarks/copying.py                        # everything, about 4 minutes on 2 cores
    python benchmarks/copying.py --only sim --joint none
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

import belief
from belief.data.types import Case
from belief.evaluation.crossval import cross_validate, subcase
from belief.evaluation.oracle import oracle_posterior
from belief.evaluation.scoring import brier, log_score
from belief.evaluation.simulate import simulate_case

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
Probs = dict[str, float]
T = TypeVar("T")

#: source kinds (share, sensitivity, specificity, logit sd), as in benchmarks/accuracy.py with
#: the forums split into partisan blogs and digests (aggregator-like sites)
KINDS = {
    "agency": (0.2, 0.90, 0.85, 0.3),
    "outlet": (0.4, 0.70, 0.80, 0.4),
    "blog": (0.25, 0.55, 0.60, 0.5),
    "digest": (0.15, 0.55, 0.60, 0.5),
}
#: copy propensity per kind: the probability that a report is a repeat of an earlier one
REPEAT = {"outlet": 0.4, "blog": 0.6, "digest": 0.9}
CITED = 0.5  #: share of the repeats that are cited (declared copies)
COMMON = {
    "kinds": KINDS,
    "p_repeat": REPEAT,
    "p_cited": CITED,
    "side_effect": 1.0,
    "p_aligned": 0.5,
    "p_signal": 0.3,
}
WORLDS = {  # name: simulate_case arguments
    "dense": {"n_claims": 1000, "n_sources": 30, "density": 0.3},
    "sparse": {"n_claims": 1000, "n_sources": 80, "density": 0.05},
}
CONFIDENT = 1e-6
#: the Config fields of copy learning (empty until it lands)
COPY_FIELDS = tuple(f.name for f in dataclasses.fields(belief.Config) if "copy_prop" in f.name)
SUFFIX = "" if COPY_FIELDS else " (copy learning not in belief yet: as without)"


# -- predictors -------------------------------------------------------------------------------
def _informative(case: Case) -> pd.DataFrame:
    """One row per confirm/deny report (worker = source, task = claim, label = stance)."""
    rows = [(r.source_id, r.claim_id, r.stance) for r in case.reports if r.stance != "neutral"]
    df = pd.DataFrame(rows, columns=["worker", "task", "label"])
    return df.drop_duplicates(["worker", "task"], keep="first")


def majority_vote(case: Case) -> Probs:
    """(confirms + 1) / (confirms + denies + 2) per claim; 0.5 without reports."""
    df = _informative(case)
    c = df.assign(t=df["label"] == "confirm").groupby("task")["t"].agg(["sum", "count"])
    p = (c["sum"] + 1) / (c["count"] + 2)
    return {cid: float(p.get(cid, 0.5)) for cid in case.claim_ids}


def dawid_skene(case: Case, fallback: float) -> Probs:
    """crowd-kit DawidSkene, unsupervised; P(true) = P("confirm"); ``fallback`` if no report."""
    from crowdkit.aggregation import DawidSkene

    probas = DawidSkene(n_iter=100).fit_predict_proba(_informative(case))
    p = probas["confirm"] if "confirm" in probas else pd.Series(0.0, index=probas.index)
    return {cid: float(p.get(cid, fallback)) for cid in case.claim_ids}


def infer(case: Case, method: str = "exact", config=None, **options) -> Probs:
    """``belief.infer``'s P(true) per claim, its warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = belief.infer(case, method, config, **options).posterior
    return dict(zip(post["claim_id"], post["p_true"].astype(float), strict=True))


def fit_joint(case: Case, sampler: dict, mode: str) -> belief.BeliefResult:
    """``belief.infer(case, "mcmc")`` with copy learning on (``"learn"``) or off (``"fixed"``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return belief.infer(
            case, "mcmc", sampler_config=sampler, model_config={"copy_propensity": mode}
        )


def calibrated(train: Case, test: Case) -> list[tuple[str, belief.Config, float]]:
    """Settings of ``test`` calibrated on ``train``: (label, config, seconds to calibrate).

    Without copy learning: the EM of :func:`belief.calibration.calibrate.fit_em` alone (what
    ``belief.calibrate`` did before issue 15); with it: ``belief.calibrate``.
    """
    from belief.calibration.calibrate import fit_em

    out = []
    for label, fit in (
        ("no copy learning", lambda: fit_em(train).priors),
        ("copy learning", lambda: belief.calibrate(train)),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            priors, sec = timed(fit)
            out.append((label, belief.apply_priors(test, priors), sec))
    return out


def learned_sources(case: Case, config: belief.Config) -> dict[str, float]:
    """Copy propensity per source of ``case`` under ``config`` ({} before copy learning)."""
    if "copy_propensity" not in COPY_FIELDS:
        return {}
    own, kinds = config.source_copy_propensity, config.copy_propensity
    default = config.default_copy_propensity
    kind = {s.source_id: s.kind for s in case.sources}  # sources without a record: no kind
    ids = dict.fromkeys([*kind, *(r.source_id for r in case.reports)])
    return {s: float(own.get(s, kinds.get(kind.get(s), default))) for s in ids}


def learned_propensity(case: Case, config: belief.Config) -> dict[str, float]:
    """Mean learned copy propensity of the sources of each kind ({} before copy learning)."""
    by_kind: dict[str, list[float]] = {}
    kind = {s.source_id: s.kind or "" for s in case.sources}
    for sid, rho in learned_sources(case, config).items():
        by_kind.setdefault(kind.get(sid, ""), []).append(rho)
    return {k: round(float(np.mean(v)), 3) for k, v in sorted(by_kind.items())}


# -- scoring ----------------------------------------------------------------------------------
def score(name: str, p: Probs, truth: dict[str, bool], seconds: float | None = None) -> dict:
    ids = list(truth)
    y = np.array([float(truth[c]) for c in ids])
    q = np.array([p[c] for c in ids])
    confident = (q < CONFIDENT) | (q > 1 - CONFIDENT)
    wrong = confident & ((q > 0.5) != (y > 0.5))
    return {
        "row": name,
        "brier": brier(y, q),
        "log_score": log_score(y, q),
        "confident_wrong": f"{int(wrong.sum())} / {int(confident.sum())}",
        "seconds": seconds,
    }


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the seconds it took."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def markdown(rows: list[dict]) -> str:
    lines = ["| row | Brier | log score | confident wrong | seconds |", "|---|---|---|---|---|"]
    for r in rows:
        sec = "–" if r.get("seconds") is None else f"{r['seconds']:.1f}"
        lines.append(
            f"| {r['row']} | {r['brier']:.4f} | {r['log_score']:.4f} "
            f"| {r['confident_wrong']} | {sec} |"
        )
    return "\n".join(lines)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- simulated worlds -------------------------------------------------------------------------
def simulated(name: str, joint: str, seed: int = 7) -> tuple[list[dict], list[str]]:
    """The table of one simulated world, and notes (learned propensities, skipped rows)."""
    case, truth = simulate_case(**WORLDS[name], **COMMON, random_seed=seed, return_truth=True)
    hide = np.random.default_rng(seed).random(len(case.claims)) < 0.5
    test_ids = [c for c, h in zip(case.claim_ids, hide, strict=True) if h]
    train = subcase(case, [c for c in case.claim_ids if c not in set(test_ids)])
    test = subcase(case, test_ids)
    test = test.replace(claims=tuple(dataclasses.replace(c, truth=None) for c in test.claims))
    y = {c: truth.truth[c] for c in test_ids}
    n_repeats = sum(1 for (c, _) in truth.repeats if c in y)
    n_cited = sum(
        1 for r in test.reports if (r.claim_id, r.source_id) in truth.repeats and r.derived_from
    )
    notes = [
        f"{len(test_ids)} test claims, {len(test.reports)} reports, {n_repeats} repeats "
        f"({n_cited} cited); train: {len(train.claim_ids)} resolved claims"
    ]
    rows = []
    for label, mode in (
        ("Bayes oracle, knows every copy", "known"),
        ("Bayes oracle, knows the copy propensities only", "propensity"),
        ("Bayes oracle without copy knowledge", "declared"),
    ):
        rows.append(score(label, oracle_posterior(case, truth, copies=mode), y))
    note(f"[{name}] belief without copy learning")
    p, sec = timed(lambda: infer(test, "fast"))
    rows.append(score("belief fast, default priors (no copy learning)", p, y, sec))
    notes.append(
        "the test claims form one component (every source reports on many claims), so the "
        "exact engine uses its mean-field fallback: the same model and answer as fast"
    )
    note(f"[{name}] belief calibrated")
    configs = calibrated(train, test)
    for label, cfg, sec in configs:
        p, sec_i = timed(lambda c=cfg: infer(test, "exact", c))
        rows.append(score(f"belief exact, calibrated, {label}{SUFFIX}", p, y, sec + sec_i))
    if learned := learned_propensity(test, configs[1][1]):
        true = {k: REPEAT.get(k, 0.0) for k in learned}
        notes.append(f"learned copy propensity by kind {learned}; true {true}")
    if joint == "mcmc":
        sampler = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 1}
        for label, mode in (("no copy learning", "fixed"), ("copy learning", "learn")):
            note(f"[{name}] joint model (mcmc), {label}")
            try:
                result, sec = timed(lambda m=mode: fit_joint(test, sampler, m))
                p = dict(zip(result.posterior["claim_id"], result.posterior["p_true"]))
                rows.append(score(f"belief joint model, {label} (mcmc, 2 x 300)", p, y, sec))
            except Exception as e:  # a failing engine is a result too: say so, go on
                notes.append(f"joint model failed: {type(e).__name__}: {e}")
                continue
            n_div = result.diagnostics.get("divergences", 0)
            notes.append(f"joint model, {label}: {n_div} divergences")
            rel = result.reliability
            if "copy_propensity" in rel and rel["copy_learned"].any():
                by_kind = rel.groupby("kind")["copy_propensity"].mean().round(3).to_dict()
                share = {k: round(v * (1 - CITED) / (1 - v * CITED), 3) for k, v in REPEAT.items()}
                notes.append(
                    f"joint model: learned copy propensity by kind (mean over sources) "
                    f"{by_kind}; true {dict(sorted(REPEAT.items()))}, of which uncited "
                    f"(what the model can see) {dict(sorted(share.items()))}"
                )
    else:
        notes.append("joint model skipped (--joint none)")
    note(f"[{name}] baselines")
    p, sec = timed(lambda: majority_vote(test))
    rows.append(score("majority vote", p, y, sec))
    base = float(np.mean([c.truth for c in train.claims]))
    p, sec = timed(lambda: dawid_skene(test, base))
    rows.append(score("crowd-kit DawidSkene (unsupervised)", p, y, sec))
    return rows, notes


# -- book_authors -----------------------------------------------------------------------------
def book_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    d = DATA / "book_authors"
    claims = pd.read_csv(d / "claims.csv", dtype=str, keep_default_na=False)
    reports = pd.read_csv(d / "reports.csv", dtype=str, keep_default_na=False)
    return claims.assign(group=claims["isbn"]), reports


def books(folds: int) -> tuple[list[dict], list[str]]:
    """The book_authors table (gold claims) and notes."""
    claims, reports = book_tables()
    case = belief.read_tables(claims=claims, reports=reports, name="book_authors")
    gold = {c.claim_id: bool(c.truth) for c in case.claims if c.truth is not None}
    rows, notes = [], []
    note("[book_authors] majority vote, DawidSkene, belief fast")
    p, sec = timed(lambda: majority_vote(case))
    rows.append(score("majority vote", p, gold, sec))
    p, sec = timed(lambda: dawid_skene(case, 0.5))
    rows.append(score("crowd-kit DawidSkene (unsupervised)", p, gold, sec))
    p, sec = timed(lambda: infer(case, "fast"))
    rows.append(score("belief fast, default priors (no copy learning)", p, gold, sec))

    note(f"[book_authors] belief calibrated, {folds}-fold by book over the gold books")
    memo: dict[frozenset, list[tuple[str, belief.Config, float]]] = {}
    seconds = [0.0, 0.0]

    def cv(which: int) -> Callable[[Case, list[str]], Probs]:
        def fit_predict(train: Case, test_ids: list[str]) -> Probs:
            held = frozenset(test_ids)
            test = subcase(train, test_ids)
            if held not in memo:  # one calibration per fold serves both rows
                fit = subcase(train, [c for c in train.claim_ids if c not in held])
                memo[held] = calibrated(fit, test)
            _, config, sec = memo[held][which]
            p, sec_i = timed(lambda: infer(test, "exact", config))
            seconds[which] += sec + sec_i
            return p

        return fit_predict

    for which, label in enumerate(("no copy learning", "copy learning")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = cross_validate(case, cv(which), k=folds, seed=0, by="group").predictions
        p = dict(zip(pred["claim_id"], pred["p_true"].astype(float), strict=True))
        name = f"belief exact, calibrated ({folds}-fold CV), {label}{SUFFIX}"
        rows.append(score(name, p, gold, seconds[which]))

    note("[book_authors] belief calibrated on the silver truths of the other books")
    gold_books = set(claims.loc[claims["truth"] != "unknown", "isbn"])
    silver = claims[~claims["isbn"].isin(gold_books)].assign(truth=lambda d: d["truth_silver"])
    train = belief.read_tables(
        claims=silver, reports=reports[reports["claim_id"].isin(silver["claim_id"])], name="silver"
    )
    test = subcase(case, list(gold))
    test = test.replace(claims=tuple(dataclasses.replace(c, truth=None) for c in test.claims))
    configs = calibrated(train, test)
    for label, cfg, sec in configs:
        p, sec_i = timed(lambda c=cfg: infer(test, "exact", c))
        name = f"belief exact, calibrated on silver, {label}{SUFFIX}"
        rows.append(score(name, p, gold, sec + sec_i))
    learned = learned_sources(test, configs[1][1])
    if learned:
        top = sorted(learned.items(), key=lambda kv: -kv[1])[:5]
        copying = sum(v > 0 for v in learned.values())
        notes.append(
            f"silver calibration: {copying} of {len(learned)} stores with copy propensity > 0; "
            f"highest {[(k, round(v, 2)) for k, v in top]}"
        )
    notes.append(f"{len(gold)} gold claims ({sum(gold.values())} true) of {len(gold_books)} books")
    return rows, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sim", "books"), action="append")
    parser.add_argument("--joint", choices=("mcmc", "none"), default="mcmc")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated worlds")
    parser.add_argument("--out", type=Path, help="also write the tables (markdown) here")
    args = parser.parse_args(argv)
    only = set(args.only or ("sim", "books"))
    sections = []
    if "sim" in only:
        for world in WORLDS:
            rows, notes = simulated(world, args.joint, args.seed)
            sections.append((f"Copying: simulated, {world}", rows, notes))
    if "books" in only:
        rows, notes = books(args.folds)
        sections.append(("Copying: book_authors (405 gold claims)", rows, notes))
    text = "\n\n".join(
        f"### {title}\n\n{markdown(rows)}\n\n" + "\n".join(f"* {n}" for n in notes)
        for title, rows, notes in sections
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
