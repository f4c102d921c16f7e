"""Rendering of a report's content: :class:`Block` and its HTML and Markdown forms.

:func:`belief.report.build.build_report` assembles a report as a list of :class:`Block`; this module
turns such a list into text. HTML is one self-contained page (inline style sheet, figures as
base64 ``data:`` URIs); Markdown links each figure through the ``image`` callable, which
:func:`_image_writer` makes: a ``data:`` URI, or a PNG written atomically to ``<stem>_files/``.
No plotting happens here; figures arrive as PNG bytes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from belief.data.io import atomic_path


@dataclass(frozen=True)
class Block:
    """One element of a report: ``kind`` is h2, h3, p, list, table or figure."""

    kind: str
    content: Any
    name: str = ""


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0;font-size:.85em}td,th{border:1px solid
#ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f2f2f2}img{max-width:
100%;display:block;margin:1em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}"""


def _html(title: str, blocks: list[Block]) -> str:
    """The blocks as one self-contained HTML page: inline style sheet, figures as data URIs."""
    esc = html.escape
    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{esc(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{esc(title)}</h1>"]  # fmt: skip
    for b in blocks:
        if b.kind in ("h2", "h3", "p"):
            parts.append(f"<{b.kind}>{esc(b.content)}</{b.kind}>")
        elif b.kind == "list":
            parts.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in b.content) + "</ul>")
        elif b.kind == "table":
            parts.append(b.content.to_html(index=False, escape=True, border=0))
        else:
            data = base64.b64encode(b.content).decode("ascii")
            parts.append(f"<img alt='{esc(b.name)}' src='data:image/png;base64,{data}'>")
    return "\n".join([*parts, "</body></html>\n"])


def _md_cell(value: Any) -> str:
    return html.escape(str(value), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_table(df: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(_md_cell, df.columns)) + " |"]
    lines.append("|" + "---|" * len(df.columns))
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _markdown(title: str, blocks: list[Block], image: Callable[[Block], str]) -> str:
    """The blocks as Markdown; ``image(block)`` gives each figure's link target."""
    parts = [f"# {title}"]
    for b in blocks:
        if b.kind == "h2" or b.kind == "h3":
            parts.append(("## " if b.kind == "h2" else "### ") + b.content)
        elif b.kind == "p":
            parts.append(b.content)
        elif b.kind == "list":
            parts.append("\n".join(f"- {x}" for x in b.content))
        elif b.kind == "table":
            parts.append(_md_table(b.content))
        else:
            parts.append(f"![{b.name}]({image(b)})")
    return "\n\n".join(parts) + "\n"


def _image_writer(path: Path, embed: bool) -> Callable[[Block], str]:
    """How a Markdown report refers to a figure: a data URI, or a PNG written next to it."""
    folder = path.with_name(f"{path.stem}_files")

    def image(b: Block) -> str:
        if embed:
            return "data:image/png;base64," + base64.b64encode(b.content).decode("ascii")
        folder.mkdir(exist_ok=True)
        with atomic_path(folder / f"{b.name}.png") as tmp:
            tmp.write_bytes(b.content)
        return f"{folder.name}/{b.name}.png"

    return image
