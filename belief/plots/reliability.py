"""Reliability figures: source reliability forest, reliability diagram, what-if sweep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from belief.data.types import Case
from belief.exceptions import ValidationError
from belief.explain.sensitivity import what_if_table
from belief.plots._common import _LINE_COLORS, _LINE_STYLES, _UP, _figure, _new_ax, _shade_bands
from belief.priors.config import Config

__all__ = ["plot_reliability_diagram", "plot_reliability_forest", "plot_what_if"]


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
        spec_high``: e.g. :func:`belief.explain.sensitivity.reliability_prior_table` (prior
        intervals) or calibrated priors; the joint model's ``reliability_`` (``sensitivity``,
        ``sensitivity_low``, ...) is accepted as is.
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
        axes, fig = list(ax), _figure(ax[0])
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
    y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10, ax: Axes | None = None
) -> Figure:
    """Reliability diagram: observed frequency of true claims per bin of predicted P(true).

    Bin counts are drawn as bars against the right axis; the title gives the Brier score and
    the expected calibration error (from :mod:`belief.evaluation.scoring`).

    Examples
    --------
    >>> fig = plot_reliability_diagram([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bins=5)
    >>> fig.axes[0].get_title()
    'Reliability diagram: Brier 0.025, ECE 0.150 (n = 4)'
    """
    from belief.evaluation import scoring

    p, y = y_prob, y_true
    table = scoring.reliability_table(y, p, n_bins)
    brier, ece = scoring.brier(y, p), scoring.ece(y, p, n_bins)
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
    return _figure(ax)


def plot_what_if(
    case: Case,
    claim_ids: str | Sequence[str],
    *,
    source: str | None = None,
    kind: str | None = None,
    param: str = "both",
    values: ArrayLike | None = None,
    config: Config | None = None,
    ax: Axes | None = None,
) -> Figure:
    """P(true) of claims as one source's (or kind's) prior reliability is varied.

    See :func:`belief.explain.sensitivity.what_if_table` for the parameters; the current prior
    mean(s) are marked with dotted lines, the ICD 203 bands shaded.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"sources": [{"source_id": "a", "kind": "blog"}],
    ...     "reports": [{"claim_id": "c", "source_id": "a", "stance": "confirm"}],
    ...     "config": {"base_rate": 0.5}})  # a flat prior: P(true) = the sensitivity
    >>> ax = plot_what_if(case, "c", kind="blog", values=[0.5, 0.7, 0.9]).axes[0]
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
    return _figure(ax)
