"""Evidence figures: the log-odds waterfall of one claim, and the ACH matrix of a group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.special import expit, logit

from belief.data.types import Case
from belief.exceptions import ValidationError
from belief.explain.timeline import contributions
from belief.plots._common import _DOWN, _UP, _ZERO, _figure, _new_ax
from belief.priors.config import Config

__all__ = ["plot_ach", "plot_contributions"]

_P_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99,
            0.999)  # fmt: skip


def _item_labels(df: pd.DataFrame) -> list[str]:
    when = [("" if pd.isna(t) else f"{t:%d %b %H:%M}  ") for t in df["time"]]
    return [w + lab for w, lab in zip(when, df["label"])]


def plot_contributions(
    case: Case,
    claim_id: str,
    *,
    config: Config | None = None,
    value: str = "sequential",
    ax: Axes | None = None,
) -> Figure:
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
    config : Config, optional
    value : {"sequential", "loo"}
    ax : Axes, optional

    Returns
    -------
    Figure
        The figure drawn on (``ax.figure`` when ``ax`` is given).

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> case = case_from_records({"reports": [
    ...     {"claim_id": "c", "source_id": "a", "stance": "confirm"},
    ...     {"claim_id": "c", "source_id": "b", "stance": "confirm", "derived_from": "a"}]})
    >>> ax = plot_contributions(case, "c").axes[0]
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
        for y_end, lo in ((0, prior), (len(df) + 1, post)):
            ax.annotate(f"P = {expit(lo):.1%}", (max(lo, 0), y_end), xytext=(4, 0), fontsize=8,
                        textcoords="offset points", va="center", fontweight="bold")  # fmt: skip
    for y_bar, s, d, copy in zip(y, start, delta, df["is_copy"]):
        yi: float = float(y_bar)
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
    return _figure(ax)


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


def plot_ach(matrix: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Draw an ACH matrix from :func:`belief.explain.ach.ach_matrix`: evidence x hypotheses.

    Cells are coloured by how much less likely the item is under each hypothesis than under
    the one it fits best (``cell - row max``, in log units: white = most consistent, darker
    red = more inconsistent) and show the log-likelihood itself. Rows are in the matrix's order
    (most diagnostic first); the foot row gives each hypothesis' posterior probability.

    Examples
    --------
    >>> from belief.data.io import case_from_records
    >>> from belief.explain.ach import ach_matrix
    >>> case = case_from_records({
    ...     "claims": [{"claim_id": "a", "group": "g"}, {"claim_id": "b", "group": "g"}],
    ...     "reports": [{"claim_id": "a", "source_id": "s", "stance": "confirm"}]})
    >>> ax = plot_ach(ach_matrix(case, "g")).axes[0]
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
    ax.get_yticklabels()[-1].set_fontweight("bold")
    ax.set_ylim(n + 0.5, -0.5)
    ax.tick_params(length=0)
    ax.set_xlabel("colour: log-likelihood below the row's best-fitting hypothesis (white = best)",
                  fontsize=8)  # fmt: skip
    ax.set_title(f"ACH: {matrix.attrs['group']} (rows by diagnosticity; cell = log-likelihood)",
                 loc="left", fontsize=10, pad=22)  # fmt: skip
    return _figure(ax)
