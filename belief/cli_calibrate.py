"""``belief calibrate`` and ``belief evaluate``: learn priors, and cross-validate engines.

:func:`register` adds both subcommands to the ``belief`` parser (:mod:`belief.cli` loads it).
:func:`evaluate` is the Python equivalent of ``belief evaluate``; :func:`fit_predictor` builds
the ``fit_predict(train_case, test_ids)`` function that
:func:`belief.scoring.cross_validate` calls, for every evaluation method:

========================  ==================================================================
``exact``                 exact engine, the case's own priors (truths unused)
``fast``                  :mod:`belief.fast` vectorized engine, the case's own priors
``calibrated``            calibrate by EM on the training claims (held-out claims and their
                          reports removed), then the exact engine on the held-out claims
``calibrated-bayes``      the same, calibrating with the joint model (``method="bayes"``)
``em``                    EM on the whole case with held-out truths hidden (transductive);
                          its plug-in posterior (uses the side-alignment effect)
``map``/``advi``/``mcmc`` the joint PyMC model on the whole case (truths unused)
========================  ==================================================================
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from belief.config import Config
from belief.engines import METHODS, posterior
from belief.exceptions import ValidationError
from belief.types import Case

EVAL_METHODS = ("exact", "fast", "calibrated", "calibrated-bayes", "em", "map", "advi", "mcmc")
FitPredict = Callable[[Case, list[str]], Any]


def subcase(case: Case, claim_ids: Iterable[str]) -> Case:
    """The claims ``claim_ids`` of ``case`` with their reports and signals (all sources kept).

    Examples
    --------
    >>> from belief.types import Claim, Report
    >>> case = Case((Claim("a"), Claim("b")), reports=(Report("a", "s", "confirm"),))
    >>> sub = subcase(case, ["b"])
    >>> sub.claim_ids, len(sub.reports)
    (['b'], 0)
    """
    keep = set(claim_ids)
    return case.replace(
        claims=tuple(c for c in case.claims if c.claim_id in keep),
        reports=tuple(r for r in case.reports if r.claim_id in keep),
        signals=tuple(s for s in case.signals if s.claim_id in keep),
    )


def _cached(predict_all: Callable[[Case], pd.DataFrame]) -> FitPredict:
    """A fit_predict that ignores truths: one run on the whole case serves every fold."""
    memo: dict[int, pd.Series] = {}

    def fit_predict(train: Case, test_ids: list[str]) -> pd.Series:
        key = id(train.reports)  # folds share the reports tuple; only truths differ
        if key not in memo:
            memo.clear()
            memo[key] = predict_all(train).set_index("claim_id")["p_true"]
        return memo[key].loc[test_ids]

    return fit_predict


def fit_predictor(method: str, **options: Any) -> FitPredict:
    """The ``fit_predict(train_case, test_ids)`` of an evaluation method (see module table).

    ``options``: ``sampler_config`` (joint model), ``max_iter`` (EM).

    Examples
    --------
    >>> from belief.simulate import simulate_case
    >>> case = simulate_case(60, 8, density=0.4, random_seed=0)
    >>> p = fit_predictor("calibrated")(case, ["c0001", "c0002"])
    >>> sorted(p.index)
    ['c0001', 'c0002']
    """
    if method not in EVAL_METHODS:
        raise ValidationError(f"--method: expected one of {list(EVAL_METHODS)} but got {method!r}")
    sampler = options.get("sampler_config")
    if method in METHODS:  # engines that ignore truths: one run serves every fold
        joint = {"sampler_config": sampler} if method in ("mcmc", "advi", "map") else {}
        return _cached(lambda case: posterior(case, method, **joint))
    if method == "em":
        from belief.calibrate import fit_em

        def em(train: Case, test_ids: list[str]) -> pd.Series:
            res = fit_em(train, max_iter=options.get("max_iter", 500))
            return res.posterior.set_index("claim_id")["p_true"].loc[test_ids]

        return em
    return _calibrated("bayes" if method == "calibrated-bayes" else "em", sampler)


def _calibrated(how: str, sampler: Any) -> FitPredict:
    from belief.calibrate import calibrate
    from belief.exact import infer_exact as infer
    from belief.priors_file import apply_priors

    def fit_predict(train: Case, test_ids: list[str]) -> pd.Series:
        held = set(test_ids)
        fit_case = subcase(train, [c for c in train.claim_ids if c not in held])
        priors = calibrate(fit_case, how, sampler_config=sampler)
        test = subcase(train, test_ids)
        config = apply_priors(Config.from_case(test), priors, test)
        return infer(test, config).posterior.set_index("claim_id")["p_true"]

    return fit_predict


def evaluate(
    case: Case, method: str = "calibrated", k: int = 5, seed: int = 0, by: str = "group", **options
):
    """K-fold cross-validated scores of ``method`` on the resolved claims of ``case``.

    Returns :class:`belief.scoring.CVResult` (``folds`` table, ``predictions``, ``summary()``)
    with ``attrs``-style timing in ``result.predictions.attrs["seconds"]``.

    Examples
    --------
    >>> from belief.simulate import simulate_case
    >>> case = simulate_case(80, 8, density=0.4, random_seed=0)
    >>> res = evaluate(case, "exact", k=2, by="claim")
    >>> res.folds["fold"].tolist()
    [0, 1, 'mean']
    """
    from belief.scoring import cross_validate

    start = time.perf_counter()
    result = cross_validate(case, fit_predictor(method, **options), k=k, seed=seed, by=by)
    result.predictions.attrs["seconds"] = time.perf_counter() - start
    return result


def _fmt_priors(priors: Any) -> str:
    lines = [
        f"base rate {priors.base_rate:.3f}; side-alignment effect {priors.side_effect:+.3f} "
        f"(logit); {len(priors.sources)} sources calibrated",
        f"  {'kind':<16} {'sensitivity':>11} {'specificity':>11} {'strength':>9}",
    ]
    rows = [*priors.kinds.items(), ("(default)", priors.default)]
    for kind, sp in rows:
        strength = f"{sp.sensitivity.strength:.0f}/{sp.specificity.strength:.0f}"
        lines.append(
            f"  {kind:<16} {sp.sensitivity.mean:>11.3f} {sp.specificity.mean:>11.3f} {strength:>9}"
        )
    lines += [f"  signal {k}: {v:+.3f} log-odds" for k, v in priors.signal_effects.items()]
    return "\n".join(lines)


def _file_hashes(args: argparse.Namespace) -> dict[str, Any]:
    import hashlib
    from pathlib import Path

    out = {}
    for name in ("claims", "sources", "reports", "signals"):
        path = getattr(args, name, None)
        if path:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            out[name] = {"path": str(path), "sha256": digest}
    return out


def cmd_calibrate(args: argparse.Namespace) -> None:
    """``belief calibrate``: priors.json from resolved claims."""
    from belief.calibrate import calibrate
    from belief.cli import _read_settings
    from belief.io import read_tables
    from belief.priors_file import write_priors

    settings = _read_settings(args.config)
    case = read_tables(args.claims, args.sources, args.reports, args.signals, config=settings)
    sampler = {"random_seed": args.seed}
    priors = calibrate(case, args.method, bayes_method=args.bayes_method, sampler_config=sampler)
    prov = {**priors.provenance, "inputs": _file_hashes(args)}
    write_priors(dataclasses.replace(priors, provenance=prov), args.out)
    n_res = prov.get("n_resolved", 0)
    print(f"Calibrated on {len(case.claims)} claims ({n_res} resolved), method {args.method}")
    print(_fmt_priors(priors))
    print(f"wrote {args.out}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    """``belief evaluate``: K-fold cross-validated scores."""
    from belief.cli import _read_settings
    from belief.io import read_tables, write_csv

    settings = _read_settings(args.config)
    case = read_tables(args.claims, args.sources, args.reports, args.signals, config=settings)
    result = evaluate(
        case,
        args.method,
        k=args.folds,
        seed=args.seed,
        by=args.by,
        sampler_config={"random_seed": args.seed},
    )
    table = result.folds
    print(
        f"{args.folds}-fold cross-validation by {args.by} of method {args.method} on "
        f"{len(result.predictions)} resolved claims ({result.predictions.attrs['seconds']:.1f} s)"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}", na_rep="-"))
    if args.out:
        write_csv(table, args.out)
        print(f"wrote {args.out}")
    if args.predictions:
        write_csv(result.predictions, args.predictions)
        print(f"wrote {args.predictions}")


def register(subparsers: Any, add_table_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``calibrate`` and ``evaluate`` subcommands to the ``belief`` parser."""
    cal = subparsers.add_parser("calibrate", help="priors.json from claims with resolved truth")
    add_table_args(cal)
    cal.add_argument("--out", required=True, help="output priors.json")
    cal.add_argument(
        "--method",
        choices=("em", "bayes"),
        default="em",
        help="em: empirical Bayes, seconds (default); bayes: joint PyMC model",
    )
    cal.add_argument(
        "--bayes-method",
        choices=("advi", "mcmc"),
        default="advi",
        help="how --method bayes fits the joint model (default advi)",
    )
    cal.add_argument("--seed", type=int, default=0, help="random seed (--method bayes)")
    cal.add_argument("--config", help="engine settings (YAML/JSON): a case file's config keys")
    cal.set_defaults(func=cmd_calibrate)
    ev = subparsers.add_parser("evaluate", help="cross-validated scores on resolved claims")
    add_table_args(ev)
    ev.add_argument("--folds", type=int, default=5, help="number of folds K (default 5)")
    ev.add_argument(
        "--method",
        choices=EVAL_METHODS,
        default="calibrated",
        help="engine to evaluate (default calibrated)",
    )
    ev.add_argument(
        "--by",
        choices=("group", "claim"),
        default="group",
        help="fold unit: claim groups (default) or single claims",
    )
    ev.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    ev.add_argument("--config", help="engine settings (YAML/JSON): a case file's config keys")
    ev.add_argument("--out", help="write the per-fold table as CSV")
    ev.add_argument("--predictions", help="write held-out predictions as CSV")
    ev.set_defaults(func=cmd_evaluate)
