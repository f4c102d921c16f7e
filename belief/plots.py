"""Figures of a case: belief timeline, evidence waterfall, reliability, calibration, what-if, ACH.

Every function draws on the ``ax`` it is given, or on a new :class:`matplotlib.figure.Figure`
(never through ``pyplot``, so nothing is registered globally and no window opens), and returns
the Axes (or the Figure, for multi-panel plots). No rcParams are changed. To show a figure in a
notebook, make ``ax.figure`` the cell's last expression; to save it, ``ax.figure.savefig(path)``.

Colours follow the Okabe–Ito palette (readable with colour-blindness): a confirm is blue, a deny
vermillion, a neutral report grey, a signal bluish green (+1) or reddish purple (-1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory, offset_copy
from numpy.typing import ArrayLike
from scipy.special import expit, logit

from belief.evidence import ExactConfig, compile_evidence
from belief.exact import components, infer
from belief.exceptions import ValidationError
from belief.reliability import BetaPrior, SourcePrior, resolve_source_prior
from belief.timeline import contributions, timeline
from belief.types import Case, Source
from belief.verbal import ICD203_EDGES, ICD203_TERMS

__all__ = [
    "KIND_MARKERS",
    "STANCE_COLORS",
    "plot_ach",
    "plot_contributions",
    "plot_reliability_diagram",
    "plot_reliability_forest",
    "plot_timeline",
    "plot_what_if",
]

#: Marker colour per stance (and per signal direction).
STANCE_COLORS: dict[str, str] = {
    "confirm": "#0072B2",
    "deny": "#D55E00",
    "neutral": "#999999",
    "signal +1": "#009E73",
    "signal -1": "#CC79A7",
}
#: Marker per source kind; other kinds take the unused markers in sorted order.
KIND_MARKERS: dict[str, str] = {
    "official": "P", "wire": "X", "media": "o", "local": "^", "party": "D",
    "blog": "s", "social": "v", "activist": "h", "signal": "*",
}  # fmt: skip
_SPARE_MARKERS = ("p", "<", ">", "8", "H", "d", "1", "2")
_LINE_COLORS = ("#222222", "#8C564B", "#6A3D9A", "#7F7F7F", "#B8860B", "#17BECF")
_LINE_STYLES = ("-", "--", "-.", ":")
_UP, _DOWN, _ZERO = "#0072B2", "#D55E00", "#9E9E9E"
_P_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99,
            0.999)  # fmt: skip


def _new_ax(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").add_subplot()


def _shade_bands(ax: Axes) -> None:
    """Shade the ICD 203 probability bands, alternately, and name them at the right edge."""
    edges = (0.0, *ICD203_EDGES, 1.0)
    trans = blended_transform_factory(ax.transAxes, ax.transData)
    for k, term in enumerate(ICD203_TERMS):
        lo, hi = edges[k], edges[k + 1]
        ax.axhspan(lo, hi, color="#000000", alpha=0.07 if k % 2 else 0.025, lw=0, zorder=0)
        ax.text(1.01, (lo + hi) / 2, term, transform=trans, va="center", fontsize=7,
                color="#555555", clip_on=False)  # fmt: skip


def _kind_markers(kinds: Sequence[str]) -> dict[str, str]:
    spare = iter(m for m in _SPARE_MARKERS if m not in KIND_MARKERS.values())
    return {k: KIND_MARKERS.get(k) or next(spare, "o") for k in sorted(set(kinds))}


def _events(case: Case) -> pd.DataFrame:
    """One row per report and signal: id, claim, time, colour key, kind."""
    smap = case.source_map()
    rows = [
        (f"r{i + 1}", r.claim_id, r.time, r.stance, smap[r.source_id].kind or "unknown")
        for i, r in enumerate(case.reports)
    ]
    rows += [
        (s.signal_id, s.claim_id, s.time, f"signal {s.direction:+d}", "signal")
        for s in case.signals
    ]
    df = pd.DataFrame(rows, columns=["item_id", "claim_id", "time", "color", "kind"])
    df["time"] = pd.to_datetime(df["time"])
    return df


def _step_x(tl: pd.DataFrame) -> tuple[pd.Series, bool]:
    """x position per step: its time, the prior and untimed steps just before the first time."""
    steps = tl.drop_duplicates("step").set_index("step")["time"]
    timed = steps.dropna()
    if timed.empty:
        return pd.Series(steps.index, index=steps.index, dtype=float), False
    span = timed.max() - timed.min()
    pad = span * 0.04 if span > pd.Timedelta(0) else pd.Timedelta(hours=1)
    start = timed.min() - pad
    x = steps.copy()
    x[steps.isna()] = [start + pad * (0.5 * k) for k in range(int(steps.isna().sum()))]
    return x, True


def _component_of(case: Case, config: ExactConfig) -> dict[str, int]:
    ev = compile_evidence(case, config)
    return {ev.claim_ids[i]: k for k, comp in enumerate(components(ev)) for i in comp}


def _draw_markers(ax: Axes, marks: list[tuple[Any, float, str, str, bool, str]], size: float):
    """Draw ``(x, y, marker, kind, filled, stance)``; markers sharing a point spread sideways."""
    fig = ax.figure
    slot: dict[tuple[Any, float], int] = {}
    count: dict[tuple[Any, float], int] = {}
    for x, y, *_ in marks:
        count[(x, round(y, 6))] = count.get((x, round(y, 6)), 0) + 1
    for x, y, marker, _, filled, stance in marks:
        key = (x, round(y, 6))
        j = slot[key] = slot.get(key, -1) + 1
        dx = (j - (count[key] - 1) / 2) * size * 1.1
        color = STANCE_COLORS[stance]
        ax.plot([x], [y], ls="none", marker=marker, ms=size, mec=color, mew=1.3, zorder=4,
                mfc=color if filled else "white",
                transform=offset_copy(ax.transData, fig=fig, x=dx, units="points"))  # fmt: skip


def _timeline_legends(ax: Axes, marks: list[tuple[Any, float, str, str, bool, str]]) -> None:
    colors = [c for c in STANCE_COLORS if c in {m[5] for m in marks}]
    kinds = dict(sorted({(m[3], m[2]) for m in marks}))
    claims = ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.1), title="claim",
                       fontsize=8, title_fontsize=8, frameon=False)  # fmt: skip
    ax.add_artist(claims)
    names = {"signal +1": "signal +1 (for)", "signal -1": "signal -1 (against)"}
    handles = [Line2D([], [], ls="none", marker="o", mfc=STANCE_COLORS[c], mec=STANCE_COLORS[c],
                      label=names.get(c, c)) for c in colors]  # fmt: skip
    handles += [Line2D([], [], ls="none", marker="o", mfc="white", mec="#555555",
                       label="hollow: on a linked claim")]  # fmt: skip
    handles += [Line2D([], [], ls="none", marker=m, color="#555555", label=k)
                for k, m in kinds.items()]  # fmt: skip
    ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(1.0, -0.1), ncol=3,
              title="stance (colour) and source kind (marker)", fontsize=8, title_fontsize=8,
              frameon=False)  # fmt: skip


def plot_timeline(
    case: Case,
    claim_ids: str | Sequence[str] | None = None,
    *,
    config: ExactConfig | None = None,
    ax: Axes | None = None,
    marker_size: float = 7.0,
) -> Axes:
    """Step plot of P(true) of claims over time, evidence marked, ICD 203 bands shaded.

    Each report and signal is marked at its time on the curve of the claim it bears on (filled),
    and hollow on the curves of the other plotted claims it moves through shared sources or a
    group. Colour gives the stance (or signal direction), the marker the source kind. The prior
    (and any untimed evidence) sits just left of the first dated item.

    Parameters
    ----------
    case : Case
    claim_ids : str or sequence of str, optional
        Claims to plot; default all (keep it to a handful for a readable plot).
    config : ExactConfig, optional
        Default ``ExactConfig.from_case(case)``.
    ax : Axes, optional
        Where to draw; a new 10 x 5.5 in figure by default.
    marker_size : float
        Marker size in points.

    Returns
    -------
    Axes

    Examples
    --------
    >>> from belief.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm", "time": "2017-12-19"},
    ...     {"claim_id": "c", "source_id": "b", "stance": "deny", "time": "2017-12-20"}]})
    >>> ax = plot_timeline(case)
    >>> [round(float(y), 2) for y in ax.lines[0].get_ydata()]
    [0.5, 0.65, 0.5, 0.5]
    """
    config = ExactConfig.from_case(case) if config is None else config
    claim_ids = [claim_ids] if isinstance(claim_ids, str) else claim_ids
    claim_ids = list(case.claim_ids if claim_ids is None else claim_ids)
    tl = timeline(case, claim_ids, config)
    x, dated = _step_x(tl)
    ax = _new_ax(ax, (10, 5.5))
    _shade_bands(ax)
    right = x.iloc[-1] + (x.iloc[-1] - x.iloc[0]) * 0.03 if len(x) > 1 else x.iloc[-1] + 1
    for k, cid in enumerate(claim_ids):
        p = tl.loc[tl.claim_id == cid, "p_true"].to_numpy()
        ax.step([*x, right], [*p, p[-1]], where="post", label=cid, lw=2, zorder=3,
                color=_LINE_COLORS[k % 6], ls=_LINE_STYLES[k // 6 % 4])  # fmt: skip
    _mark_events(ax, case, config, tl, x, claim_ids, marker_size)
    ax.set(ylim=(0, 1), xlim=(x.iloc[0], right), ylabel="P(true)")
    ax.set_xlabel("time" if dated else "step")
    if dated:
        import matplotlib.dates as mdates

        loc = mdates.AutoDateLocator()
        ax.xaxis.set(major_locator=loc, major_formatter=mdates.ConciseDateFormatter(loc))
    ax.set_title("Belief timeline: " + ", ".join(claim_ids), loc="left", fontsize=11)
    return ax


def _mark_events(ax, case, config, tl, x, claim_ids, size) -> None:
    events = _events(case)
    comp = _component_of(case, config)
    p = tl.pivot(index="step", columns="claim_id", values="p_true")
    step_of = _step_of_items(tl, events)
    kinds = _kind_markers(events["kind"])
    marks = []
    for ev in events.itertuples():
        k = step_of.get(ev.item_id)
        if k is None:
            continue
        for cid in claim_ids:
            if cid == ev.claim_id or comp.get(cid) == comp.get(ev.claim_id):
                y, filled = float(p.loc[k, cid]), cid == ev.claim_id
                marks.append((x[k], y, kinds[ev.kind], ev.kind, filled, ev.color))
    _draw_markers(ax, marks, size)
    _timeline_legends(ax, marks)


def _step_of_items(tl: pd.DataFrame, events: pd.DataFrame) -> dict[str, int]:
    """Step at which each item entered: the first step with its time (untimed: the NaT step)."""
    steps = tl.drop_duplicates("step")
    out: dict[str, int] = {}
    for ev in events.itertuples():
        hit = steps["time"].isna() if pd.isna(ev.time) else steps["time"] == ev.time
        hit &= steps["step"] > 0
        if hit.any():
            out[ev.item_id] = int(steps.loc[hit, "step"].iloc[0])
    return out


def _item_labels(df: pd.DataFrame) -> list[str]:
    when = [("" if pd.isna(t) else f"{t:%d %b %H:%M}  ") for t in df["time"]]
    return [w + lab for w, lab in zip(when, df["label"])]


def plot_contributions(
    case: Case,
    claim_id: str,
    *,
    config: ExactConfig | None = None,
    value: str = "sequential",
    ax: Axes | None = None,
) -> Axes:
    """Waterfall of the log-odds moves of one claim, from the prior to the posterior.

    One bar per report and signal (time order, top to bottom), from :func:`belief.contributions`.
    With ``value="sequential"`` the bars chain from the prior to the posterior exactly; with
    ``value="loo"`` each bar starts at 0 (leave-one-out effects need not add up). A copy
    (``derived_from``) that adds nothing is drawn as a zero bar labelled as such. The top axis
    reads the log-odds as P(true).

    Parameters
    ----------
    case : Case
    claim_id : str
    config : ExactConfig, optional
    value : {"sequential", "loo"}
    ax : Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> from belief.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm"},
    ...     {"claim_id": "c", "source_id": "b", "stance": "confirm", "derived_from": "a"}]})
    >>> ax = plot_contributions(case, "c")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['prior', 'a confirms c', 'b confirms c (via a)', 'posterior']
    """
    if value not in ("sequential", "loo"):
        raise ValidationError(f"value: expected 'sequential' or 'loo' but got {value!r}")
    df = contributions(case, claim_id, config)
    prior, post = df.attrs["prior_logodds"], df.attrs["posterior_logodds"]
    ax = _new_ax(ax, (10, 0.5 + 0.32 * (len(df) + 2)))
    delta = df[value].to_numpy()
    seq = value == "sequential"
    start = prior + np.concatenate([[0.0], np.cumsum(delta)[:-1]]) if seq else np.zeros(len(df))
    y = np.arange(1, len(df) + 1)
    colors = [_UP if d > 1e-9 else _DOWN if d < -1e-9 else _ZERO for d in delta]
    ax.barh(y, delta, left=start, color=colors, height=0.6, zorder=3)
    if seq:
        ax.barh([0, len(df) + 1], [prior, post], color="#555555", height=0.6, zorder=3)
        for yi, lo in ((0, prior), (len(df) + 1, post)):
            ax.annotate(f"P = {expit(lo):.1%}", (max(lo, 0), yi), xytext=(4, 0), fontsize=8,
                        textcoords="offset points", va="center", weight="bold")  # fmt: skip
    for yi, s, d, copy in zip(y, start, delta, df["is_copy"]):
        zero = abs(d) <= 1e-9
        note = ("copy: adds nothing" if copy else "no effect") if zero else _signed(d)
        ax.plot([s, s], [yi - 0.3, yi + 0.3], color=_ZERO, lw=1.2, zorder=3) if zero else None
        ax.annotate(note, (s + max(d, 0), yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=7.5, color="#444444",
                    style="italic" if zero else "normal")  # fmt: skip
    labels = _item_labels(df)
    ax.set_yticks(range(len(df) + 2), ["prior", *labels, "posterior"], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#333333", lw=0.8)
    what = "sequential: bars chain prior to posterior" if seq else "leave-one-out"
    ax.set_xlabel(f"log-odds of P(true)  ({what})")
    ax.set_title(f"Evidence contributions to {claim_id}", loc="left", fontsize=11)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo - 0.04 * (hi - lo), hi + 0.25 * (hi - lo))  # room for the value labels
    _probability_axis(ax)
    return ax


def _signed(d: float) -> str:
    return f"{d:+.2f}" if abs(d) >= 0.005 else "≈ 0"


def _probability_axis(ax: Axes) -> None:
    top = ax.secondary_xaxis("top", functions=(expit, lambda p: logit(np.clip(p, 1e-9, 1 - 1e-9))))
    lo, hi = ax.get_xlim()
    ticks, last = [], -np.inf
    for p in _P_TICKS:  # greedy: keep ticks at least a tenth of the axis apart
        if lo <= logit(p) <= hi and logit(p) - last >= (hi - lo) / 10:
            ticks.append(p)
            last = logit(p)
    top.set_ticks(ticks)
    top.set_xlabel("P(true)", fontsize=8)
    top.tick_params(labelsize=8)


def _forest_table(table: pd.DataFrame) -> pd.DataFrame:
    """Accept ``sens_mean...`` columns, or the joint model's ``sensitivity, sensitivity_low...``."""
    renames = {f"{long}{suf}": f"{short}_{part}" for long, short in
               (("sensitivity", "sens"), ("specificity", "spec"))
               for suf, part in (("", "mean"), ("_low", "low"), ("_high", "high"))}  # fmt: skip
    t = table.rename(columns={k: v for k, v in renames.items() if v not in table.columns})
    missing = [c for c in ("source_id", "kind", *renames.values()) if c not in t.columns]
    if missing:
        raise ValidationError(f"Required column(s) {', '.join(map(repr, missing))} missing")
    kind = t["kind"].where(t["kind"].notna() & (t["kind"] != ""), "(no kind)")
    return t.assign(kind=kind).sort_values(["kind", "source_id"])


