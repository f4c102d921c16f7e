"""Draw the README's figure: the belief timeline of the Khasham seed case.

Run from anywhere (paths are relative to the repository)::

    python scripts/make_readme_figure.py            # writes docs/images/khasham_timeline.png
    python scripts/make_readme_figure.py --out x.png

The figure is drawn by :func:`belief.plots.plot_timeline` from ``seeds/khasham.yaml``: the two
competing claims of the ``khasham_control`` group, every report and signal marked at its time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from belief.data.io import atomic_path, read_case
from belief.plots import plot_timeline

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "khasham.yaml"
OUT = ROOT / "docs" / "images" / "khasham_timeline.png"
CLAIMS = ("handover", "army_holds_khasham")


def make_figure(out: Path = OUT, dpi: int = 110) -> Path:
    """Draw the timeline of the seed case's ``khasham_control`` group and save it as PNG."""
    ax = plot_timeline(read_case(SEED), list(CLAIMS))
    ax.set_title(
        "Khasham, December 2017: did the Syrian army hand the village to the SDF?",
        loc="left",
        fontsize=11,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        ax.figure.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    return out


def main() -> None:
    """Command line: ``--out`` (default docs/images/khasham_timeline.png), ``--dpi``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args()
    print(f"wrote {make_figure(args.out, args.dpi)}")


if __name__ == "__main__":
    main()
