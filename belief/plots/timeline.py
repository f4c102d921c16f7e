"""Belief timeline figure: step plot of P(true) over time, with the evidence marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import offset_copy

from belief.core.compiler import compile_case
from belief.data.types import Case
from belief.engines.exact import components
from belief.explain.timeline import timeline
from belief.plots._common import (
    _LINE_COLORS,
    _LINE_STYLES,
    STANCE_COLORS,
    _figure,
    _kind_markers,
    _new_ax,
    _shade_bands,
)
from belief.priors.config import Config

__all__ = ["plot_timeline"]


def _events(case: Case) -> pd.DataFrame:
    """One row per report and signal: id, claim, time, colour key, kind."""
    smap = case.source_map()
    rows: list[tuple[Any, ...]] = [
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


def _component_of(case: Case, config: Config) -> dict[str, int]:
    ev = compile_case(case, config)
    return {ev.claim_ids[i]: k for k, comp in enumerate(components(ev)) for i in comp}


def _draw_markers(ax: Axes, marks: list[tuple[Any, float, str, str, bool, str]], size: float):
    """Draw ``(x, y, marker, kind, filled, stance)``; markers sharing a point spread sideways."""
    fig = _figure(ax)
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
    config: Config | None = None,
    ax: Axes | None = None,
    marker_size: float = 7.0,
) -> Figure:
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
    config : Config, optional
        Default ``Config.from_case(case)``.
    ax : Axes, optional
        Where to draw; a new 10 x 5.5 in figure by default.
    marker_size : float
        Marker size in points.

    Returns
    -------
    Figure
        The figure drawn on (``ax.figure`` when ``ax`` is given).

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm", "time": "2017-12-19"},
    ...     {"claim_id": "c", "source_id": "b", "stance": "deny", "time": "2017-12-20"}]})
    >>> ax = plot_timeline(case).axes[0]
    >>> [round(float(y), 2) for y in ax.lines[0].get_ydata()]
    [0.5, 0.65, 0.5, 0.5]
    """
    config = Config.from_case(case) if config is None else config
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
    return _figure(ax)


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
