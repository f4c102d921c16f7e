"""``belief calibrate`` and ``belief evaluate``: learn priors, and cross-validate engines.

:func:`register` adds both subcommands to the ``belief`` parser (:mod:`belief.cli` loads it);
the work is done by :func:`belief.calibrate` and :func:`belief.evaluation.evaluate`.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from belief.evaluation.crossval import EVAL_METHODS, evaluate


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
    copying = {**priors.kind_copy_propensity, "(default)": priors.default_copy_propensity or 0.0}
    if any(copying.values()) or priors.copy_propensity:
        top = sorted(priors.copy_propensity.items(), key=lambda kv: -kv[1])[:5]
        lines.append(
            "  copy propensity (unattributed repeats): "
            + ", ".join(f"{k} {v:.2f}" for k, v in copying.items())
        )
        lines.append("  most likely repeaters: " + ", ".join(f"{s} {v:.2f}" for s, v in top))
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
    from belief.calibration.calibrate import calibrate
    from belief.cli import _read_settings
    from belief.data.io import read_tables
    from belief.priors.file import write_priors

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
    from belief.data.io import read_tables, write_csv

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
    shown = table.rename(columns={"log_score": "log_loss"})
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.4f}", na_rep="-"))
    print(
        "pooled: all held-out claims scored together. Lower is better for brier, log_loss "
        "(nats) and ece; higher for accuracy, auc and macro_f1; slope 1 and intercept 0 are "
        "perfect calibration."
    )
    from belief.evaluation.scoring import missing_reasons

    pred = result.predictions
    for metric, why in missing_reasons(pred["truth"], pred["p_true"]).items():
        print(f"pooled {metric} missing: {why}")
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
