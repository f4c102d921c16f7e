"""The analyst's report: one file with claims, figures, ACH matrices, sources and assumptions.

:func:`write_report` writes HTML or Markdown, chosen by the file's suffix:

* ``.html`` / ``.htm``: a single self-contained page; figures are PNGs embedded as base64
  ``data:`` URIs and the style sheet is inline, so it opens offline and can be mailed as is.
* ``.md`` / ``.markdown``: figures are written as PNG files in a folder next to the report,
  ``<stem>_files/``, and linked by relative path (many Markdown viewers, GitHub's among them,
  do not show ``data:`` images). Pass ``embed_images=True`` to embed them as ``data:`` URIs
  instead and get a single file.

The report holds the claims table (P(true), interval, ICD 203 term), a belief timeline per
group of competing claims (and one for the other claims), the evidence contributions of each
claim, the ACH matrix of each group, the sources with their prior reliability, and the
assumptions: base rate, priors and where each came from, kind defaults, which reports were
treated as copies, and the effect of each signal. Timelines, contributions and ACH use the exact
engine whatever ``method`` computes the claims table. Every file is written atomically.

This module assembles the content (:func:`build_report`, a list of ``Block``) and writes
it; ``belief.report._render`` renders the blocks as HTML or Markdown.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from belief._version import __version__
from belief.core.compiler import effective_reports, signal_logodds
from belief.core.kinds import learned_group
from belief.data.io import atomic_path
from belief.data.types import Case, Source
from belief.engines import posterior as engine_posterior
from belief.exceptions import ValidationError
from belief.explain.sensitivity import reliability_prior_table
from belief.priors.config import Config
from belief.priors.reliability import ADMIRALTY_PRIORS, DEFAULT_PRIOR, KIND_PRIORS
from belief.report._render import Block, _html, _image_writer, _markdown

__all__ = ["build_report", "write_report"]

_MAX_CONTRIBUTIONS = 12  # waterfalls drawn at most (the first claims in case order)
_PER_TIMELINE = 4  # claims per timeline figure outside groups
_TEXT = {
    "timeline": "P(true) after each report and signal, in time order. Filled markers bear on "
    "the plotted claim, hollow ones on a linked claim; the shaded bands are the ICD 203 terms.",
    "contributions": "Log-odds moves of each claim from its prior (including the competition "
    "within its group) to its posterior, one bar per report or signal, in time order.",
    "ach": "For each group of competing claims: the log-likelihood of each report and signal "
    "under each hypothesis, sources at their prior mean reliability; rows by diagnosticity "
    "(max minus min), the exact posterior at the foot (definition: belief.explain.ach).",
    "sources": "Sensitivity is P(confirm | true), specificity P(deny | false), among "
    "informative reports: prior Beta mean and central 90% interval.",
}


def _png(draw: Callable[[], Any]) -> bytes:
    """Render what ``draw()`` returns (Axes or Figure) as PNG bytes."""
    art = draw()
    fig = art if hasattr(art, "savefig") else art.figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _claims_table(case: Case, post: pd.DataFrame) -> pd.DataFrame:
    text = {c.claim_id: (c.text, c.group or "") for c in case.claims}
    rows = []
    for r in post.itertuples():
        same = np.isclose(r.p_low, r.p_high)
        rows.append({
            "claim": r.claim_id,
            "group": text[r.claim_id][1],
            "P(true)": f"{r.p_true:.3f}",
            "interval": "(none)" if same else f"{r.p_low:.3f} – {r.p_high:.3f}",
            "verbal": r.verbal,
            "reports (independent)": f"{r.n_reports} ({r.n_independent})",
            "text": text[r.claim_id][0],
        })  # fmt: skip
    return pd.DataFrame(rows)


def _claim_sets(case: Case) -> list[tuple[str, list[str]]]:
    """Claims drawn together in a timeline: each group, then the others in fours."""
    groups: dict[str, list[str]] = {}
    for c in case.claims:
        if c.group is not None:
            groups.setdefault(c.group, []).append(c.claim_id)
    free = [c.claim_id for c in case.claims if c.group is None]
    sets = [(f"group {g}", ids) for g, ids in groups.items()]
    for k in range(0, len(free), _PER_TIMELINE):
        sets.append(("other claims", free[k : k + _PER_TIMELINE]))
    return sets


def _figures(case: Case, config: Config) -> list[Block]:
    from belief import plots

    out = [Block("h2", "Belief timelines"), Block("p", _TEXT["timeline"])]
    for k, (_, ids) in enumerate(_claim_sets(case)):
        png = _png(partial(plots.plot_timeline, case, ids, config=config))
        out.append(Block("figure", png, f"timeline_{k + 1}"))
    out += [Block("h2", "Evidence contributions"), Block("p", _TEXT["contributions"])]
    for cid in case.claim_ids[:_MAX_CONTRIBUTIONS]:
        png = _png(partial(plots.plot_contributions, case, cid, config=config))
        out.append(Block("figure", png, f"contributions_{cid}"))
    if len(case.claims) > _MAX_CONTRIBUTIONS:
        n = len(case.claims)
        out.append(Block("p", f"Contributions: the first {_MAX_CONTRIBUTIONS} of {n} claims."))
    return out


def _ach(case: Case, config: Config) -> list[Block]:
    from belief import plots
    from belief.explain.ach import ach_matrix

    groups = list(dict.fromkeys(c.group for c in case.claims if c.group is not None))
    if not groups:
        return []
    out = [Block("h2", "Competing hypotheses (ACH)"), Block("p", _TEXT["ach"])]
    for g in groups:
        m = ach_matrix(case, g, config)
        out.append(Block("h3", f"Group {g}"))
        out.append(Block("figure", _png(partial(plots.plot_ach, m)), f"ach_{g}"))
        hyps = m.attrs["hypotheses"]
        table = m.reset_index()[["item_id", "label", *hyps, "diagnosticity"]].copy()
        prior = ", ".join(f"{h} {p:.1%}" for h, p in m.attrs["prior"].items())
        out.append(Block("table", _fmt_numbers(table, 2)))
        out.append(Block("p", f"Prior P(hypothesis) before any evidence: {prior}."))
    return out


def _fmt_numbers(df: pd.DataFrame, digits: int) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = [("" if pd.isna(v) else f"{v:.{digits}f}") for v in out[col]]
    return out


def _field_origin(src: Source, field: str, config: Config) -> str:
    if (learned := learned_group(src, field, config)) is not None:
        return f"learned from the data (kind {learned[0]})"
    if getattr(src, field) is not None:
        return "own value"
    if src.admiralty in ADMIRALTY_PRIORS:
        return f"Admiralty {src.admiralty}"
    if src.kind is not None and field in config.kind_priors.get(src.kind, {}):
        return f"kind {src.kind} (case config)"
    if src.kind is not None and field in KIND_PRIORS.get(src.kind, {}):
        return f"kind {src.kind} (built-in)"
    return "global default"


def _prior_origin(src: Source, config: Config) -> str:
    if src.source_id in config.source_priors:
        return "source_priors (e.g. calibrated)"
    where = {f: _field_origin(src, f, config) for f in ("sensitivity", "specificity", "strength")}
    learned = [learned_group(src, f, config) for f in ("sensitivity", "specificity")]
    if all(learned):  # a kind's means learned by empirical Bayes (belief.core.kinds)
        return f"{where['strength']}; means learned from the data"
    if len(set(where.values())) == 1:
        return where["sensitivity"]
    return "; ".join(f"{f}: {w}" for f, w in where.items())


def _sources(case: Case, config: Config) -> list[Block]:
    from belief import plots

    prior = reliability_prior_table(case, config).set_index("source_id")
    smap = case.source_map()
    n = pd.Series([r.source_id for r in case.reports]).value_counts()
    rows = []
    for sid, src in smap.items():
        p = prior.loc[sid]
        rows.append({
            "source": sid, "name": src.name, "kind": src.kind or "", "side": src.side or "",
            "reports": int(n.get(sid, 0)),
            "sensitivity (90%)": f"{p.sens_mean:.2f} ({p.sens_low:.2f}–{p.sens_high:.2f})",
            "specificity (90%)": f"{p.spec_mean:.2f} ({p.spec_low:.2f}–{p.spec_high:.2f})",
            "strength": f"{p.strength:g}", "prior from": _prior_origin(src, config),
        })  # fmt: skip
    fig = _png(lambda: plots.plot_reliability_forest(prior.reset_index()))
    return [
        Block("h2", "Sources and their prior reliability"),
        Block("p", _TEXT["sources"]),
        Block("table", pd.DataFrame(rows)),
        Block("figure", fig, "reliability_priors"),
    ]


def _kind_table(case: Case, config: Config) -> pd.DataFrame:
    kinds = sorted({s.kind for s in case.source_map().values() if s.kind is not None})
    rows = []
    for k in kinds:
        case_cfg, builtin = dict(config.kind_priors.get(k, {})), KIND_PRIORS.get(k, {})
        merged = DEFAULT_PRIOR | dict(config.default_prior) | dict(builtin) | case_cfg
        origin = "case config" if case_cfg else "built-in" if builtin else "global default"
        rows.append({"kind": k, **{f: f"{merged[f]:g}" for f in
                     ("sensitivity", "specificity", "strength")}, "from": origin})  # fmt: skip
    return pd.DataFrame(rows)


def _copies_table(case: Case, config: Config) -> pd.DataFrame:
    rows = []
    for i, (r, src, w) in enumerate(effective_reports(case, config)):
        if r.derived_from is None:
            continue
        how = (
            f"stands in for {src}'s own report (full weight, {src}'s reliability)"
            if src != r.source_id
            else ("adds nothing (copy_weight 0)" if w == 0 else f"counts with weight {w:g}")
        )
        rows.append({"report": f"r{i + 1}", "source": r.source_id, "claim": r.claim_id,
                     "stance": r.stance, "repeats": r.derived_from, "treated as": how})  # fmt: skip
    return pd.DataFrame(rows)


def _rate(config: Config) -> str:
    if config.base_rate is None:
        a, b = config.base_rate_prior
        return f"learned from the data (empirical Bayes, Beta({a:g}, {b:g}) hyperprior)"
    return f"{config.base_rate:g}"


def _repeats_table(case: Case, config: Config) -> pd.DataFrame:
    """Reports that are probably repeats (p >= 0.5) under the configured copy propensities."""
    from belief.explain.repeats import repeat_table

    t = repeat_table(case, config)
    t = t[t["p_repeat"] >= 0.5]
    return _fmt_numbers(t, 2)


def _signals_table(case: Case, config: Config) -> pd.DataFrame:
    rows = []
    for s in case.signals:
        delta = signal_logodds(s, config)
        origin = (
            "explicit likelihood_ratio"
            if s.likelihood_ratio is not None
            else "case signal_effects"
            if s.kind in config.signal_effects
            else "default_signal_effect"
        )
        rows.append({"signal": s.signal_id, "claim": s.claim_id, "kind": s.kind,
                     "direction": f"{s.direction:+d}", "log-odds": f"{delta:+.2f}",
                     "odds ×": f"{np.exp(delta):.2f}", "effect from": origin,
                     "text": s.text})  # fmt: skip
    return pd.DataFrame(rows)


def _assumptions(case: Case, config: Config, method: str) -> list[Block]:
    own = [f"{c.claim_id} ({c.prior:g})" for c in case.claims if c.prior is not None]
    facts = [
        f"Claims table computed with the {method} engine; timelines, contributions and ACH "
        "with the exact engine (reliability integrated out).",
        f"Base rate (prior P(true) of claims without their own prior): {_rate(config)}. "
        f"Claims with their own prior: {', '.join(own) or 'none'}.",
        "A group's claims compete: at most one is true, and possibly none.",
        "Global reliability default: "
        + ", ".join(f"{k} {v:g}" for k, v in (DEFAULT_PRIOR | dict(config.default_prior)).items()),
        f"Copies (reports with derived_from) count with weight copy_weight = "
        f"{config.copy_weight:g}, except the earliest copy of a source that has no report of "
        "its own on that claim, which stands in for it.",
    ]
    out = [Block("h2", "Assumptions"), Block("list", facts)]
    for title, table in (
        ("Reliability defaults per source kind", _kind_table(case, config)),
        ("Reports treated as copies", _copies_table(case, config)),
        ("Probable unattributed repeats (circular reporting)", _repeats_table(case, config)),
        ("Signals and their effect on the prior log-odds", _signals_table(case, config)),
    ):
        if len(table):
            out += [Block("h3", title), Block("table", table)]
    return out


def build_report(
    case: Case,
    method: str = "exact",
    config: Config | None = None,
    posterior: pd.DataFrame | None = None,
) -> list:
    """The report's content as a list of ``Block`` (headings, text, tables, PNG figures).

    ``posterior`` is the claims table when the caller has already computed it with ``method``
    (the command line has), so that the engine does not run twice.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm"}]})
    >>> [b.content for b in build_report(case) if b.kind == "h2"][:2]
    ['Claims', 'Belief timelines']
    """
    config = Config.from_case(case) if config is None else config
    post = engine_posterior(case, method, config) if posterior is None else posterior
    head = [
        Block("p", case.description) if case.description else None,
        Block(
            "p",
            f"{len(case.claims)} claims, {len(case.source_map())} sources, "
            f"{len(case.reports)} reports, {len(case.signals)} signals. "
            f"belief {__version__}, method {method}.",
        ),
        Block("h2", "Claims"),
        Block("table", _claims_table(case, post)),
        Block("p", f"Interval: {post.attrs.get('interval', 'as the method computes it')}."),
    ]
    blocks = [b for b in head if b is not None]
    blocks += _figures(case, config) + _ach(case, config) + _sources(case, config)
    return blocks + _assumptions(case, config, method)


def write_report(
    case: Case,
    path: str | os.PathLike[str],
    method: str = "exact",
    *,
    config: Config | None = None,
    embed_images: bool | None = None,
    posterior: pd.DataFrame | None = None,
) -> Path:
    """Write the analyst's report of ``case`` to ``path`` (HTML or Markdown by suffix).

    Parameters
    ----------
    case : Case
    path : path-like
        ``.html``/``.htm`` or ``.md``/``.markdown``.
    method : str
        Engine of the claims table: ``exact`` (default), ``fast``, ``mcmc``, ``advi``, ``map``.
    config : Config, optional
        Default ``Config.from_case(case)``.
    embed_images : bool, optional
        Markdown only: embed figures as ``data:`` URIs instead of files in ``<stem>_files/``.
        HTML always embeds them.
    posterior : DataFrame, optional
        The claims table, if already computed with ``method`` (it is not computed again).

    Returns
    -------
    Path
        The report's path.

    Raises
    ------
    ValidationError
        For an unsupported suffix or method.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"name": "demo", "reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm"}]})
    >>> out = write_report(case, pathlib.Path(tempfile.mkdtemp()) / "demo.html")
    >>> "<td>c</td>" in out.read_text()
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".md", ".markdown"):
        raise ValidationError(f"{path}: report must end in .html, .htm, .md or .markdown")
    blocks = build_report(case, method, config, posterior)
    title = f"belief report: {case.name or path.stem}"
    if suffix in (".html", ".htm"):
        text = _html(title, blocks)
    else:
        text = _markdown(title, blocks, _image_writer(path, bool(embed_images)))
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
