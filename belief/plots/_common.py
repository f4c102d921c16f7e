"""Shared styling of :mod:`belief.plots`: palette, markers, new Axes, ICD 203 band shading.

Colours follow the Okabe–Ito palette (readable with colour-blindness): a confirm is blue, a deny
vermillion, a neutral report grey, a signal bluish green (+1) or reddish purple (-1).
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from belief.core.verbal import ICD203_EDGES, ICD203_TERMS

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


def _new_ax(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").add_subplot()


def _figure(ax: Axes) -> Figure:
    """The top-level Figure an Axes lives on (what every plot function returns)."""
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    return fig


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