def plot_reliability_forest(
    table: pd.DataFrame, *, ax: Sequence[Axes] | None = None, title: str | None = None
) -> Figure:
    """Forest plot of per-source sensitivity and specificity intervals, grouped by kind.

    Parameters
    ----------
    table : DataFrame
        Columns ``source_id, kind, sens_mean, sens_low, sens_high, spec_mean, spec_low,
        spec_high``: e.g. :func:`reliability_prior_table` (prior intervals) or calibrated
        priors; the joint model's ``reliability_`` (``sensitivity``, ``sensitivity_low``, ...)
        is accepted as is.
    ax : pair of Axes, optional
        The sensitivity and specificity panels; a new figure by default.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"source_id": ["a", "b"], "kind": ["media", "blog"],
    ...     "sens_mean": [.7, .6], "sens_low": [.4, .3], "sens_high": [.9, .85],
    ...     "spec_mean": [.6, .5], "spec_low": [.3, .2], "spec_high": [.85, .8]})
    >>> fig = plot_reliability_forest(t)
    >>> [a.get_title() for a in fig.axes]
    ['sensitivity P(confirm | true)', 'specificity P(deny | false)']
    """
    t = _forest_table(table)
    kinds = list(dict.fromkeys(t["kind"]))
    pos = np.arange(len(t)) + np.array([kinds.index(k) for k in t["kind"]]) * 0.8
    if ax is None:
        fig = Figure(figsize=(9, 1.2 + 0.3 * (len(t) + len(kinds))), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
    else:
        axes, fig = list(ax), ax[0].figure
    cols = [dict(zip(kinds, _LINE_COLORS * 4))[k] for k in t["kind"]]
    names = {"sens": "sensitivity P(confirm | true)", "spec": "specificity P(deny | false)"}
    for a, par in zip(axes, ("sens", "spec")):
        a.hlines(pos, t[f"{par}_low"], t[f"{par}_high"], colors=cols, lw=2)
        a.scatter(t[f"{par}_mean"], pos, c=cols, s=25, zorder=3)
        a.axvline(0.5, color="#888888", ls=":", lw=1)
        a.set(xlim=(0, 1))
        a.set_title(names[par], fontsize=10)
    labels = [f"{s}  [{k}]" for s, k in zip(t["source_id"], t["kind"])]
    axes[0].set_yticks(pos, labels, fontsize=8)
    axes[0].set_ylim(pos.max() + 0.7, -0.7)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_reliability_diagram(
    p: ArrayLike, y: ArrayLike, *, n_bins: int = 10, ax: Axes | None = None
) -> Axes:
    """Reliability diagram: observed frequency of true claims per bin of predicted P(true).

    Bin counts are drawn as bars against the right axis; the title gives the Brier score and
    the expected calibration error (from :mod:`belief.scoring`).

    Examples
    --------
    >>> ax = plot_reliability_diagram([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], n_bins=5)
    >>> ax.get_title()
    'Reliability diagram: Brier 0.025, ECE 0.150 (n = 4)'
    """
    from belief import scoring

    table = scoring.reliability_table(p, y, n_bins)
    brier, ece = scoring.brier(p, y), scoring.ece(p, y, n_bins)
    ax = _new_ax(ax, (6, 5.5))
    counts = ax.twinx()
    width = table["bin_high"] - table["bin_low"]
    counts.bar(table["bin_low"], table["count"], width=width, align="edge", color="#000000",
               alpha=0.1, edgecolor="#666666")  # fmt: skip
    top = int(table["count"].max())
    counts.set_ylim(0, top * 4)  # bars fill the bottom quarter
    counts.set_yticks([0, top])
    counts.set_ylabel("claims per bin", fontsize=8, color="#666666")
    counts.tick_params(labelsize=8, colors="#666666")
    ax.plot([0, 1], [0, 1], ls="--", color="#888888", lw=1, label="perfect calibration")
    ax.plot(table["mean_predicted"], table["observed_frequency"], "o-", color=_UP,
            label="observed")  # fmt: skip
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted P(true)", ylabel="observed frequency true")
    ax.legend(loc="upper left", fontsize=8)
    n = int(table["count"].sum())
    ax.set_title(f"Reliability diagram: Brier {brier:.3f}, ECE {ece:.3f} (n = {n})", fontsize=10)
    return ax


def plot_what_if(
    case: Case,
    claim_ids: str | Sequence[str],
    *,
    source: str | None = None,
    kind: str | None = None,
    param: str = "both",
    values: ArrayLike | None = None,
    config: ExactConfig | None = None,
    ax: Axes | None = None,
) -> Axes:
    """P(true) of claims as one source's (or kind's) prior reliability is varied.

    See :func:`what_if_table` for the parameters; the current prior mean(s) are marked with
    dotted lines, the ICD 203 bands shaded.

    Examples
    --------
    >>> from belief.io import case_from_records
    >>> case = case_from_records({"sources": [{"source_id": "a", "kind": "blog"}],
    ...     "reports": [{"claim_id": "c", "source_id": "a", "stance": "confirm"}]})
    >>> ax = plot_what_if(case, "c", kind="blog", values=[0.5, 0.7, 0.9])
    >>> [round(float(v), 2) for v in ax.lines[0].get_ydata()]
    [0.5, 0.7, 0.9]
    """
    table = what_if_table(case, claim_ids, source=source, kind=kind, param=param,
                          values=values, config=config)  # fmt: skip
    ax = _new_ax(ax, (7, 4.5))
    _shade_bands(ax)
    for k, (cid, g) in enumerate(table.groupby("claim_id", sort=False)):
        ax.plot(g["value"], g["p_true"], marker="o", ms=3.5, lw=2, label=cid,
                color=_LINE_COLORS[k % 6], ls=_LINE_STYLES[k // 6 % 4])  # fmt: skip
    styles = {"sensitivity": ":", "specificity": "--"}
    for name, v in table.attrs["current"].items():
        ax.axvline(v, color="#444444", ls=styles[name], lw=1, label=f"current {name}")
    who = f"source '{source}'" if source is not None else f"kind '{kind}'"
    label = "sensitivity = specificity" if param == "both" else param
    ax.set(ylim=(0, 1), ylabel="P(true)", xlabel=f"prior mean {label} of {who}")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"What if {who} were more or less reliable?", loc="left", fontsize=11)
    return ax


def plot_ach(matrix: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw an ACH matrix from :func:`belief.ach.ach_matrix`: evidence x hypotheses.

    Cells are coloured by how much less likely the item is under each hypothesis than under
    the one it fits best (``cell - row max``, in log units: white = most consistent, darker
    red = more inconsistent) and show the log-likelihood itself. Rows are in the matrix's order
    (most diagnostic first); the foot row gives each hypothesis' posterior probability.

    Examples
    --------
    >>> from belief.io import case_from_records
    >>> from belief.ach import ach_matrix
    >>> case = case_from_records({
    ...     "claims": [{"claim_id": "a", "group": "g"}, {"claim_id": "b", "group": "g"}],
    ...     "reports": [{"claim_id": "a", "source_id": "s", "stance": "confirm"}]})
    >>> ax = plot_ach(ach_matrix(case, "g"))
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b', 'none of these']
    """
    hyps = list(matrix.attrs["hypotheses"])
    body = matrix.drop(index="posterior")
    vals = body[hyps].to_numpy(dtype=float)
    rel = vals - vals.max(axis=1, keepdims=True) if len(vals) else vals
    n, m = vals.shape
    width = 1.0 + 1.1 * m + 0.065 * max(body["label"].str.len().max(), 24) if n else 4.0
    ax = _new_ax(ax, (width, 1.6 + 0.3 * (n + 1)))
    scale = max(1.0, float(-rel.min())) if n else 1.0
    ax.imshow(np.vstack([rel, np.zeros((1, m))]), cmap="Reds_r", vmin=-1.5 * scale, vmax=0,
              aspect="auto", extent=(-0.5, m - 0.5, n + 0.5, -0.5))  # fmt: skip
    for i in range(n):
        for j in range(m):
            dark = rel[i, j] < -0.5 * scale
            ax.text(j, i, f"{vals[i, j]:.2f}", ha="center", va="center", fontsize=7.5,
                    color="white" if dark else "#222222")  # fmt: skip
    ax.axhspan(n - 0.5, n + 0.5, color="#F0F0F0", zorder=2)
    for j, h in enumerate(hyps):
        ax.text(j, n, f"{matrix.loc['posterior', h]:.1%}", ha="center", va="center",
                fontsize=8.5, weight="bold", zorder=3)  # fmt: skip
    ax.axhline(n - 0.5, color="#333333", lw=1.2, zorder=3)
    ax.set_xticks(range(m), hyps, fontsize=8.5)
    ax.xaxis.tick_top()
    ax.set_yticks(range(n + 1), [*body["label"], "posterior P(hypothesis)"], fontsize=8)
    ax.get_yticklabels()[-1].set_weight("bold")
    ax.set_ylim(n + 0.5, -0.5)
    ax.tick_params(length=0)
    ax.set_xlabel("colour: log-likelihood below the row's best-fitting hypothesis (white = best)",
                  fontsize=8)  # fmt: skip
    ax.set_title(f"ACH: {matrix.attrs['group']} (rows by diagnosticity; cell = log-likelihood)",
                 loc="left", fontsize=10, pad=22)  # fmt: skip
    return ax


def reliability_prior_table(
    case: Case, config: ExactConfig | None = None, *, level: float = 0.9
) -> pd.DataFrame:
    """Prior mean and central ``level`` interval of every source's sensitivity and specificity.

    Priors are those the engines use: ``config.source_priors`` (e.g. calibrated) where given,
    else :func:`belief.reliability.resolve_source_prior` (own values, Admiralty grade, kind,
    default). Intervals are Beta quantiles. The table feeds :func:`plot_reliability_forest`.

    Examples
    --------
    >>> from belief.io import case_from_records
    >>> case = case_from_records({"sources": [{"source_id": "a", "admiralty": "B"}],
    ...     "reports": [{"claim_id": "c", "source_id": "a", "stance": "confirm"}]})
    >>> reliability_prior_table(case)[["source_id", "sens_mean", "sens_low"]].round(3)
      source_id  sens_mean  sens_low
    0         a       0.85     0.659
    """
    from scipy.stats import beta

    config = ExactConfig.from_case(case) if config is None else config
    tail = (1.0 - level) / 2
    rows = []
    for sid, src in case.source_map().items():
        sp = config.source_priors.get(sid) or resolve_source_prior(
            src, config.kind_priors, config.default_prior
        )
        row: dict[str, Any] = {"source_id": sid, "kind": src.kind, "side": src.side}
        for key, b in (("sens", sp.sensitivity), ("spec", sp.specificity)):
            lo, hi = beta.ppf([tail, 1 - tail], b.alpha, b.beta)
            row |= {f"{key}_mean": b.mean, f"{key}_low": lo, f"{key}_high": hi}
        rows.append(row | {"strength": sp.sensitivity.strength})
    return pd.DataFrame(rows)


def _swept(config: ExactConfig, case: Case, who: tuple[str, str], param: str, v: float):
    """``config`` with the reliability prior of ``who = (what, id)`` set to mean ``v``."""
    keys = ("sensitivity", "specificity") if param == "both" else (param,)
    what, name = who
    if what == "kind":
        entry = dict(config.kind_priors.get(name, {})) | dict.fromkeys(keys, v)
        return dataclasses.replace(config, kind_priors={**config.kind_priors, name: entry})
    base = _current_prior(config, case, who)
    new = {k: BetaPrior.from_mean_strength(v, getattr(base, k).strength) for k in keys}
    priors = {**config.source_priors, name: dataclasses.replace(base, **new)}
    return dataclasses.replace(config, source_priors=priors)


def _current_prior(config: ExactConfig, case: Case, who: tuple[str, str]) -> SourcePrior:
    what, name = who
    src = Source("(kind default)", kind=name) if what == "kind" else case.source_map()[name]
    if what == "source" and name in config.source_priors:
        return config.source_priors[name]
    return resolve_source_prior(src, config.kind_priors, config.default_prior)


def _who(case: Case, source: str | None, kind: str | None) -> tuple[str, str]:
    if (source is None) == (kind is None):
        raise ValidationError("give exactly one of source= or kind=")
    if source is not None:
        known = sorted(case.source_map())
        if source not in known:
            raise ValidationError(f"unknown source {source!r}; known: {', '.join(known)}")
        return ("source", source)
    kinds = sorted({s.kind for s in case.source_map().values() if s.kind is not None})
    if kind not in kinds:
        raise ValidationError(f"unknown kind {kind!r}; kinds in the case: {', '.join(kinds)}")
    return ("kind", str(kind))


def what_if_table(
    case: Case,
    claim_ids: str | Sequence[str],
    *,
    source: str | None = None,
    kind: str | None = None,
    param: str = "both",
    values: ArrayLike | None = None,
    config: ExactConfig | None = None,
) -> pd.DataFrame:
    """P(true) of claims as the prior reliability of one source or one kind is varied.

    The prior mean of the sensitivity, the specificity, or both (``param="both"``: set equal)
    takes each of ``values`` (default 0.05, 0.10, ..., 0.95), its strength kept. ``source``
    replaces that source's priors (through ``source_priors``); ``kind`` changes the kind default
    (``kind_priors``), which applies to sources of that kind with no reliability of their own
    (own values, Admiralty grade, calibrated ``source_priors`` take precedence). A copy with
    ``copy_weight`` 0 carries no weight, so its source's reliability does not matter.

    Returns
    -------
    DataFrame
        ``value, claim_id, p_true``; ``attrs["current"]`` maps ``sensitivity``/``specificity``
        to their current prior means.

    Examples
    --------
    >>> from belief.io import case_from_records
    >>> case = case_from_records({"sources": [{"source_id": "a", "kind": "blog"}],
    ...     "reports": [{"claim_id": "c", "source_id": "a", "stance": "confirm"}]})
    >>> what_if_table(case, "c", source="a", values=[0.5, 0.8]).round(3).values.tolist()
    [[0.5, 'c', 0.5], [0.8, 'c', 0.8]]
    """
    if param not in ("both", "sensitivity", "specificity"):
        raise ValidationError(
            f"param: expected one of both, sensitivity, specificity but got {param!r}"
        )
    config = ExactConfig.from_case(case) if config is None else config
    claim_ids = [claim_ids] if isinstance(claim_ids, str) else list(claim_ids)
    who = _who(case, source, kind)
    values = np.round(np.linspace(0.05, 0.95, 19), 2) if values is None else np.asarray(values)
    rows = []
    for v in values:
        result = infer(case, _swept(config, case, who, param, float(v)))
        rows += [(float(v), c, result.p(c)) for c in claim_ids]
    out = pd.DataFrame(rows, columns=["value", "claim_id", "p_true"])
    cur = _current_prior(config, case, who)
    keys = ("sensitivity", "specificity") if param == "both" else (param,)
    out.attrs["current"] = {k: getattr(cur, k).mean for k in keys}
    return out
