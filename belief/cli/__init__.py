"""The ``belief`` command line: a thin wrapper over the public API.

Every command exits with status 2 and a one-line ``belief: error: ...`` message on bad input,
and writes output files atomically (no half-written file on failure).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence

import pandas as pd

from belief.data.io import load_mapping, read_case, read_side_tables, read_tables, write_table
from belief.data.types import POSTERIOR_COLUMNS, Case
from belief.engines import METHODS, infer
from belief.engines.result import BeliefResult
from belief.exceptions import (
    BeliefError,
    BeliefWarning,
    EnumerationLimitError,
    ValidationError,
)
from belief.priors.config import Config


def _config(case: Case, priors: str | None) -> Config:
    config = Config.from_case(case)
    if priors is None:
        return config
    from belief.priors.file import apply_priors

    return apply_priors(case, priors, config)


def _posterior(
    case: Case, method: str, priors: str | None = None, args: argparse.Namespace | None = None
) -> pd.DataFrame:
    """Posterior table of ``case`` with the chosen engine (and calibrated priors, if given)."""
    options: dict = {}
    if method in ("mcmc", "advi", "map"):
        sampler = {k: getattr(args, k, None) for k in ("draws", "tune", "chains", "nuts_sampler")}
        sampler["random_seed"] = getattr(args, "seed", None)
        options["sampler_config"] = {k: v for k, v in sampler.items() if v is not None}
        options["save_model"] = getattr(args, "save_model", None)
        result = infer(case, method, _config(case, priors), **options)
        lines = _copy_summary(result.reliability)
        d = result.diagnostics
        if "sampling_seconds" in d:  # NUTS: where the time went (benchmarks/model_speed.py)
            lines.insert(0, f"NUTS ({d['nuts_sampler']}): compiled in {d['compile_seconds']:.1f} "
                         f"s, sampled in {d['sampling_seconds']:.1f} s")  # fmt: skip
        result.posterior.attrs["copy_summary"] = lines
        return _with_learned(result)
    return _with_learned(infer(case, method, _config(case, priors), **options))


def _with_learned(result: BeliefResult) -> pd.DataFrame:
    """The posterior table, with what the engine learned from the data in ``attrs``."""
    d, lines = result.diagnostics, []
    if isinstance(d.get("base_rate"), float):
        lines.append(f"learned from the data: base rate {d['base_rate']:.3f}")
    kinds = d.get("kind_reliability") or {}
    if kinds:
        text = ", ".join(f"{k} {v.get('sensitivity', float('nan')):.2f}/"
                         f"{v.get('specificity', float('nan')):.2f}"
                         for k, v in sorted(kinds.items()))  # fmt: skip
        lines.append(f"learned from the data: mean sensitivity/specificity by kind: {text}")
    result.posterior.attrs["learned_summary"] = lines
    return result.posterior


def _copy_summary(reliability: pd.DataFrame) -> list[str]:
    """The joint model's copy propensities (unattributed repeats), by kind and the top sources."""
    if "copy_propensity" not in reliability:
        return []
    rel = reliability.sort_values("copy_propensity", ascending=False)
    learned = rel[rel["copy_learned"]] if "copy_learned" in rel else rel
    by_kind = learned.groupby("kind")["copy_propensity"].mean().sort_values(ascending=False)
    lines = ["copy propensity (unattributed repeats; posterior mean, 90% interval):"]
    if len(by_kind):
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in by_kind.items())
        lines.append(f"  learned, mean by kind: {kinds}")
    for r in rel.head(5).itertuples():
        how = "learned" if getattr(r, "copy_learned", False) else "fixed"
        lines.append(
            f"  {r.source_id} ({r.kind}): {r.copy_propensity:.2f} "
            f"[{r.copy_propensity_low:.2f}, {r.copy_propensity_high:.2f}] {how}"
        )
    return lines


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("joint model (--method mcmc|advi|map)")
    g.add_argument("--draws", type=int, help="posterior draws per chain (default 1000)")
    g.add_argument("--tune", type=int, help="tuning steps per chain (default 1000)")
    g.add_argument("--chains", type=int, help="number of chains (default 4)")
    g.add_argument("--seed", type=int, help="random seed")
    g.add_argument("--nuts-sampler", help="NUTS back-end: auto (default), nutpie or pymc")
    g.add_argument("--save-model", help="save the fitted model (netCDF) here")


_LOCAL_SCHEDULERS = ("threads", "processes", "synchronous", "single-threaded")


def _read_settings(path: str | None) -> dict:
    """Engine settings from a YAML/JSON file: the same keys as a case file's ``config:``."""
    if path is None:
        return {}
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = load_mapping(f.name) or {}
    except OSError as e:
        raise ValidationError(f"{path}: cannot read config file ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ValidationError(f"{path}: not valid YAML/JSON: {' '.join(str(e).split())}") from None
    data = data.get("config", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise ValidationError(f"{path}: expected a mapping of engine settings")
    try:
        Config.from_case(Case((), config=data))  # validate now, naming the file
    except ValidationError as e:
        raise ValidationError(f"{path}: {e}") from None
    return data


_JOINT_FLAGS = ("draws", "tune", "chains", "seed", "nuts_sampler", "save_model")


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse a flag the chosen method or backend would ignore, naming it."""
    joint = args.method in ("mcmc", "advi", "map")
    for name in _JOINT_FLAGS:
        if getattr(args, name, None) is not None and not joint:
            flag = "--" + name.replace("_", "-")
            raise ValidationError(
                f"{flag}: only used by the joint model (--method mcmc, advi or map), "
                f"not by --method {args.method}"
            )
    backend = getattr(args, "backend", "memory")
    if backend == "dask" and args.method != "fast":
        raise ValidationError(f"--backend dask: needs --method fast, not --method {args.method}")
    if getattr(args, "dask_scheduler", None) and backend != "dask":
        raise ValidationError("--dask-scheduler: only used with --backend dask")
    spill = getattr(args, "dask_spill", None)
    if spill and backend != "dask":
        raise ValidationError("--dask-spill: only used with --backend dask")
    if spill and spill != "memory" and not os.path.isdir(spill):
        raise ValidationError(
            f"--dask-spill {spill}: not a directory (give an existing directory, or 'memory')"
        )


def _side_tables(args: argparse.Namespace, settings: dict) -> tuple[Case, Config]:
    """The small tables, read once, and their settings (with calibrated priors, if given)."""
    side = read_side_tables(args.claims, args.sources, args.signals, config=settings)
    return side, _config(side, args.priors)


def _posterior_large(args: argparse.Namespace, settings: dict) -> pd.DataFrame:
    """``--method fast``: stream the reports, never build per-row objects."""
    side, config = _side_tables(args, settings)
    if args.backend == "dask":
        from belief.engines.dask import infer_dask

        client, scheduler = None, args.dask_scheduler
        if scheduler and "://" in scheduler:
            from distributed import Client

            try:
                client, scheduler = Client(scheduler, timeout=10), None
            except (OSError, TimeoutError) as e:
                raise ValidationError(
                    f"--dask-scheduler {scheduler}: cannot connect within 10 s ({e or 'timeout'})"
                ) from None
        elif scheduler and scheduler not in _LOCAL_SCHEDULERS:
            raise ValidationError(
                f"--dask-scheduler: expected tcp://HOST:PORT or one of "
                f"{', '.join(_LOCAL_SCHEDULERS)} but got {scheduler!r}"
            )
        try:
            return _with_learned(infer_dask(
                args.reports,
                args.claims,
                config=config,
                tables=side,
                client=client,
                scheduler=scheduler,
                spill={None: None, "memory": False}.get(args.dask_spill, args.dask_spill),
            ))  # fmt: skip
        finally:
            if client is not None:  # our connection only: the cluster keeps running
                client.close()
    from belief.core.compiler import read_evidence
    from belief.engines.fast import infer_fast

    many = glob.has_magic(args.reports) and not os.path.exists(args.reports)
    if os.path.isdir(args.reports) or many:
        raise ValidationError(
            f"--reports {args.reports}: a directory or glob of report files is read by "
            "--backend dask; give one file (CSV or Parquet) without it"
        )
    ev = read_evidence(args.reports, args.claims, config=config, tables=side)
    return _with_learned(infer_fast(ev, config))


def _fmt_table(post: pd.DataFrame, case: Case) -> str:
    text = {c.claim_id: c.text for c in case.claims}
    rows = [
        (r.claim_id, f"{r.p_true:.3f}", r.verbal, f"{r.n_reports} ({r.n_independent} indep.)")
        for r in post.itertuples()
    ]
    head = ("claim", "P(true)", "verbal", "reports")
    widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths)) for row in rows]
    lines += ["", *(f"  {cid}: {text[cid]}" for cid in post.claim_id if text.get(cid))]
    return "\n".join(lines)


def _fmt_timeline(case: Case, claim_id: str) -> str:
    from belief.explain.timeline import timeline

    tl = timeline(case, [claim_id])
    lines = [f"Timeline of {claim_id!r}:"]
    for r in tl.itertuples():
        when = "start" if pd.isna(r.time) else r.time.strftime("%Y-%m-%d %H:%M")
        lines.append(f"  {when:<16}  P={r.p_true:.3f}  {r.events}")
    return "\n".join(lines)


def _fmt_contributions(case: Case, claim_id: str) -> str:
    from belief.explain.timeline import contributions

    df = contributions(case, claim_id)
    lines = [
        f"Evidence contributions to {claim_id!r} (log-odds; prior "
        f"{df.attrs['prior_logodds']:+.2f} -> posterior {df.attrs['posterior_logodds']:+.2f}):",
        f"  {'sequential':>10}  {'leave-out':>9}  item",
    ]
    for r in df.itertuples():
        lines.append(f"  {r.sequential:>+10.3f}  {r.loo:>+9.3f}  {r.label}")
    return "\n".join(lines)


@contextlib.contextmanager
def _named(origin: str | None) -> Iterator[None]:
    """Name the file whose ``on_large: error`` setting refused a component (a case or --config)."""
    try:
        yield
    except EnumerationLimitError as e:
        if origin is None:
            raise
        raise EnumerationLimitError(f"{origin}: config on_large is 'error': {e}") from None


def cmd_run(args: argparse.Namespace) -> None:
    """``belief run CASE``: the analyst's view of one case file."""
    _check_flags(args)
    case = read_case(args.case)
    try:
        Config.from_case(case)
    except ValidationError as e:  # the config is part of the case file: name the file
        raise ValidationError(f"{args.case}: {e}") from None
    settings = _read_settings(args.config)
    if settings:  # --config overrides deep-merge into the case file's own settings
        from belief.priors.config import merge_settings

        case = case.replace(config=merge_settings(case.config, settings))
    if not case.claims:
        raise ValidationError(f"{args.case}: the case has no claims (and no reports to infer them)")
    with _named(args.config if "on_large" in settings else args.case):
        _show(args, case)


def _show(args: argparse.Namespace, case: Case) -> None:
    """``belief run``'s output: table, timeline, contributions; posterior.csv and report."""
    post = _posterior(case, args.method, None, args)
    focus = args.claim or case.meta.get("focus_claim") or case.claims[0].claim_id
    if not isinstance(focus, str) or focus not in case.claim_ids:
        where = "--claim" if args.claim else f"{args.case}, top-level key 'focus_claim'"
        known = ", ".join(case.claim_ids[:10]) + (", ..." if len(case.claims) > 10 else "")
        raise ValidationError(f"{where}: unknown claim {focus!r}; known: {known}")
    print(
        f"Case {case.name or args.case}: {len(case.claims)} claims, {len(case.reports)} reports, "
        f"{len(case.signals)} signals (method: {args.method})\n"
    )
    print(_fmt_table(post, case), end="\n\n")
    print(f"p_low/p_high: {post.attrs.get('interval', 'see the method')}\n")
    for line in post.attrs.get("learned_summary", []):
        print(line, end="\n\n")
    print(_fmt_timeline(case, focus), end="\n\n")
    print(_fmt_contributions(case, focus))
    cfg = Config.from_case(case)
    if cfg.default_copy_propensity or cfg.copy_propensity or cfg.source_copy_propensity:
        from belief.explain.repeats import describe_repeats, repeat_table

        lines = describe_repeats(repeat_table(case, cfg))
        print("\nProbable unattributed repeats (p >= 0.5):")
        print("\n".join(f"  {line}" for line in lines) or "  none")
    if args.out:
        write_table(post[list(POSTERIOR_COLUMNS)], args.out)
    if args.report:
        from belief.report.build import write_report

        write_report(case, args.report, method=args.method, posterior=post)


def cmd_infer(args: argparse.Namespace) -> None:
    """``belief infer``: posterior.csv (or .parquet) from the contract's tables."""
    _check_flags(args)
    settings = _read_settings(args.config)
    if args.method == "fast":
        with _named(args.config):
            post = _posterior_large(args, settings)
    else:
        case = read_tables(args.claims, args.sources, args.reports, args.signals, config=settings)
        with _named(args.config):
            post = _posterior(case, args.method, args.priors, args)
    write_table(post[list(POSTERIOR_COLUMNS)], args.out)
    print(f"wrote {args.out} ({len(post)} claims, method {args.method})")
    for line in post.attrs.get("learned_summary", []) + post.attrs.get("copy_summary", []):
        print(line)


def _tables(p: argparse.ArgumentParser, *, signals: bool = True) -> None:
    p.add_argument("--claims", help="claims.csv (or .parquet)")
    p.add_argument("--sources", help="sources.csv (or .parquet)")
    p.add_argument(
        "--reports",
        required=True,
        help="reports.csv (or .parquet); with --backend dask also a directory or glob of them",
    )
    if signals:
        p.add_argument("--signals", help="signals.csv (or .parquet)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands ``run``, ``infer``, and any registered extensions)."""
    parser = argparse.ArgumentParser(prog="belief", description=__doc__.splitlines()[0])
    from belief._version import __version__

    parser.add_argument("--version", action="version", version=f"belief {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="analyst's view of a case file: table, timeline, contributions"
    )
    run.add_argument("case", help="case file (.yaml, .yml or .json)")
    run.add_argument("--method", choices=METHODS, default="exact")
    run.add_argument("--claim", help="claim whose timeline and contributions to show")
    run.add_argument("--out", help="also write posterior.csv (or .parquet) here")
    run.add_argument("--report", help="write an analyst's report (.html or .md)")
    run.add_argument(
        "--config", help="engine settings (YAML/JSON) deep-merged into the case file's config"
    )
    _model_args(run)
    run.set_defaults(func=cmd_run)
    inf = sub.add_parser(
        "infer", help="posterior.csv from claims/sources/reports/signals tables (CSV or Parquet)"
    )
    _tables(inf)
    inf.add_argument("--priors", help="priors.json from `belief calibrate`")
    inf.add_argument(
        "--config", help="engine settings (YAML/JSON), the keys of a case file's config: block"
    )
    inf.add_argument("--method", choices=METHODS, default="exact")
    inf.add_argument(
        "--out", required=True, help="output posterior.csv (Parquet if it ends in .parquet)"
    )
    inf.add_argument(
        "--backend",
        choices=("memory", "dask"),
        default="memory",
        help="with --method fast: in memory (default) or Dask over partitioned report files",
    )
    inf.add_argument(
        "--dask-scheduler",
        help="Dask scheduler: tcp://HOST:8786 for a cluster, or threads/processes/synchronous",
    )
    inf.add_argument(
        "--dask-spill",
        help="where the coded partitions are written out of core (default: the temporary "
        "directory, without a cluster); 'memory' keeps them in memory",
    )
    _model_args(inf)
    inf.set_defaults(func=cmd_infer)
    for register in _EXTENSIONS:
        register(sub, _tables)
    return parser


#: Functions ``register(subparsers, add_table_args)`` adding more subcommands.
_EXTENSIONS: list[Callable[..., None]] = []


def _load_extensions() -> None:
    try:
        from belief.cli.calibrate import register
    except ImportError:  # the calibration commands are optional until they land
        return
    if register not in _EXTENSIONS:
        _EXTENSIONS.append(register)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``belief`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "infer"):  # no need to import what they import
        _load_extensions()
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", BeliefWarning)
            # a performance note from PyTensor's pip build, not about the user's data
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
            warnings.showwarning = _show_warning
            from belief.cli._paths import check_paths

            check_paths(args)
            args.func(args)
    except BeliefError as e:
        print(f"belief: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `belief run case.yaml | head -1`: the reader left
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print("belief: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"belief: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    return 0


def _one_line(message: str) -> str:
    """The contract promises a one-line error: join a multi-line message."""
    return " ".join(line.strip() for line in message.strip().splitlines() if line.strip())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"belief: warning: {_one_line(str(message))}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
